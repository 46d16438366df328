"""Reading what a host sends without running it: no pickles, plain data only.

Dask's protocol unpickles every ``__Pickled__`` part of a message as it is read, even on a comm
that does not deserialise (`distributed.protocol.core.loads`), and a deserialising comm also
unpickles ``__Serialized__`` parts. A host that holds a valid certificate could therefore run
code on whoever reads its messages. `make_strict` turns a comm into one whose reads refuse
pickles (`StrictReadError`, and the comm is closed) and keep ``__Serialized__`` parts opaque;
the guards then accept only plain values (`is_plain`) from hosts.

Pickles are refused through the one module-level `pickle` reference that
`distributed.protocol.core` reads them with (distributed is pinned, see pyproject.toml): it is
replaced once by a proxy that refuses `loads` while a strict read is in progress on the
current task. Trusted comms (the scheduler's, the coordinator's) read as before.
"""

from __future__ import annotations

import contextvars
import logging
from types import ModuleType
from typing import Any, Callable, Iterable

logger = logging.getLogger("fedpe.wire")

_STRICT: contextvars.ContextVar[bool] = contextvars.ContextVar("fedpe_strict_read", default=False)
_PLAIN_SCALARS = (str, bytes, int, float, bool, type(None))


class StrictReadError(OSError):
    """Raised when a peer that may send only plain data sends a pickle or a refused message.

    An OSError, so Dask's comm loops treat it as a broken comm and close it.
    """


class _PickleGuard(ModuleType):
    """Stands in for `distributed.protocol.pickle` inside `distributed.protocol.core`."""

    def __init__(self, real: ModuleType):
        super().__init__(real.__name__)
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def loads(self, *args: Any, **kwargs: Any) -> Any:
        if _STRICT.get():
            raise StrictReadError("a pickle from a peer that may send only plain data")
        return self._real.loads(*args, **kwargs)


def install() -> None:
    """Put the pickle guard in place (idempotent)."""
    from distributed.protocol import core

    if not isinstance(core.pickle, _PickleGuard):
        core.pickle = _PickleGuard(core.pickle)


async def strict_read(read: Callable, *args: Any, **kwargs: Any) -> Any:
    """`await read(...)` with pickles refused for its duration (on this task only)."""
    install()
    token = _STRICT.set(True)
    try:
        return await read(*args, **kwargs)
    finally:
        _STRICT.reset(token)


def make_strict(comm: Any, check: Callable[[Any], Any] | None = None, *, who: str = "peer") -> Any:
    """Make every later read of `comm` strict; `check(msg)` may refuse (raise) or rewrite a message.

    The comm stops deserialising (``__Serialized__`` parts stay opaque `Serialized` values,
    which `is_plain` refuses). A refused read closes the comm.
    """
    install()
    comm.deserialize = False
    original = comm.read

    async def read(deserializers: Any = None) -> Any:
        try:
            msg = await strict_read(original, deserializers)
            return check(msg) if check is not None else msg
        except StrictReadError as exc:
            logger.warning("refused a message from %s (%s): %s", who, getattr(comm, "peer_address", "?"), exc)
            comm.abort()
            raise

    comm.read = read
    return comm


def is_plain(value: Any, *, depth: int = 0) -> bool:
    """True when `value` holds only msgpack's own types (and sets), nothing that wraps code or data blobs."""
    if depth > 64:
        return False
    if isinstance(value, _PLAIN_SCALARS):
        return True
    if isinstance(value, dict):
        return all(is_plain(k, depth=depth + 1) and is_plain(v, depth=depth + 1) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return all(is_plain(v, depth=depth + 1) for v in value)
    return False


def require_plain(msg: Any, *, allow: Iterable[str] = ()) -> Any:
    """`msg` if it is plain (the keys in `allow` excepted); StrictReadError otherwise."""
    allowed = set(allow)
    if isinstance(msg, dict):
        bad = [k for k, v in msg.items() if k not in allowed and not is_plain(v)]
    else:
        bad = [] if is_plain(msg) else ["(message)"]
    if bad:
        raise StrictReadError(f"non-plain data in {', '.join(map(str, bad))}")
    return msg
