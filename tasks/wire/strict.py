"""Reading what a host sends without running it: the strict decoder.

Dask's own decoder (`distributed.protocol.core.loads`) unpickles every `__Pickled__` part of
a message as it reads it, deserialises `__Serialized__` parts with pickle, and imports
modules for `__Enum__` parts. A host that holds a valid certificate could therefore run code
in whoever reads its bytes. fedpe's comms (tasks/wire/transport.py) read a host's bytes with
`loads_strict` instead, before distributed sees anything: plain msgpack data only (None,
booleans, numbers, strings, bytes, lists, dicts, and Dask's plain `__Set__`), bounded in
size. A `__Pickled__` or `__Enum__` part, a msgpack extension type, or a frame layout that
does not add up is refused (`StrictReadError`, and the comm is closed). A `__Serialized__`
part (how an honest worker sends a task's exception) is never decoded: it becomes `WITHHELD`,
which a guard must replace with a value of its own; `is_plain` refuses it, so a message still
holding one never gets past `require_plain`.
"""

from __future__ import annotations

import os
import struct
from typing import Any, Iterable, Sequence

import msgpack

_PLAIN_SCALARS = (str, bytes, int, float, bool, type(None))
#: A message header may not announce more frames than this (an honest one holds a few).
MAX_FRAMES = 1024
#: Bound on one message from a strict peer (all its frames), checked before allocating.
MAX_MESSAGE_BYTES = int(os.environ.get("FEDPE_MAX_MESSAGE_BYTES") or 512 * 1024**2)


class StrictReadError(OSError):
    """Raised when a peer that may send only plain data sends anything else.

    An OSError, so Dask's comm loops treat it as a broken comm and close it.
    """


class _Withheld:
    """Stands where a peer sent a serialised object: its bytes are never decoded."""

    _instance: "_Withheld | None" = None

    def __new__(cls) -> "_Withheld":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<withheld: a serialised object from a host, never decoded>"

    def __reduce__(self):  # never travels on: a guard replaces it first
        raise TypeError("a withheld value cannot be sent on")


WITHHELD = _Withheld()


def _object_hook(obj: dict) -> Any:
    if "__Pickled__" in obj:
        raise StrictReadError("a pickle from a peer that may send only plain data")
    if "__Enum__" in obj:
        raise StrictReadError("an enum (a module import) from a peer that may send only plain data")
    if "__Serialized__" in obj:
        return WITHHELD
    if "__Set__" in obj:
        items = obj.get("as-list")
        if not isinstance(items, (list, tuple)):
            raise StrictReadError("a set whose items are not a list")
        return set(items)
    return obj


def _ext_hook(code: int, data: bytes) -> Any:
    raise StrictReadError(f"msgpack extension type {code} from a peer that may send only plain data")


def split_frames(packed: memoryview | bytes, limit: int) -> tuple[list[memoryview], list[int]]:
    """Dask's frame layout (`n, len_1..len_n, frame_1..`) read with every count checked first.

    Returns the frames held in `packed` and the lengths of those still to read. The announced
    sizes must fit `limit` in all, before anything is allocated for them.
    """
    view = memoryview(packed).cast("B")
    if view.nbytes < 8:
        raise StrictReadError("a message shorter than its frame count")
    (count,) = struct.unpack_from("Q", view)
    if not 1 <= count <= MAX_FRAMES:
        raise StrictReadError(f"a message announcing {count} frames")
    start = 8 * (1 + count)
    if view.nbytes < start:
        raise StrictReadError("a message shorter than its frame lengths")
    lengths = struct.unpack_from(f"{count}Q", view, 8)
    if sum(lengths) + start > limit:
        raise StrictReadError(f"a message of {sum(lengths) + start} bytes is over the limit of {limit}")
    frames: list[memoryview] = []
    for i, length in enumerate(lengths):
        if start == view.nbytes:
            return frames, list(lengths[i:])
        end = start + length
        if end > view.nbytes:
            raise StrictReadError("a frame runs past the end of its message")
        frames.append(view[start:end])
        start = end
    if start != view.nbytes:
        raise StrictReadError("bytes after the last frame of a message")
    return frames, []


def loads_strict(frames: Sequence[bytes | memoryview]) -> Any:
    """The plain value of a Dask message's frames; StrictReadError for anything else.

    Only the first frame (the msgpack header) is decoded; the other frames belong to
    serialised parts, which stay `WITHHELD`.
    """
    if not frames:
        raise StrictReadError("a message without frames")
    try:
        return msgpack.unpackb(frames[0], object_hook=_object_hook, ext_hook=_ext_hook, use_list=False,
                               raw=False, strict_map_key=False)
    except StrictReadError:
        raise
    except Exception as exc:  # msgpack's own errors: not a Dask message at all
        raise StrictReadError(f"not a message: {type(exc).__name__}: {exc}") from None


def is_plain(value: Any, *, depth: int = 0) -> bool:
    """True when `value` holds only msgpack's own types (and sets), nothing withheld or wrapped."""
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
