"""A host's catalogue, out of the worker's process and remembered on disk.

`python -m tasks.data.scan DATA_DIR` prints the catalogue as JSON. The host agent runs it in a
short-lived child process (fedpe/host/agent.py), so listing the datasets loads pyarrow (and
pandas, for CSV files) there and not into the worker that idles. The result is remembered in
`{data_dir}/.fedpe/catalogue.json` with the files' signature (names, sizes, modification
times), so a host that starts again over unchanged data, or whose data the demo launcher has
just described, does not scan at all.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from tasks.data.catalogue import catalogue_signature, scan_catalogue

#: Beside the audit log, in the folder fedpe keeps inside a host's data folder.
REMEMBERED = Path(".fedpe") / "catalogue.json"


def _jsonable(signature: tuple) -> list:
    return [list(entry) for entry in signature]


def remembered(data_dir: str | os.PathLike, signature: tuple) -> list[dict] | None:
    """The remembered catalogue when it was made from files with this `signature`, else None."""
    try:
        saved = json.loads((Path(data_dir) / REMEMBERED).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(saved, dict) or saved.get("signature") != _jsonable(signature):
        return None
    datasets = saved.get("datasets")
    return datasets if isinstance(datasets, list) else None


def describe(data_dir: str | os.PathLike) -> list[dict]:
    """Scan `data_dir` here and remember the result (written atomically: readers see all or nothing)."""
    signature = catalogue_signature(data_dir)
    datasets = [info.model_dump(mode="json") for info in scan_catalogue(data_dir)]
    path = Path(data_dir) / REMEMBERED
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".catalogue.", dir=path.parent)
    with os.fdopen(fd, "w") as out:
        json.dump({"signature": _jsonable(signature), "datasets": datasets}, out)
    os.replace(tmp, path)
    return datasets


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tasks.data.scan DATA_DIR", file=sys.stderr)
        return 2
    print(json.dumps(describe(argv[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
