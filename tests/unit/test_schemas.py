"""One schema per concept: the tools' specs, the API, the dashboard and the SDK share the classes."""

from __future__ import annotations

import datetime as dt

import fedpe.api.schemas as api
import fedpe.schemas as shared
import fedpe.sdk as sdk
from flows.spec import TaskSpec, ToolSpec


def test_the_api_the_sdk_and_the_specs_use_the_same_classes() -> None:
    assert (ToolSpec, TaskSpec) == (shared.Tool, shared.Task)
    assert api.Tool is sdk.Tool is shared.Tool and api.Task is sdk.Task is shared.Task
    assert api.Host is sdk.Host is shared.Host and api.TaskStatus is sdk.TaskStatus is shared.TaskStatus
    assert issubclass(sdk.Execution, api.Execution) and api.Execution is shared.Execution
    assert issubclass(sdk.ExecutionPage, api.ExecutionPage)


def test_times_are_sent_as_the_api_always_wrote_them() -> None:
    # Prepare
    created = dt.datetime(2026, 1, 2, 3, 4, 5, 120, tzinfo=dt.timezone.utc)

    # Execute
    sent = shared.ExecutionSummary(id="e1", created_at=created.isoformat()).model_dump(mode="json")

    # Assert
    assert sent["created_at"] == created.isoformat() == "2026-01-02T03:04:05.000120+00:00"
    assert sent["execution_id"] == "e1" and sent["ended_at"] is None


def test_the_api_documents_every_field_it_sends_as_required() -> None:
    schema = shared.Execution.model_json_schema(mode="serialization")

    assert {"id", "execution_id", "created_at", "prefect_state", "statuses", "history"} <= set(schema["required"])


def test_fems_execution_id_and_the_id_fill_each_other() -> None:
    assert shared.ExecutionSummary.model_validate({"execution_id": "e2"}).id == "e2"
    assert shared.ExecutionSummary.model_validate({"id": "e3"}).execution_id == "e3"


def test_the_control_words_are_one_list() -> None:
    assert shared.EXECUTION_CONTROLS == ("pause", "resume", "stop", "abort")
    assert api.ControlRequest.model_fields["action"].annotation == shared.ExecutionControl
