"""Resource use of a role, measured for what it is: roles are threads of the host's role process
(tasks/host/role_process.py), so CPU is the role's own thread time (plus its actor's) and memory is the process's RSS."""

from __future__ import annotations

import datetime as dt
import resource
import time

import psutil


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()


class UsageMeter:
    """Accumulates thread CPU seconds across calls and the process's peak RSS."""

    def __init__(self) -> None:
        self.started_at = _now()
        self.cpu_seconds = 0.0
        self.rss_peak_bytes = psutil.Process().memory_info().rss

    def measure(self):
        meter = self

        class _Span:
            def __enter__(self):
                self.t0 = time.thread_time()

            def __exit__(self, *exc):
                meter.cpu_seconds += time.thread_time() - self.t0
                meter.sample()

        return _Span()

    def sample(self) -> None:
        self.rss_peak_bytes = max(self.rss_peak_bytes, psutil.Process().memory_info().rss)

    def report(self, **extra) -> dict:
        self.sample()
        return {
            "cpu_seconds": round(self.cpu_seconds, 4),
            "cpu_seconds_scope": "role thread(s)",
            "rss_peak_bytes": self.rss_peak_bytes,
            "rss_scope": "host role process",
            "process_max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "started_at": self.started_at,
            "ended_at": _now(),
            **extra,
        }
