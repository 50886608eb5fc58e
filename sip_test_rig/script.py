"""Behaviour scripts for simulated phones: pure, immutable, JSON-serialisable.

A script says what a phone does, as times in seconds measured from the moment the call is
answered (both directions):

- :class:`PhoneScript`: how a phone treats calls that ring it (answer after a delay, never
  answer, reject busy 486 or decline 603, or behave as an answering machine), plus what it
  does once connected;
- :class:`CallScript`: an outgoing call (``to`` an extension or a loopback SIP URI) plus
  what the caller does once connected;
- :class:`InCall`: the in-call part both share (DTMF presses, WAV playback, recording what
  the phone hears, hanging up).

Scripts cross the process boundary to the phone workers as JSON (:func:`to_json_dict`,
``from_json_dict``). ``--dtmf "1@3.0,#@20"`` of the CLI is parsed by :func:`parse_dtmf_option`.
"""

from __future__ import annotations

import math
from dataclasses import MISSING, dataclass, fields, is_dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Self

from sip_test_rig.errors import ScriptError

#: Keys a phone can send as RFC 2833 events.
DTMF_DIGITS = "0123456789*#ABCD"
#: Longest time a script may mention; a larger number is a typo, not a test.
MAX_SCRIPT_S = 3600.0
#: ``record_to`` may contain this placeholder so that every call gets its own file.
CALL_ID_PLACEHOLDER = "{call_id}"


class RingAction(StrEnum):
    """What a phone does when it rings."""

    ANSWER = "answer"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    DECLINE = "decline"


#: Final SIP status a phone sends when it rejects a call.
REJECT_STATUS: dict[RingAction, int] = {RingAction.BUSY: 486, RingAction.DECLINE: 603}


