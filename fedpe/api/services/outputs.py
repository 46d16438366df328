"""The output store, read by the API: progress, rounds, resource reports, files, archives, removal.

Every path is resolved under `{execution_id}/{host}/` with components checked first; file
bytes are streamed in chunks and archives are zipped on the fly, never held whole in memory.
"""

from __future__ import annotations

import io
import json
import logging
import threading
import time
import zipfile
from collections import OrderedDict
from typing import Iterator

import anyio

from blocks.store import StoreSpec
from fedpe.api.paths import safe_component, safe_relative
from fedpe.errors import NoConnection, NotFound
from flows.conventions import PROGRESS_FILE, REPORTS_DIR, RESULT_FILE, report_file
from tasks.audit import head_text, parse_head
from tasks.conventions import AUDIT_DIR
from tasks.rounds import read_rounds

CHUNK = 1 << 20
#: Executions whose rounds are kept in memory once read (a stored round never changes).
ROUND_CACHE_EXECUTIONS = 64
#: An audit head file is about 200 bytes; one much larger is not one, and is not read.
AUDIT_HEAD_MAX_BYTES = 4096
logger = logging.getLogger("fedpe.api.outputs")


def audit_anchor(name: str, value: object) -> dict | None:
    """The audit head in the store file `name` as the API gives it (host, task, seq, hash, expect),
    or None when it is not what the coordinator writes (`tasks.coordinator.remote.Relay.write_audit_head`):
    the file named for its own host and task, `expect` the `SEQ:HASH` of its seq and 64-hex hash."""
    if not isinstance(value, dict):
        return None
    host, task, seq, digest = value.get("host"), value.get("task"), value.get("seq"), value.get("hash")
    if not (isinstance(host, str) and isinstance(task, str) and isinstance(digest, str)
            and isinstance(seq, int) and not isinstance(seq, bool) and name == report_file(host, task)):
        return None
    try:
        head = parse_head(str(value.get("expect")))
    except ValueError:
        return None
    if head != {"seq": seq, "hash": digest}:
        return None
    return {"host": host, "task": task, "seq": seq, "hash": digest, "expect": head_text(head)}


class _Pipe(io.RawIOBase):
    """A write-only sink `zipfile` writes into; the generator drains it between files."""

    def __init__(self):
        self._chunks: list[bytes] = []
        self._written = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._chunks.append(bytes(data))
        self._written += len(data)
        return len(data)

    def tell(self) -> int:  # zipfile asks where it is; a stream only knows how much it wrote
        return self._written

    def drain(self) -> bytes:
        out, self._chunks = b"".join(self._chunks), []
        return out


