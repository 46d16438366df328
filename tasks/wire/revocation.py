"""Revocation in the TLS handshake: the federation's CRL loaded into every TLS context of a process.

`fedpe tls revoke NAME` writes the CA's certificate revocation list (`{FEDPE_HOME}/tls/crl.pem`,
beside the CA's certificate; fedpe/stack/tls.py). A fedpe client's Dask Security names it
(`extra_conn_args["fedpe_crl"]`, blocks/federation.py), and the scheduler's listener finds it
in `FEDPE_TLS_CRL`; each peer's leaf certificate is then checked against it (OpenSSL's
`VERIFY_CRL_CHECK_LEAF`), so a revoked certificate fails the handshake before a byte of the
peer's is read. The CRL travels with the CA a Security trusts, not with the process: one
process may talk to two federations (the tests do), each checked against its own CA's CRL. OpenSSL lets a context take more CRLs while it serves, and among CRLs of one
issuer picks the latest (`lastUpdate`; the CA writes a strictly later one on every change),
so a newer file is loaded into the live contexts when its modification time changes.
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
import weakref
from pathlib import Path

logger = logging.getLogger("fedpe.wire")

ENV_CRL = "FEDPE_TLS_CRL"
#: The key of a Security's `extra_conn_args` that names its CA's CRL.
CRL_ARG = "fedpe_crl"


class CrlWatch:
    """The CRL file at `path`, applied to TLS contexts and re-applied when it changes."""

    def __init__(self, path: str | os.PathLike | None):
        self.path = Path(path) if path else None
        self._applied: "weakref.WeakKeyDictionary[ssl.SSLContext, float]" = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def _mtime(self) -> float | None:
        try:
            return self.path.stat().st_mtime_ns if self.path else None
        except FileNotFoundError:
            return None

    def apply(self, context: ssl.SSLContext) -> None:
        """Check leaf certificates of `context` against the CRL (loading it again if it changed).

        Without a CRL file nothing changes; once a context has checked a CRL it keeps checking,
        and a CRL that cannot be read keeps the one loaded before.
        """
        mtime = self._mtime()
        if mtime is None:
            return
        with self._lock:
            if self._applied.get(context) == mtime:
                return
            try:
                context.load_verify_locations(cafile=str(self.path))
            except (OSError, ssl.SSLError) as exc:
                logger.error("cannot load the CRL %s: %s; keeping the one loaded before", self.path, exc)
                return
            context.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
            self._applied[context] = mtime


_watches: dict[str, CrlWatch] = {}


def crl_watch(path: str | os.PathLike | None = None) -> CrlWatch:
    """The watch of the CRL at `path` (by default the one `FEDPE_TLS_CRL` names), one per file."""
    key = os.fspath(path) if path else os.environ.get(ENV_CRL, "")
    if key not in _watches:
        _watches[key] = CrlWatch(key or None)
    return _watches[key]
