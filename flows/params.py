"""Parameter types shared by every tool's signature, so the Prefect form, the API and the CLI agree."""

from typing import Annotated

from pydantic import Field

HostName = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
                                description="Name of a connected host.")]
DatasetName = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
                                   description="Name of a dataset in each host's catalogue.")]
