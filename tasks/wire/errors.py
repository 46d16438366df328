"""The error of a failed role call, apart from the transport (tasks/wire/calls.py) so that a role
process, which holds no comm of its own, raises the same error without importing Dask."""


class CallError(RuntimeError):
    """Raised when a role call fails: the peer is unreachable, not who it should be, or refused."""
