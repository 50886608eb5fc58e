"""The JSON-lines protocol between the fleet and a phone worker; pure (no I/O).

One JSON object per line, UTF-8. The fleet writes commands to the worker's stdin; the
worker writes events to its stdout (pjsua's own logging goes to stderr).

Commands (key ``cmd``)::

    add_phone   phone_id, username, password, registrar ([host, port] or null), script
    set_script  phone_id, script                     (new behaviour for later calls)
    call        phone_id, call_id, script            (a CallScript)
    hangup      call_id
    shutdown

Events (key ``event``)::

    ready         pid, sip_port                      worker up, UDP transport bound
    phone_added   phone_id, uri                      account created (uri: dial it directly)
    registered    phone_id, status, reason           registrar answered 2xx
    registration_failed  phone_id, status, reason
    script_set    phone_id                           set_script done (later calls follow it)
    incoming      phone_id, call_id, remote_uri
    answered      phone_id, call_id
    dtmf_sent     phone_id, call_id, digit, at_s
    dtmf_received phone_id, call_id, digit
    call_ended    phone_id, call_id, direction, answered, sip_status, reason, duration_s,
                  ended_by, recording, digits_sent, digits_received, remote_uri
    error         message, [command, phone_id, call_id]
    stopped                                          clean shutdown done; exit code 0 follows
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sip_test_rig.errors import ProtocolError, ScriptError
from sip_test_rig.script import CallScript, PhoneScript, to_json_dict

#: Limits of the pjsua2-python wheel per worker process (ARCHITECTURE.md): a 9th account
#: aborts the process, a 5th call fails.
MAX_ACCOUNTS = 8
MAX_CALLS = 4


class Event(StrEnum):
    READY = "ready"
    PHONE_ADDED = "phone_added"
    REGISTERED = "registered"
    REGISTRATION_FAILED = "registration_failed"
    SCRIPT_SET = "script_set"
    INCOMING = "incoming"
    ANSWERED = "answered"
    DTMF_SENT = "dtmf_sent"
    DTMF_RECEIVED = "dtmf_received"
    CALL_ENDED = "call_ended"
    ERROR = "error"
    STOPPED = "stopped"


@dataclass(frozen=True)
class AddPhone:
    phone_id: str
    username: str
    password: str
    registrar: tuple[str, int] | None
    script: PhoneScript


@dataclass(frozen=True)
class SetScript:
    phone_id: str
    script: PhoneScript


@dataclass(frozen=True)
class PlaceCall:
    phone_id: str
    call_id: str
    script: CallScript


@dataclass(frozen=True)
class Hangup:
    call_id: str


@dataclass(frozen=True)
class Shutdown:
    pass


Command = AddPhone | SetScript | PlaceCall | Hangup | Shutdown


def encode_command(command: Command) -> bytes:
    """One command as a JSON line."""
    match command:
        case AddPhone(phone_id, username, password, registrar, script):
            body: dict[str, Any] = {
                "cmd": "add_phone",
                "phone_id": phone_id,
                "username": username,
                "password": password,
                "registrar": list(registrar) if registrar else None,
                "script": to_json_dict(script),
            }
        case SetScript(phone_id, script):
            body = {"cmd": "set_script", "phone_id": phone_id, "script": to_json_dict(script)}
        case PlaceCall(phone_id, call_id, script):
            body = {"cmd": "call", "phone_id": phone_id, "call_id": call_id}
            body["script"] = to_json_dict(script)
        case Hangup(call_id):
            body = {"cmd": "hangup", "call_id": call_id}
        case Shutdown():
            body = {"cmd": "shutdown"}
    return _line(body)


def decode_command(line: bytes) -> Command:
    """Parse one command line; :class:`ProtocolError` says what is wrong with it."""
    body = _object(line)
    cmd = body.get("cmd")
    try:
        match cmd:
            case "add_phone":
                return AddPhone(
                    _str(body, "phone_id"),
                    _str(body, "username"),
                    _str(body, "password", allow_empty=True),
                    _registrar(body.get("registrar")),
                    PhoneScript.from_json_dict(body.get("script", {})),
                )
            case "set_script":
                phone_script = PhoneScript.from_json_dict(body.get("script", {}))
                return SetScript(_str(body, "phone_id"), phone_script)
            case "call":
                call_script = CallScript.from_json_dict(body.get("script"))
                return PlaceCall(_str(body, "phone_id"), _str(body, "call_id"), call_script)
            case "hangup":
                return Hangup(_str(body, "call_id"))
            case "shutdown":
                return Shutdown()
    except ScriptError as e:
        raise ProtocolError(f"bad {cmd} command: {e}") from None
    raise ProtocolError(f"unknown command {cmd!r}")


def encode_event(event: Event, **fields: Any) -> bytes:
    """One event as a JSON line."""
    return _line({"event": event.value, **fields})


def decode_event(line: bytes) -> tuple[Event, dict[str, Any]]:
    """Parse one event line into its kind and fields."""
    body = _object(line)
    try:
        return Event(body.pop("event")), body
    except (KeyError, ValueError):
        raise ProtocolError(f"not an event line: {line[:200]!r}") from None


def _line(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode() + b"\n"


def _object(line: bytes) -> dict[str, Any]:
    try:
        body = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ProtocolError(f"not JSON ({e}): {line[:200]!r}") from None
    if not isinstance(body, dict):
        raise ProtocolError(f"expected a JSON object: {line[:200]!r}")
    return body


def _str(body: dict[str, Any], key: str, *, allow_empty: bool = False) -> str:
    value = body.get(key)
    if not isinstance(value, str) or (not value and not allow_empty):
        raise ProtocolError(f"{key} must be a non-empty string, got {value!r}")
    return value


def _registrar(value: object) -> tuple[str, int] | None:
    if value is None:
        return None
    match value:
        case [str(host), int(port)] if 0 < port < 65536:
            return host, port
    raise ProtocolError(f"registrar must be [host, port] or null, got {value!r}")
