"""The rig's exception tree.

::

    RigError
     ├── ScriptError (also ValueError)      a behaviour script or CLI option is invalid
 ├── ProtocolError (also ValueError)    a JSON line between fleet and worker is malformed
     ├── RigTimeout (also TimeoutError)     a bounded wait ran out (registration, call result)
     ├── WorkerFailed                       a phone process did not start, died, or broke protocol
     └── CommandFailed                      a phone process refused a command (e.g. a 5th call)

Errors carry the values a test needs to explain itself (phone ids, call ids, worker PIDs,
the tail of the worker's log).
"""

from __future__ import annotations


class RigError(Exception):
    """Base of every error the SIP test rig raises."""


class ScriptError(RigError, ValueError):
    """A phone script, call script or CLI option is invalid."""


class ProtocolError(RigError, ValueError):
    """A JSON line between the fleet and a phone worker is malformed."""


class RigTimeout(RigError, TimeoutError):
    """A bounded wait ran out before the expected event arrived."""


class WorkerFailed(RigError):
    """A phone process failed to start, exited unexpectedly or wrote garbage."""

    def __init__(self, message: str, *, pid: int | None = None, log_tail: str = "") -> None:
        detail = f"{message} (worker pid {pid})" if pid is not None else message
        if log_tail:
            detail += f"\n--- worker log (tail) ---\n{log_tail}"
        super().__init__(detail)
        self.pid = pid
        self.log_tail = log_tail


class CommandFailed(RigError):
    """A phone process answered a command with an error event."""

    def __init__(self, message: str, *, phone_id: str | None = None, call_id: str | None = None):
        super().__init__(message)
        self.phone_id = phone_id
        self.call_id = call_id
