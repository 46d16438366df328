"""What a host has: CPUs, memory, disk, GPUs, and the versions of the libraries it runs.

Pure psutil reads, shared by the host agent (which advertises them) and the health-check role.
"""

from __future__ import annotations

import importlib.metadata
import platform
import shutil
import subprocess
import sys

import psutil

LIBRARIES = ("prefect", "dask", "distributed", "mlflow", "fsspec", "numpy", "pandas", "scikit-learn", "pydantic", "fedpe")


def gpus() -> list[dict]:
    """GPUs seen through nvidia-smi, or [] where there is none (the usual case on CPU nodes)."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    found = []
    for line in out.strip().splitlines():
        name, _, mem = line.partition(",")
        found.append({"name": name.strip(), "memory_mb": float(mem or 0)})
    return found


def snapshot(path: str = "/") -> dict:
    """Resources now: CPU count and load, memory and disk in bytes, GPUs."""
    vm = psutil.virtual_memory()
    disk = psutil.disk_usage(path)
    return {
        "cpus": psutil.cpu_count(logical=True) or 1,
        "cpu_percent": psutil.cpu_percent(interval=None),
        "load_avg": list(psutil.getloadavg()),
        "memory_total": vm.total,
        "memory_available": vm.available,
        "disk_total": disk.total,
        "disk_free": disk.free,
        "gpus": gpus(),
    }


def versions() -> dict[str, str]:
    """Python and library versions, as reproducibility tags and health reports want them."""
    found = {"python": sys.version.split()[0], "platform": platform.platform()}
    for lib in LIBRARIES:
        try:
            found[lib] = importlib.metadata.version(lib)
        except importlib.metadata.PackageNotFoundError:
            found[lib] = "absent"
    return found
