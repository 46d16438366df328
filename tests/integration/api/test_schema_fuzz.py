"""schemathesis against /openapi.json with a real API key: no request may produce a 5xx.

Every operation gets valid and invalid (negative) requests; the failures of all operations are
gathered before the test fails, so one run shows them all.
"""

import json
import os
import subprocess
import sys
import time
import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

pytestmark = pytest.mark.integration

EXAMPLES = 15


def test_no_request_produces_a_server_error(stack):
    out = subprocess.run([sys.executable, "-m", "fedpe.cli", "users", "add", f"fuzz-{uuid.uuid4().hex[:8]}", "--json"],
                         capture_output=True, text=True, timeout=60, check=True,
                         env={**os.environ, "FEDPE_HOME": str(stack.config.home)})
    headers = {"Authorization": f"Bearer {json.loads(out.stdout)['api_key']}"}
    schema = schemathesis.openapi.from_url(f"{stack.config.api_url}/openapi.json")
    failures, calls, started = [], [0], time.monotonic()

    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @given(case=operation.as_strategy(mode))
            @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                      derandomize=True, database=None)
            def call(case):
                calls[0] += 1
                case.call_and_validate(headers=headers, checks=[not_a_server_error], timeout=30)

            try:
                call()
            except Unsatisfiable:  # no invalid request exists (an operation without parameters)
                continue
            except Exception as exc:  # noqa: BLE001 - gathered and reported below
                failures.append(f"{operation.label} [{mode.value}]: {str(exc)[:600]}")

    print(f"{calls[0]} requests in {time.monotonic() - started:.1f} s")
    assert calls[0] > 200
    assert not failures, "\n\n".join(failures)
