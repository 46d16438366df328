"""Parameter types shared by every tool's signature, so the Prefect form, the API and the CLI agree."""

from typing import Annotated

from pydantic import Field

#: What a host may be called (`fedpe host start --name` refuses anything else): letters, digits,
#: '-', '_', '.'; 1-63 characters, starting with a letter or digit.
HOST_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"

HostName = Annotated[str, Field(min_length=1, max_length=63, pattern=HOST_NAME_PATTERN,
                                description="Name of a connected host.")]
DatasetName = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
                                   description="Name of a dataset in each host's catalogue.")]