def _seconds(name: str, value: object, *, positive: bool = False) -> float:
    """Validate a script time: a finite number of seconds in [0, MAX_SCRIPT_S]."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScriptError(f"{name} must be a number of seconds, got {value!r}")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0 or seconds > MAX_SCRIPT_S:
        raise ScriptError(f"{name} must be between 0 and {MAX_SCRIPT_S:g} s, got {value!r}")
    if positive and seconds == 0:
        raise ScriptError(f"{name} must be more than 0 s")
    return seconds


def _set(obj: object, name: str, value: object) -> None:
    # Frozen dataclasses normalise their own fields (str -> Path, list -> tuple) on creation.
    object.__setattr__(obj, name, value)


def _path(name: str, value: object) -> Path:
    if isinstance(value, Path):
        return value
    if isinstance(value, str) and value.strip():
        return Path(value)
    raise ScriptError(f"{name} must be a file path, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class DtmfPress:
    """One key press, sent ``at_s`` seconds after the call is answered."""

    digit: str
    at_s: float

    def __post_init__(self) -> None:
        if not isinstance(self.digit, str) or len(self.digit) != 1:
            raise ScriptError(f"DTMF digit must be one character, got {self.digit!r}")
        if self.digit not in DTMF_DIGITS:
            raise ScriptError(f"DTMF digit {self.digit!r} is not one of {DTMF_DIGITS}")
        _set(self, "at_s", _seconds("DTMF time", self.at_s))

    @classmethod
    def from_json_dict(cls, data: object) -> Self:
        return cls(**_fields_of(cls, data))


@dataclass(frozen=True, kw_only=True)
class Playback:
    """Play a WAV file (16-bit PCM mono, 8 or 16 kHz) into the call from ``at_s``."""

    path: Path
    at_s: float = 0.0

    def __post_init__(self) -> None:
        _set(self, "path", _path("playback path", self.path))
        _set(self, "at_s", _seconds("playback start", self.at_s))

    @classmethod
    def from_json_dict(cls, data: object) -> Self:
        return cls(**_fields_of(cls, data))


@dataclass(frozen=True, kw_only=True)
class AnsweringMachine:
    """Play ``greeting``, then a ``beep_hz`` tone for ``beep_s``, then listen ``record_s``.

    The phone hangs up when ``record_s`` is over. If the script has ``record_to``, only the
    message after the beep is recorded, as a real machine would.
    """

    greeting: Path
    beep_hz: float = 1000.0
    beep_s: float = 0.5
    record_s: float = 10.0

    def __post_init__(self) -> None:
        _set(self, "greeting", _path("answering machine greeting", self.greeting))
        hz = _seconds("beep frequency", self.beep_hz, positive=True)
        if not 100 <= hz <= 3400:
            # Outside the telephone band the beep would not survive G.711 to the far end.
            raise ScriptError(f"beep frequency must be 100..3400 Hz, got {self.beep_hz!r}")
        _set(self, "beep_hz", hz)
        _set(self, "beep_s", _seconds("beep length", self.beep_s, positive=True))
        _set(
            self,
            "record_s",
            _seconds("answering machine record time", self.record_s, positive=True),
        )

    @classmethod
    def from_json_dict(cls, data: object) -> Self:
        return cls(**_fields_of(cls, data))


@dataclass(frozen=True, kw_only=True)
class InCall:
    """What a phone does once a call is answered; times are seconds after the answer.

    ``record_to`` records what the phone hears (8 kHz mono 16-bit WAV) from the answer
    until the call ends; put ``{call_id}`` in it when a phone takes several calls.
    ``hangup_after_s`` of None leaves hanging up to the far end.
    """

    dtmf: tuple[DtmfPress, ...] = ()
    play: tuple[Playback, ...] = ()
    record_to: Path | None = None
    hangup_after_s: float | None = None

    def __post_init__(self) -> None:
        for name, kind in (("dtmf", DtmfPress), ("play", Playback)):
            items = getattr(self, name)
            if not isinstance(items, list | tuple) or not all(isinstance(i, kind) for i in items):
                raise ScriptError(f"{name} must be a sequence of {kind.__name__}, got {items!r}")
            _set(self, name, tuple(items))
        if self.record_to is not None:
            _set(self, "record_to", _path("record_to", self.record_to))
        if self.hangup_after_s is not None:
            _set(
                self,
                "hangup_after_s",
                _seconds("hangup_after_s", self.hangup_after_s, positive=True),
            )

    def recording_path(self, call_id: str) -> Path | None:
        """Where this call's recording goes (``{call_id}`` filled in), or None."""
        if self.record_to is None:
            return None
        return Path(str(self.record_to).replace(CALL_ID_PLACEHOLDER, call_id))

    @property
    def digits(self) -> str:
        """The digits this script sends, in the order it sends them."""
        return "".join(p.digit for p in sorted(self.dtmf, key=lambda p: p.at_s))

    @classmethod
    def from_json_dict(cls, data: object) -> Self:
        d = _fields_of(cls, data)
        if "dtmf" in d:
            d["dtmf"] = tuple(DtmfPress.from_json_dict(x) for x in _list("dtmf", d["dtmf"]))
        if "play" in d:
            d["play"] = tuple(Playback.from_json_dict(x) for x in _list("play", d["play"]))
        if "on_ring" in d:
            d["on_ring"] = _ring_action(d["on_ring"])
        if d.get("answering_machine") is not None:
            d["answering_machine"] = AnsweringMachine.from_json_dict(d["answering_machine"])
        return cls(**d)


@dataclass(frozen=True, kw_only=True)
class PhoneScript(InCall):
    """How a phone treats calls that ring it.

    ``answer_after_s`` is how long it rings before the phone answers, or rejects with
    486 (``BUSY``) / 603 (``DECLINE``). ``NO_ANSWER`` rings until the caller gives up.
    """

    on_ring: RingAction = RingAction.ANSWER
    answer_after_s: float = 0.0
    answering_machine: AnsweringMachine | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _set(self, "on_ring", _ring_action(self.on_ring))
        _set(self, "answer_after_s", _seconds("answer_after_s", self.answer_after_s))
        if self.answering_machine is not None:
            if not isinstance(self.answering_machine, AnsweringMachine):
                raise ScriptError("answering_machine must be an AnsweringMachine")
            if self.on_ring is not RingAction.ANSWER:
                raise ScriptError("an answering machine must answer (on_ring='answer')")


