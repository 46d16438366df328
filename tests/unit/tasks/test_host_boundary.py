"""The boundary a host operator reads: what runs on a host imports neither Prefect, MLflow, the
output store nor the coordinator's side of roles, and every role it plays is a `Role`."""

import subprocess
import sys

PROBE = """
import importlib, pkgutil, sys
import tasks.host
for module in pkgutil.iter_modules(tasks.host.__path__, "tasks.host."):
    importlib.import_module(module.name)
print("\\n".join(sorted(sys.modules)))
"""

FORBIDDEN = ("prefect", "mlflow", "blocks", "fsspec", "s3fs", "tasks.coordinator", "flows", "deployments",
             "fedpe.api", "fedpe.stack", "fedpe.cli")


def test_the_host_package_imports_no_prefect_mlflow_store_or_coordinator():
    loaded = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True)
    modules = loaded.stdout.split()

    assert "tasks.host.runtime" in modules and "tasks.host.client" in modules  # the probe did import the package
    leaked = [m for m in modules if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]
    assert leaked == []


def test_every_role_a_host_plays_is_a_role_with_its_calls_declared():
    from tasks.host.role import Role
    from tasks.host.runtime import role_classes

    classes = role_classes()

    assert set(classes) == {"flcore-server", "flcore-client", "health-check", "fed-stats"}
    for task, cls in classes.items():
        assert issubclass(cls, Role) and cls.TASK_ID == task
        callable_methods = cls.PEER_METHODS | cls.COORDINATOR_METHODS
        assert all(callable(getattr(cls, m, None)) for m in callable_methods), task
        assert cls.AUDITED_METHODS <= callable_methods, task
        assert not callable_methods & {"run", "close", "methods_for", "__init__"}, task  # hooks are not calls


def test_a_role_answers_the_coordinator_and_its_own_server_only():
    from tasks.host.role import Role
    from tasks.wire.identity import Identity

    class Probe(Role):
        TASK_ID = "probe"
        PEER_METHODS = frozenset({"fit"})
        COORDINATOR_METHODS = frozenset({"leave"})

        def run(self) -> dict:
            return {}

    context = type("Context", (), {"spec": type("Spec", (), {"server": "hospital-a"})(), "peers": None})()
    role = Probe(context)

    assert role.methods_for(Identity("coordinator", "fedpe-coordinator")) == {"leave"}
    assert role.methods_for(Identity("host", "hospital-a")) == {"fit"}
    assert role.methods_for(Identity("host", "hospital-b")) == frozenset()
    assert role.methods_for(Identity("scheduler", "fedpe-scheduler")) == frozenset()
