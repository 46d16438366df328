"""The payload codec of role calls: msgpack plus numeric NumPy arrays, and nothing that runs code.

A role call between two hosts (the server asking a client to `fit`) or between the
coordinator and a host carries its arguments and its answer as one `bytes` payload in this
codec, so neither end ever unpickles what the other sent. It knows None, booleans, integers,
floats, strings, bytes, lists (tuples become lists), dicts, NumPy scalars (as Python numbers)
and NumPy arrays of numeric or boolean dtype; anything else is refused when encoding, and an
array of any other dtype (object arrays would need pickle) is refused when decoding.
"""

from __future__ import annotations

from typing import Any

import msgpack
import numpy as np

#: msgpack extension type of an ndarray: a msgpack header [dtype, shape] followed by its bytes.
_NDARRAY = 1
#: Kinds NumPy arrays may have on the wire: bool, signed, unsigned, float, complex.
_KINDS = frozenset("biufc")
#: Bound on one payload, so a peer cannot make a host allocate without limit.
MAX_PAYLOAD_BYTES = 2 * 1024**3


class CodecError(ValueError):
    """Raised when a value cannot travel in a role call, or a payload is not one."""


def _default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in _KINDS:
            raise CodecError(f"an array of dtype {obj.dtype} cannot travel in a role call (numeric arrays only)")
        array = np.ascontiguousarray(obj)
        header = msgpack.packb([array.dtype.str, list(array.shape)])
        return msgpack.ExtType(_NDARRAY, len(header).to_bytes(4, "little") + header + array.tobytes())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (set, frozenset)):
        raise CodecError("sets cannot travel in a role call; send a sorted list")
    raise CodecError(f"a {type(obj).__name__} cannot travel in a role call")


def _ext_hook(code: int, data: bytes) -> Any:
    if code != _NDARRAY:
        raise CodecError(f"unknown extension type {code} in a role-call payload")
    size = int.from_bytes(data[:4], "little")
    dtype_str, shape = msgpack.unpackb(data[4:4 + size])
    dtype = np.dtype(dtype_str)
    if dtype.kind not in _KINDS or dtype.hasobject:
        raise CodecError(f"an array of dtype {dtype} is not allowed in a role-call payload")
    body = data[4 + size:]
    count = int(np.prod(shape)) if shape else 1
    if count * dtype.itemsize != len(body):
        raise CodecError("an array in a role-call payload does not match its shape")
    return np.frombuffer(body, dtype=dtype).reshape(shape).copy()


def encode(value: Any) -> bytes:
    """`value` as a role-call payload; CodecError names what cannot travel."""
    try:
        return msgpack.packb(value, default=_default, use_bin_type=True, strict_types=False)
    except CodecError:
        raise
    except (TypeError, ValueError, OverflowError) as exc:
        raise CodecError(f"value cannot travel in a role call: {exc}") from None


def decode(payload: bytes) -> Any:
    """The value a role-call payload holds; CodecError for anything that is not one."""
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise CodecError(f"a role-call payload must be bytes, not {type(payload).__name__}")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise CodecError(f"a role-call payload of {len(payload)} bytes is over the limit")
    try:
        return msgpack.unpackb(payload, ext_hook=_ext_hook, raw=False, strict_map_key=False)
    except CodecError:
        raise
    except Exception as exc:  # msgpack's own errors: not a payload at all
        raise CodecError(f"not a role-call payload: {type(exc).__name__}: {exc}") from None
