"""What a tool is, for the API's `/tools` and `/tasks`: its roles, its mode, its parameters.

A tool module writes its spec as `TOOL = ToolSpec(...)` with `TaskSpec`s: the very classes the
API sends, the dashboard shows and the SDK reads (`fedpe.schemas.Tool` and `fedpe.schemas.Task`,
one definition of each), so a field has one name from the spec to the client.
"""

from __future__ import annotations

from fedpe.schemas import Task as TaskSpec
from fedpe.schemas import Tool as ToolSpec

__all__ = ["TaskSpec", "ToolSpec"]
