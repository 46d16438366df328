"""fedpe's Dask comm backend, `fedpe://`: mutual TLS with one strict choke point where bytes enter.

Every fedpe process (scheduler, hosts, coordinator) speaks `fedpe://`, registered with
distributed as a comm backend (the `distributed.comm.backends` entry point in
pyproject.toml), so no connection of theirs can be opened, or accepted, without passing here.
On the wire it is Dask's TLS framing; what differs is who reads what:

- A comm knows its peer from the certificate the TLS handshake proved (tasks/wire/identity.py),
  before the first message, Dask's own handshake included, is read.
- A comm whose peer is not the scheduler's or the coordinator's certificate (a host, or
  anything else) is *strict*: its bytes are read with announced sizes bounded before anything
  is allocated (`MAX_MESSAGE_BYTES`) and decoded by `loads_strict` (plain msgpack data,
  nothing that runs code) instead of distributed's decoder. A guard may add a `check` that
  refuses or rewrites each message; a refusal closes the comm. This holds on the listening and
  on the dialing side alike: whoever a host dials, and whoever dials a host.
- The scheduler's and the coordinator's comms read as Dask does: they are the federation's own
  parties, and the coordinator's task specs are pickles by design.
- A revoked certificate fails the TLS handshake itself: where the connection's Security names
  its CA's CRL (or, for a listener, `FEDPE_TLS_CRL` does), the TLS context checks the leaf
  against it, and picks up a new CRL when the file changes (tasks/wire/revocation.py).
  `abort_peers` closes the open comms of certificates just revoked.
"""

from __future__ import annotations

import logging
import struct
import weakref
from typing import Any, Callable

from distributed.comm.core import CommClosedError
from distributed.comm.tcp import (
    TLS, TLSBackend, TLSConnector, TLSListener, convert_stream_closed_error, read_bytes_rw,
)
from ssl import SSLError
from tornado.iostream import StreamClosedError

from tasks.wire.identity import UNKNOWN, Identity, identity_of_cert
from tasks.wire.revocation import CRL_ARG, crl_watch
from tasks.wire.strict import MAX_MESSAGE_BYTES, StrictReadError, loads_strict, split_frames

logger = logging.getLogger("fedpe.wire")

SCHEME = "fedpe"
PREFIX = f"{SCHEME}://"
#: Parties whose comms read as Dask does; every other peer's comm is strict.
TRUSTED_KINDS = frozenset({"scheduler", "coordinator"})

Check = Callable[[Any], Any]


class FedpeComm(TLS):
    """A TLS comm that knows its peer, and reads a strict peer's bytes with `loads_strict`."""

    #: Every open comm of this process, for `abort_peers`.
    _open: "weakref.WeakSet[FedpeComm]" = weakref.WeakSet()

    def _read_extra(self) -> None:
        super()._read_extra()
        self.peer: Identity = identity_of_cert(self._extra.get("peercert")) if self._extra else UNKNOWN
        self.strict: bool = self.peer.kind not in TRUSTED_KINDS
        self.check: Check | None = None
        FedpeComm._open.add(self)

    async def read(self, deserializers: Any = None) -> Any:
        if not self.strict:
            msg = await super().read(deserializers)
            return self.check(msg) if self.check is not None else msg
        frames = await self._read_frames()
        try:
            msg = loads_strict(frames)
            return self.check(msg) if self.check is not None else msg
        except StrictReadError as exc:
            logger.warning("refused a message from %s (%s): %s", self.peer, self.peer_address, exc)
            self.abort()
            raise

    async def _read_frames(self) -> list:
        """The frames of one message, every announced size checked before it is allocated."""
        stream = self.stream
        if stream is None:
            raise CommClosedError()
        try:
            (nbytes,) = struct.unpack("Q", await stream.read_bytes(8))
            if not 16 <= nbytes <= MAX_MESSAGE_BYTES:
                raise StrictReadError(f"a message of {nbytes} bytes (the limit is {MAX_MESSAGE_BYTES})")
            frames, missing = split_frames(await read_bytes_rw(stream, nbytes), MAX_MESSAGE_BYTES)
            for length in missing:
                frames.append(await read_bytes_rw(stream, length))
            return frames
        except (StreamClosedError, SSLError) as exc:
            self.stream = None
            self._closed = True
            convert_stream_closed_error(self, exc)
        except StrictReadError as exc:
            logger.warning("refused a message from %s (%s): %s", self.peer, self.peer_address, exc)
            self.abort()
            raise
        except BaseException:
            self.abort()
            raise


def make_strict(comm: Any, check: Check | None = None) -> FedpeComm:
    """Read every later message of `comm` strictly, each passed through `check` (which may refuse).

    Only a `FedpeComm` can be made strict: a guard that gets any other comm must refuse it.
    """
    if not isinstance(comm, FedpeComm):
        raise StrictReadError(f"a {type(comm).__name__} is not a fedpe comm")
    comm.strict = True
    comm.check = check
    return comm


def abort_peers(serials: set[str]) -> int:
    """Close every open comm of this process whose peer certificate has one of `serials`."""
    closed = 0
    for comm in list(FedpeComm._open):
        if comm.peer.serial in serials and not comm.closed():
            logger.warning("closing the comm of %s: its certificate was revoked", comm.peer)
            comm.abort()
            closed += 1
    return closed


class FedpeConnector(TLSConnector):
    prefix = PREFIX
    comm_class = FedpeComm

    def _get_connect_args(self, **connection_args: Any) -> dict:
        args = super()._get_connect_args(**connection_args)
        crl_watch((connection_args.get("extra_conn_args") or {}).get(CRL_ARG)).apply(args["ssl_options"])
        return args


class FedpeListener(TLSListener):
    prefix = PREFIX
    comm_class = FedpeComm

    def _get_server_args(self, **connection_args: Any) -> dict:
        args = super()._get_server_args(**connection_args)
        self._context, self._crl = args["ssl_options"], crl_watch()  # FEDPE_TLS_CRL, when the listener starts
        self._crl.apply(self._context)
        return args

    async def _handle_stream(self, stream: Any, address: Any) -> None:
        # A CRL written since the last connection applies to this one's handshake.
        self._crl.apply(self._context)
        await super()._handle_stream(stream, address)


class FedpeBackend(TLSBackend):
    _connector_class = FedpeConnector
    _listener_class = FedpeListener


def register() -> None:
    """Make `fedpe://` known in this process even where the package's entry point is not installed."""
    from distributed.comm import registry

    registry.backends.setdefault(SCHEME, FedpeBackend())


def _no_client_handlers_for_host_events() -> None:
    """`distributed.Client` runs a handler on every `print` and `warn` event the scheduler relays,
    and the `warn` handler unpickles the event's payload. Events can come from hosts: in a process
    that speaks `fedpe://` no client runs those handlers (the scheduler's guard also drops
    hosts' events on any topic but fedpe's own)."""
    from distributed.client import Client

    Client._default_event_handlers = {}


_no_client_handlers_for_host_events()
