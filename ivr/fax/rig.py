"""The rig's fax machines: simulated fax members for tests, the demo and bench/fax.py.

They live in the sandbox's own Asterisk (dialplans/pjsip_fax_rig.conf.j2 and
extensions_fax_rig.conf.j2): the controller dials ``PJSIP/4416329609NN`` exactly as it
dials a voice member; that endpoint's contact points back at the same Asterisk, where an
authenticated "line" endpoint plays the machine (ReceiveFAX, busy, no answer...). Asterisk
talks to itself over loopback SIP, RTP and UDPTL, so the fax really crosses G.711 audio or
T.38, as it would to a shop's machine.

Numbers come from Ofcom's drama range (01632 960900-960909), away from the rig phones.
This table mirrors the templates; tests/unit/test_fax_rig.py checks that they agree.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ivr.ami.messages import Event
from ivr.fax.render import A4_FINE_HEIGHT
from ivr.fax.sender import FaxSpool
from ivr.fax.tiff import PAGE_WIDTH
from ivr.sandbox.info import SandboxInfo

#: The UserEvent a rig machine sends from its h extension after ReceiveFAX.
RIG_USER_EVENT = "WatchlineRigFax"


class RigBehaviour(enum.Enum):
    FAX = "answers and receives the fax"
    BUSY = "busy (486)"
    NO_ANSWER = "rings, never answers"
    CUT_AFTER_FIRST_PAGE = "receives, then loses the line during page 2"
    VOICE = "a person answers: no fax tones"
    BUSY_THEN_FAX = "busy on its first call, then answers and receives"


@dataclass(frozen=True)
class RigFaxMachine:
    #: The last three digits, 900-909.
    suffix: str
    behaviour: RigBehaviour
    #: Whether its line offers and accepts T.38 (else the fax goes as G.711 audio).
    t38: bool

    @property
    def digits(self) -> str:
        return f"441632960{self.suffix}"

    @property
    def number(self) -> str:
        return f"+{self.digits}"

    @property
    def channel(self) -> str:
        """What the controller dials, as for any member."""
        return f"PJSIP/{self.digits}"

    @property
    def line(self) -> str:
        """The machine-side endpoint (and SIP username) in the rig's Asterisk."""
        return f"rigfax-{self.suffix}"


FAX_T38 = RigFaxMachine("900", RigBehaviour.FAX, t38=True)
FAX_AUDIO = RigFaxMachine("901", RigBehaviour.FAX, t38=False)
BUSY = RigFaxMachine("902", RigBehaviour.BUSY, t38=False)
NO_ANSWER = RigFaxMachine("903", RigBehaviour.NO_ANSWER, t38=False)
CUT_AFTER_FIRST_PAGE = RigFaxMachine("904", RigBehaviour.CUT_AFTER_FIRST_PAGE, t38=False)
VOICE = RigFaxMachine("905", RigBehaviour.VOICE, t38=False)
FAX_T38_2 = RigFaxMachine("906", RigBehaviour.FAX, t38=True)
FAX_AUDIO_2 = RigFaxMachine("907", RigBehaviour.FAX, t38=False)
BUSY_THEN_FAX = RigFaxMachine("908", RigBehaviour.BUSY_THEN_FAX, t38=False)

MACHINES = (
    FAX_T38,
    FAX_AUDIO,
    BUSY,
    NO_ANSWER,
    CUT_AFTER_FIRST_PAGE,
    VOICE,
    FAX_T38_2,
    FAX_AUDIO_2,
    BUSY_THEN_FAX,
)
#: Seconds after answering that machine 904 hangs up (TIMEOUT(absolute) in its dialplan).
CUT_AFTER_S = 75


def slow_page(seed: int = 1, black: float = 0.1) -> Image.Image:
    """A fax page that takes minutes to send: random dots compress badly (about 4 min at
    14400 bit/s for the defaults). Sent as page 2 to machine 904, it makes "hangs up after
    page 1" deterministic: page 1 (about 40 s) ends well before CUT_AFTER_S, page 2 well
    after it, whatever the load on the machine."""
    rng = np.random.default_rng(seed)
    white = rng.random((A4_FINE_HEIGHT, PAGE_WIDTH)) >= black
    return Image.fromarray(white).convert("1")


def machine(suffix_or_number: str) -> RigFaxMachine:
    """Look a machine up by suffix (``900``), digits or E.164 number."""
    for m in MACHINES:
        if suffix_or_number in (m.suffix, m.digits, m.number):
            return m
    raise KeyError(suffix_or_number)


def sandbox_spool(info: SandboxInfo) -> FaxSpool:
    """The outgoing fax folder of a sandbox: written on the host, read by its Asterisk."""
    spool = FaxSpool(
        host_dir=info.fax_dir / "outgoing",
        asterisk_dir=f"{info.fax_dir_in_asterisk}/outgoing",
    )
    spool.host_dir.mkdir(parents=True, exist_ok=True)
    return spool


@dataclass(frozen=True)
class RigReceipt:
    """What a rig machine reported after ReceiveFAX."""

    machine: str
    status: str | None
    pages: int
    error: str | None
    mode: str | None
    bitrate: int | None
    #: The received TIFF, on the host.
    path: Path | None


def is_rig_receipt(event: Event, m: RigFaxMachine | None = None) -> bool:
    if event.name.casefold() != "userevent":
        return False
    if (event.get("UserEvent") or "").casefold() != RIG_USER_EVENT.casefold():
        return False
    return m is None or event.get("Machine") == m.suffix


def parse_rig_receipt(event: Event, info: SandboxInfo) -> RigReceipt:
    inside = (event.get("File") or "").strip()
    prefix = info.fax_dir_in_asterisk.rstrip("/") + "/"
    path = info.fax_dir / inside.removeprefix(prefix) if inside.startswith(prefix) else None
    pages = (event.get("Pages") or "").strip()
    bitrate = (event.get("Bitrate") or "").strip()
    return RigReceipt(
        machine=event.get("Machine") or "",
        status=(event.get("Status") or "").strip() or None,
        pages=int(pages) if pages.isdigit() else 0,
        error=(event.get("Error") or "").strip() or None,
        mode=(event.get("Mode") or "").strip() or None,
        bitrate=int(bitrate) if bitrate.isdigit() else None,
        path=path,
    )
