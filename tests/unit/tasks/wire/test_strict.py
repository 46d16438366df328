"""The strict decoder against Dask's own encoder: plain data passes, everything that could run
code is refused, serialised parts stay undecoded, and sizes are checked before allocating."""

import pickle
import struct

import pytest
from distributed.protocol import dumps, to_serialize
from distributed.protocol.serialize import ToPickle

from tasks.wire.strict import (
    MAX_FRAMES, WITHHELD, StrictReadError, is_plain, loads_strict, require_plain, split_frames,
)


class Marker:
    """Loading this pickle would create a file: proof of code run by the reader."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_plain_messages_read_as_dask_would():
    msg = {"op": "heartbeat_worker", "address": "fedpe://1.2.3.4:5", "n": 3, "x": 1.5, "b": b"\x00",
           "ok": True, "none": None, "keys": [("k", 0), "j"], "s": {1, 2}}

    out = loads_strict(dumps(msg))

    assert out == {**msg, "keys": (("k", 0), "j")}  # Dask's own decoder gives tuples too
    assert is_plain(out)


def test_a_pickled_part_is_refused_and_never_loaded(tmp_path):
    marker = tmp_path / "ran"
    frames = dumps({"op": "identity", "x": ToPickle(Marker(marker))})

    with pytest.raises(StrictReadError, match="a pickle"):
        loads_strict(frames)
    assert not marker.exists()


def test_a_serialised_part_is_withheld_undecoded_and_not_plain(tmp_path):
    marker = tmp_path / "ran"
    frames = dumps({"op": "task-erred", "exception": to_serialize(Marker(marker))})

    out = loads_strict(frames)

    assert out["exception"] is WITHHELD and not marker.exists()
    assert not is_plain(out)
    with pytest.raises(StrictReadError, match="exception"):
        require_plain(out)
    assert require_plain(out, allow=("exception",)) is out
    with pytest.raises(TypeError):
        pickle.dumps(WITHHELD)


@pytest.mark.parametrize("hostile, why", [
    ({"__Enum__": True, "__module__": "os", "__name__": "x", "name": "y"}, "enum"),
    ({"__Set__": True, "as-list": 5}, "set whose items"),
])
def test_dasks_other_object_hooks_are_refused(hostile, why):
    import msgpack

    with pytest.raises(StrictReadError, match=why):
        loads_strict([msgpack.dumps({"op": "x", "v": hostile})])


def test_extension_types_and_garbage_are_refused():
    import msgpack

    with pytest.raises(StrictReadError, match="extension type"):
        loads_strict([msgpack.dumps(msgpack.ExtType(1, b"x"))])
    with pytest.raises(StrictReadError, match="not a message"):
        loads_strict([b"\xc1"])
    with pytest.raises(StrictReadError, match="without frames"):
        loads_strict([])


def _packed(lengths, body=b""):
    return struct.pack("Q", len(lengths)) + struct.pack(f"{len(lengths)}Q", *lengths) + body


def test_frames_split_with_every_count_checked_before_allocating():
    frames, missing = split_frames(_packed([3, 2], b"abcde"), limit=1000)
    assert [bytes(f) for f in frames] == [b"abc", b"de"] and missing == []
    frames, missing = split_frames(_packed([3, 7], b"abc"), limit=1000)  # the rest is read separately
    assert [bytes(f) for f in frames] == [b"abc"] and missing == [7]

    with pytest.raises(StrictReadError, match="over the limit"):
        split_frames(_packed([3, 2**40], b"abc"), limit=1000)
    with pytest.raises(StrictReadError, match="announcing"):
        split_frames(struct.pack("Q", MAX_FRAMES + 1) + b"\0" * 64, limit=10**9)
    with pytest.raises(StrictReadError, match="announcing"):
        split_frames(struct.pack("Q", 0), limit=1000)
    with pytest.raises(StrictReadError, match="runs past"):
        split_frames(_packed([3, 5], b"abcde"), limit=1000)
    with pytest.raises(StrictReadError, match="after the last frame"):
        split_frames(_packed([1], b"ab"), limit=1000)
    with pytest.raises(StrictReadError, match="shorter than its frame lengths"):
        split_frames(struct.pack("Q", 4) + b"\0" * 8, limit=1000)
