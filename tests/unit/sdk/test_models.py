"""The SDK's earlier attribute names still read, with a `DeprecationWarning`, for one release."""

from __future__ import annotations

import pytest

import fedpe.sdk
from fedpe.sdk import Execution, Task

BODY = {"id": "e1", "execution_id": "e1", "status": "running", "prefect_state": "Running",
        "created_at": "2026-01-02T03:04:05+00:00", "started_at": None, "ended_at": None,
        "statuses": [{"node": "hospital-a", "task": "health-check", "status": "running", "state": "pending"}]}


@pytest.mark.parametrize(("old", "new"), [("created", "created_at"), ("started", "started_at"), ("ended", "ended_at"),
                                          ("state", "prefect_state"), ("entries", "statuses")])
def test_an_earlier_attribute_name_warns_and_reads_the_new_one(old: str, new: str) -> None:
    job = Execution.model_validate(BODY)

    with pytest.warns(DeprecationWarning, match=f"`Execution.{new}`"):
        value = getattr(job, old)

    assert value == getattr(job, new)


def test_the_earlier_keys_are_read_and_dumped_beside_the_new_ones() -> None:
    # Prepare
    earlier = {"id": "e1", "state": "Running", "created": "2026-01-02T03:04:05+00:00",
               "entries": [{"node": "hospital-a", "task": "t", "status": "completed"}]}

    # Execute
    dumped = Execution.model_validate(earlier).model_dump(mode="json")

    # Assert
    assert dumped["prefect_state"] == dumped["state"] == "Running"
    assert dumped["created_at"] == dumped["created"] == "2026-01-02T03:04:05+00:00"
    assert dumped["statuses"] == dumped["entries"] and dumped["statuses"][0]["node"] == "hospital-a"


def test_tool_task_is_the_deprecated_name_of_task() -> None:
    with pytest.warns(DeprecationWarning, match="fedpe.sdk.Task"):
        assert fedpe.sdk.ToolTask is Task
