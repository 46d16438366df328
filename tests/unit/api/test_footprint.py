"""The API checks every tool's submission without loading the data stack: it is a long-lived
process, and pandas with pyarrow, once imported by a check, stayed (96 MiB of its RSS). Its
warm-up (tools.warm, shortly after it starts) loads every tool, and no data library either."""

from __future__ import annotations

import json
import subprocess
import sys

CHECK_EVERY_TOOL = r"""
import json, sys
from fedpe.api.services import jobs, tools
from flows import catalog

tools.warm()
warmed = tools._tool.cache_info().currsize
columns = [{"name": "mean_radius", "dtype": "float"}, {"name": "site", "dtype": "string"},
           {"name": "target", "dtype": "int"}]
records = {h: {"datasets": [{"name": "breast-cancer", "columns": columns}]} for h in ("hospital-a", "hospital-b")}
ctx = catalog.CheckContext(connected={"hospital-a": "a", "hospital-b": "b"}, records=records, store_url="file:///srv")
training = {"server": "hospital-a", "clients": ["hospital-b"], "dataset": "breast-cancer", "target": "target"}
bodies = {
    "flcore": {**training, "train_labels": "mean_radius site", "model": "xgb"},
    "fed-stats": {"hosts": ["hospital-a", "hospital-b"], "dataset": "breast-cancer"},
    "health-check": {"hosts": ["hospital-a"]},
    "pipeline": {"steps": [{"tool": "flcore", "parameters": {**training, "features": ["mean_radius"]}}]},
}
checked = []
for tool, body in bodies.items():
    spec, schema = tools.get(tool)
    params = jobs.apply_nodes(spec, set(schema.get("properties") or {}), body, None, None)
    assert not jobs.schema_errors(params, schema), (tool, jobs.schema_errors(params, schema))
    catalog.validate(tool, params, ctx)
    checked.append(tool)
heavy = ("pandas", "pyarrow", "sklearn", "scipy", "mlflow", "matplotlib", "torch", "xgboost")
print(json.dumps({"warmed": warmed, "checked": checked, "loaded": sorted(m for m in heavy if m in sys.modules)}))
"""


def test_the_apis_warm_up_and_checks_of_every_tool_load_no_data_library():
    out = subprocess.run([sys.executable, "-c", CHECK_EVERY_TOOL], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout) == {"warmed": 4, "checked": ["flcore", "fed-stats", "health-check", "pipeline"],
                                      "loaded": []}