class Outputs:
    def __init__(self, spec: StoreSpec):
        self.spec = spec
        self._round_cache: OrderedDict[str, dict[int, dict]] = OrderedDict()
        self._round_cache_lock = threading.Lock()  # reads run on worker threads

    async def _io(self, fn, *args):
        try:
            return await anyio.to_thread.run_sync(fn, *args)
        except (FileNotFoundError, NotFound):
            raise
        except OSError as exc:
            raise NoConnection(f"the output store {self.spec.url} failed: {exc}") from exc

    # execution-level files ---------------------------------------------------------------

    def _read_json(self, *parts: str) -> dict | None:
        try:
            data = self.spec.read_bytes(*parts)
        except FileNotFoundError:
            return None
        try:
            value = json.loads(data)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    async def progress(self, execution_id: str) -> dict | None:
        return await self._io(self._read_json, execution_id, PROGRESS_FILE)

    def _read_rounds(self, execution_id: str, after: int) -> list[dict]:
        with self._round_cache_lock:
            cache = self._round_cache.setdefault(execution_id, {})
            self._round_cache.move_to_end(execution_id)
            while len(self._round_cache) > ROUND_CACHE_EXECUTIONS:
                self._round_cache.popitem(last=False)
        return read_rounds(self.spec, execution_id, after=after, cache=cache)

    async def rounds(self, execution_id: str, *, after: int = 0) -> list[dict]:
        """The execution's finished rounds after `after`, as the server role sent them
        (`tasks.rounds.read_rounds`); each is read from the store once, then kept."""
        return await self._io(self._read_rounds, execution_id, after)

    async def result(self, execution_id: str) -> dict | None:
        """What the execution's flow returned, once it has ended (see tasks.conventions)."""
        return await self._io(self._read_json, execution_id, RESULT_FILE)

    def _reports(self, execution_id: str) -> dict[str, dict]:
        out = {}
        for name, _size in self.spec.iter_files(execution_id, REPORTS_DIR):
            if "/" not in name and name.endswith(".json"):
                report = self._read_json(execution_id, REPORTS_DIR, name)
                if report is not None:
                    out[name] = report
        return out

    async def reports(self, execution_id: str) -> dict[str, dict]:
        """File name (`flows.conventions.report_file(host, task)`) -> the role's resource report."""
        return await self._io(self._reports, execution_id)

    def _audit_heads(self, execution_id: str) -> list[dict]:
        out = []
        for name, size in self.spec.iter_files(execution_id, AUDIT_DIR):
            if "/" in name or not name.endswith(".json"):
                continue
            value = None
            if size <= AUDIT_HEAD_MAX_BYTES:
                try:
                    value = json.loads(self.spec.read_bytes(execution_id, AUDIT_DIR, name))
                except FileNotFoundError:
                    continue
                except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past the parser's depth
                    pass
            anchor = audit_anchor(name, value)
            if anchor is None:  # a file the coordinator did not write as it does: shown to nobody as a head
                logger.warning("execution %s: skipped %s/%s, not an audit head (host, task, seq, hash, expect)",
                               execution_id, AUDIT_DIR, name)
                continue
            out.append(anchor)
        return sorted(out, key=lambda a: (a["host"], a["task"]))

    async def audit_heads(self, execution_id: str) -> list[dict]:
        """The heads of the hosts' audit logs the coordinator kept as each role ended (see
        tasks.conventions), one per host role, by host and task; a malformed file is skipped and logged."""
        return await self._io(self._audit_heads, execution_id)

    # per-host outputs ----------------------------------------------------------------------

    def _host_files(self, execution_id: str, host: str) -> list[dict]:
        return [{"name": name, "size": size} for name, size in self.spec.iter_files(execution_id, host)]

    async def host_files(self, execution_id: str, host: str) -> list[dict]:
        safe_component(host, field="nodes")
        return await self._io(self._host_files, execution_id, host)

    async def hosts_with_outputs(self, execution_id: str) -> list[str]:
        def read():
            fs, _ = self.spec.filesystem()
            base = self.spec.path(execution_id)
            if not fs.exists(base):
                return []
            names = [p.rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(base, detail=False)]
            return sorted(n for n in names if not n.startswith("_") and not n.startswith("."))
        return await self._io(read)

    async def open_file(self, execution_id: str, host: str, file: str) -> tuple[Iterator[bytes], int | None]:
        """A chunk iterator over one output file and its size; NotFound when absent."""
        safe_component(host, field="node")
        parts = safe_relative(file, field="file")

        def opener():
            fs, _ = self.spec.filesystem()
            path = self.spec.path(execution_id, host, *parts)
            if not fs.isfile(path):
                raise NotFound(f"no file {file!r} for node {host!r} in execution {execution_id}", field="file")
            size = fs.size(path)
            fh = fs.open(path, "rb")
            return fh, size
        fh, size = await self._io(opener)

        def chunks() -> Iterator[bytes]:
            with fh:
                while chunk := fh.read(CHUNK):
                    yield chunk
        return chunks(), size

    def archive(self, execution_id: str, host: str, files: list[str]) -> Iterator[bytes]:
        """A zip of `files` (relative to the host's folder), produced while it is sent."""
        pipe = _Pipe()
        with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            for name in files:
                parts = safe_relative(name)
                info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
                info.compress_type = zipfile.ZIP_DEFLATED
                with self.spec.open(execution_id, host, *parts) as src, archive.open(info, "w", force_zip64=True) as dst:
                    while chunk := src.read(CHUNK):
                        dst.write(chunk)
                        if data := pipe.drain():
                            yield data
                if data := pipe.drain():
                    yield data
        if data := pipe.drain():
            yield data

    async def remove(self, execution_id: str) -> bool:
        def rm():
            fs, _ = self.spec.filesystem()
            existed = fs.exists(self.spec.path(execution_id))
            self.spec.remove(execution_id)
            with self._round_cache_lock:
                self._round_cache.pop(execution_id, None)
            return existed
        return await self._io(rm)

    async def ping(self) -> dict:
        def check():
            fs, root = self.spec.filesystem()
            return {"url": self.spec.url, "root_exists": bool(fs.exists(root))}
        return await self._io(check)
