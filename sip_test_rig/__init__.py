"""Simulated phones for Watchline's tests, demo and benchmarks (pjsua2, loopback only).

- :mod:`~sip_test_rig.script`: what a phone does (pure, JSON-serialisable);
- :mod:`~sip_test_rig.fleet`: async API that runs phones in worker processes;
- :mod:`~sip_test_rig.worker` and :mod:`~sip_test_rig.phone`: the pjsua2 side;
- ``python -m sip_test_rig call ...``: one call from the command line.

Importing this package does not import pjsua2; only worker processes do.
"""

from sip_test_rig.errors import (
    CommandFailed,
    ProtocolError,
    RigError,
    RigTimeout,
    ScriptError,
    WorkerFailed,
)
from sip_test_rig.fleet import Fleet
from sip_test_rig.results import CallResult
from sip_test_rig.rig_phone import CallHandle, RigPhone
from sip_test_rig.script import (
    AnsweringMachine,
    CallScript,
    DtmfPress,
    InCall,
    PhoneScript,
    Playback,
    RingAction,
    dtmf_sequence,
    parse_dtmf_option,
)

__all__ = [
    "AnsweringMachine",
    "CallHandle",
    "CallResult",
    "CallScript",
    "CommandFailed",
    "DtmfPress",
    "Fleet",
    "InCall",
    "PhoneScript",
    "Playback",
    "ProtocolError",
    "RigError",
    "RigPhone",
    "RigTimeout",
    "RingAction",
    "ScriptError",
    "WorkerFailed",
    "dtmf_sequence",
    "parse_dtmf_option",
]
