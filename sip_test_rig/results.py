"""What the rig reports about a finished call; pure."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from sip_test_rig.errors import ProtocolError


@dataclass(frozen=True)
class CallResult:
    """One finished call, seen from a rig phone.

    ``sip_status`` is the last SIP status of the INVITE dialog (200 for a call that was
    answered, 486 busy, 603 declined, 487 cancelled, 408 no answer...). ``ended_by`` says
    whether this phone hung up (``local``: its script, a hang-up command, a ring timeout, a
    rejection) or the far end did (``remote``). ``recording`` is what the phone heard, as an
    8 kHz mono 16-bit WAV, complete on disk by the time the result exists.
    """

    call_id: str
    phone_id: str
    direction: Literal["incoming", "outgoing"]
    answered: bool
    sip_status: int
    reason: str
    duration_s: float
    ended_by: Literal["local", "remote"]
    digits_sent: str
    digits_received: str
    recording: Path | None
    remote_uri: str
    #: the receive jitter buffer's counters at the end (``empty``: frames concealed for
    #: want of audio; ``discard``: frames dropped); empty if the call had no audio. They
    #: mean something only where the phone listened (recorded): otherwise nothing reads
    #: the buffer, and every frame counts as discarded
    jitter_buffer: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_event(cls, fields: dict[str, Any]) -> CallResult:
        """Build from a ``call_ended`` event's fields."""
        try:
            recording = fields["recording"]
            return cls(
                call_id=str(fields["call_id"]),
                phone_id=str(fields["phone_id"]),
                direction="incoming" if fields["direction"] == "incoming" else "outgoing",
                answered=bool(fields["answered"]),
                sip_status=int(fields["sip_status"]),
                reason=str(fields["reason"]),
                duration_s=float(fields["duration_s"]),
                ended_by="local" if fields["ended_by"] == "local" else "remote",
                digits_sent=str(fields["digits_sent"]),
                digits_received=str(fields["digits_received"]),
                recording=Path(recording) if recording else None,
                remote_uri=str(fields["remote_uri"]),
                jitter_buffer={
                    str(k): int(v) for k, v in dict(fields.get("jitter_buffer") or {}).items()
                },
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ProtocolError(f"bad call_ended event {fields!r}: {e!r}") from None

    def to_json_dict(self) -> dict[str, Any]:
        body = asdict(self)
        body["recording"] = str(self.recording) if self.recording else None
        return body
