"""How the pages write numbers, sizes and times (Jinja filters)."""

from __future__ import annotations

import datetime as dt
import math


def size(value) -> str:
    """Bytes as B, KB, MB, GB (powers of 1024)."""
    if not isinstance(value, (int, float)):
        return "–"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(value) < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


def _parse(value) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def iso(value) -> str:
    """A time as the API writes it (ISO 8601, for a `title`), empty when there is none."""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return "" if value is None else str(value)


def when(value) -> str:
    """An ISO time as `YYYY-MM-DD HH:MM:SS` UTC."""
    parsed = _parse(value)
    return parsed.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if parsed else "–"


def ago(value) -> str:
    """How long ago an ISO time was: `4 s ago`, `3 min ago`, `2 h ago`, `5 d ago`."""
    parsed = _parse(value)
    if parsed is None:
        return "never"
    seconds = (dt.datetime.now(dt.timezone.utc) - parsed).total_seconds()
    if seconds < 0:
        return "just now"
    for limit, unit, div in ((120, "s", 1), (7200, "min", 60), (172800, "h", 3600)):
        if seconds < limit:
            return f"{seconds / div:.0f} {unit} ago"
    return f"{seconds / 86400:.0f} d ago"


def number(value, digits: int = 4) -> str:
    """A metric: 4 decimals for fractions, plain for integers, `–` for none."""
    if isinstance(value, bool) or value is None:
        return "–" if value is None else str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.{digits}f}"
    return str(value)


def seconds(value) -> str:
    if not isinstance(value, (int, float)):
        return "–"
    if value < 120:
        return f"{value:.1f} s"
    return f"{value / 60:.1f} min"
