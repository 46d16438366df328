"""What every new FEDPE_HOME would otherwise make again, made once per machine and copied in.

- Prefect's database: a new SQLite database runs every one of Prefect's migrations on the
  server's first start (on a busy machine here: healthy after 20.5 s on a new database, 4.8 s on
  a copy of one migrated; `prefect server database upgrade` alone took 8 s). `prefect_database` copies in an empty database
  that the same Prefect version migrated once (`prefect server database upgrade`).
- MLflow's tracking database: the same for MLflow's migrations, which its server runs on a new
  database before it serves (about 1.1 s of CPU of `fedpe up`: `mlflow db upgrade` took 4.39 s
  of CPU on a new database, 3.26 s on a migrated one). `mlflow_database` copies in an empty
  database that `mlflow db upgrade` of the same MLflow version migrated once.
- The demo hosts' data: writing it imports scikit-learn and pandas and writes every host's
  files (seconds of CPU on the critical path of `fedpe up`). The files are deterministic in
  their arguments, so `demo_data` keeps one written copy per set of arguments, its catalogue
  descriptions included, and copies it (modification times kept, so the description still
  matches the files).

All three live under `$XDG_CACHE_HOME/fedpe` (`~/.cache/fedpe`), hold nothing secret, and may be
deleted at any time: whatever is missing is made again. Each entry appears whole or not at all
(made in a temporary name, then renamed), so two `fedpe up` at once never see half of one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger("fedpe.stack")

#: A migration of an empty database takes seconds; far longer means something is wrong, and the
#: server then migrates its own database as it always could.
BUILD_TIMEOUT_S = 300.0


def cache_dir() -> Path:
    """`$XDG_CACHE_HOME/fedpe`, or `~/.cache/fedpe`."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "fedpe"


def _version(package: str) -> str:
    import importlib.metadata

    return importlib.metadata.version(package)


def prefect_template() -> Path:
    """Where the migrated empty database of the installed Prefect version is kept."""
    return cache_dir() / f"prefect-{_version('prefect')}.db"


def mlflow_template() -> Path:
    """Where the migrated empty tracking database of the installed MLflow version is kept."""
    return cache_dir() / f"mlflow-{_version('mlflow')}.db"


def _build(path: Path, command: Callable[[Path, str], tuple[list[str], dict[str, str]]]) -> Path | None:
    """Run `command(db, folder)` to migrate an empty SQLite database, kept at `path`; None on failure."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.stem}-") as tmp:
        db = Path(tmp) / "template.db"
        argv, env = command(db, tmp)
        try:
            subprocess.run(argv, env=env, check=True, capture_output=True, timeout=BUILD_TIMEOUT_S)
        except (OSError, subprocess.SubprocessError) as exc:
            logger.warning("could not migrate a database to copy into new homes (%s: %s); the server migrates its "
                           "own", path.name, exc)
            return None
        os.replace(db, path)
    return path


def build_prefect_template(path: Path | None = None) -> Path | None:
    """Migrate an empty Prefect database into `path` (default `prefect_template()`); None on failure."""
    return _build(path or prefect_template(), lambda db, tmp: (
        [sys.executable, "-m", "prefect", "server", "database", "upgrade", "-y"],
        {**os.environ, "PREFECT_HOME": tmp, "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
         "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{db}"}))


def build_mlflow_template(path: Path | None = None) -> Path | None:
    """Migrate an empty MLflow tracking database into `path` (default `mlflow_template()`) with
    `mlflow db upgrade`, which creates no experiment: the server adds its Default experiment,
    with the home's own artifact root, when it first opens the copy."""
    return _build(path or mlflow_template(), lambda db, tmp: (
        [sys.executable, "-m", "mlflow", "db", "upgrade", f"sqlite:///{db}"], dict(os.environ)))


def _copy_in(template: Path | None, target: Path) -> bool:
    if template is None:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.copy")
    shutil.copyfile(template, tmp)
    os.chmod(tmp, 0o600)
    os.replace(tmp, target)
    return True


def prefect_database(target: Path) -> bool:
    """Put a migrated empty Prefect database at `target` unless one is there; True when copied."""
    return not target.exists() and _copy_in(build_prefect_template(), target)


def mlflow_database(target: Path) -> bool:
    """Put a migrated empty MLflow tracking database at `target` unless one is there; True when copied."""
    return not target.exists() and _copy_in(build_mlflow_template(), target)


def demo_data(root: Path, hosts: list[str], arguments: dict, write: Callable[[Path], None]) -> None:
    """The demo hosts' folders under `root`, copied from the copy kept for `arguments`; `write(folder)`
    writes (and describes) them into a folder when no copy exists yet."""
    key = hashlib.sha256(json.dumps(arguments, sort_keys=True).encode()).hexdigest()[:24]
    kept = cache_dir() / "demo-data" / key
    if not kept.is_dir():
        kept.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=kept.parent, prefix=".demo-") as tmp:
            made = Path(tmp) / "data"
            write(made)
            try:
                os.replace(made, kept)
            except OSError:  # another `fedpe up` kept the same copy first: it is the same bytes
                if not kept.is_dir():
                    raise
    root.mkdir(parents=True, exist_ok=True)
    for host in hosts:
        shutil.copytree(kept / host, root / host, dirs_exist_ok=True)


if __name__ == "__main__":  # `python -m fedpe.stack.cache`: migrate the templates now (`make install`)
    for built in (build_prefect_template(), build_mlflow_template()):
        print(built or "no template made (see the warning above)")
