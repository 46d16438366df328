"""Where MLflow tracking and the model registry live."""

from prefect.blocks.core import Block
from pydantic import Field


class Tracking(Block):
    """MLflow URIs every process of the federation uses (always the tracking server's http URI)."""

    _block_type_name = "fedpe Tracking"
    _block_type_slug = "fedpe-tracking"
    _description = "MLflow tracking and registry URIs of a fedpe federation."

    tracking_uri: str = Field(description="MLflow tracking server URI, e.g. http://127.0.0.1:5000.")
    registry_uri: str | None = Field(default=None, description="Model registry URI (defaults to tracking).")