@dataclass(frozen=True, kw_only=True)
class CallScript(InCall):
    """An outgoing call to ``to`` (an extension at the registrar, or a loopback SIP URI).

    The caller cancels if nobody answers within ``ring_timeout_s``.
    """

    to: str
    ring_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.to, str) or not self.to or any(c.isspace() for c in self.to):
            raise ScriptError(f"call target must be an extension or SIP URI, got {self.to!r}")
        _set(self, "ring_timeout_s", _seconds("ring_timeout_s", self.ring_timeout_s, positive=True))

    @classmethod
    def of(cls, to: str, in_call: InCall | None = None, *, ring_timeout_s: float = 30.0) -> Self:
        """A call to ``to`` doing what ``in_call`` says once answered."""
        base = in_call or InCall()
        return cls(
            to=to,
            ring_timeout_s=ring_timeout_s,
            dtmf=base.dtmf,
            play=base.play,
            record_to=base.record_to,
            hangup_after_s=base.hangup_after_s,
        )


def dtmf_sequence(
    digits: str, *, start_s: float = 1.0, gap_s: float = 0.5
) -> tuple[DtmfPress, ...]:
    """Presses for ``digits`` typed one after another: ``start_s``, then every ``gap_s``."""
    gap = _seconds("gap_s", gap_s, positive=True)
    start = _seconds("start_s", start_s)
    return tuple(DtmfPress(digit=d, at_s=start + i * gap) for i, d in enumerate(digits))


def parse_dtmf_option(text: str) -> tuple[DtmfPress, ...]:
    """Parse the CLI's ``--dtmf`` value: comma-separated ``DIGIT@SECONDS`` items.

    ``"1@3.0,#@20"`` presses 1 at 3 s and # at 20 s after the answer. Spaces are ignored and
    a-d are taken as A-D. Garbage raises :class:`ScriptError` naming the bad item.
    """
    if not text.strip():
        raise ScriptError("--dtmf is empty; expected items like '1@3.0,#@20'")
    presses = []
    for position, raw in enumerate(text.split(","), start=1):
        item = raw.strip()
        if not item:
            raise ScriptError(f"--dtmf item {position} is empty (stray comma?) in {text!r}")
        digit, at, when = item.partition("@")
        digit, when = digit.strip().upper(), when.strip()
        if not at:
            raise ScriptError(f"--dtmf item {item!r} has no '@'; write DIGIT@SECONDS, e.g. '1@3.0'")
        if len(digit) != 1 or digit not in DTMF_DIGITS:
            raise ScriptError(
                f"--dtmf item {item!r}: expected one of {DTMF_DIGITS} before '@', got {digit!r}"
            )
        try:
            seconds = float(when)
        except ValueError:
            raise ScriptError(
                f"--dtmf item {item!r}: {when!r} is not a number of seconds"
            ) from None
        try:
            presses.append(DtmfPress(digit=digit, at_s=seconds))
        except ScriptError as e:
            raise ScriptError(f"--dtmf item {item!r}: {e}") from None
    return tuple(presses)


def format_dtmf_option(presses: tuple[DtmfPress, ...]) -> str:
    """The inverse of :func:`parse_dtmf_option`."""
    return ",".join(f"{p.digit}@{p.at_s:g}" for p in presses)


def to_json_dict(obj: object) -> dict[str, Any]:
    """A script as plain JSON types (paths as strings, tuples as lists, enums as values)."""
    if not is_dataclass(obj) or isinstance(obj, type):
        raise TypeError(f"not a script dataclass: {obj!r}")
    return {f.name: _jsonable(getattr(obj, f.name)) for f in fields(obj)}


def _jsonable(value: object) -> Any:
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        return to_json_dict(value)
    return value


def _fields_of(cls: type, data: object) -> dict[str, Any]:
    """The keys of ``data`` after checking it is a dict with no keys ``cls`` lacks."""
    if not isinstance(data, dict):
        raise ScriptError(f"{cls.__name__} must be a JSON object, got {data!r}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ScriptError(f"{cls.__name__} has no field(s) {', '.join(unknown)}")
    required = {
        f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING
    }
    missing = sorted(required - set(data))
    if missing:
        raise ScriptError(f"{cls.__name__} needs field(s) {', '.join(missing)}")
    return dict(data)


def _list(name: str, value: object) -> list[object]:
    if not isinstance(value, list | tuple):
        raise ScriptError(f"{name} must be a list, got {value!r}")
    return list(value)


def _ring_action(value: object) -> RingAction:
    try:
        return RingAction(str(value))
    except ValueError:
        choices = ", ".join(a.value for a in RingAction)
        raise ScriptError(f"on_ring must be one of {choices}, got {value!r}") from None
