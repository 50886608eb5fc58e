"""Send one fax over AMI and learn what became of it.

    spool = FaxSpool(host_dir=Path("/var/lib/watchline/fax"), asterisk_dir="/srv/fax")
    host_path, asterisk_path = spool.paths("c42-m17.tif")
    render_fax(bulletin, host_path)
    result = await send_fax(ami, "PJSIP/441632960900", asterisk_path,
                            attempt_id="a-981", timeout_s=600)
    outcome, detail = fax_outcome(result, expected_pages=2)

The call is an AMI Originate into ``[watchline-fax-send]`` (dialplans/extensions.conf), which
runs SendFAX once the fax machine answers and reports the result from its ``h`` extension
in a ``UserEvent: WatchlineFax``. We subscribe to that event, and to ``Hangup`` and
``DialEnd`` of our ChannelId (for busy and no-answer causes), *before* originating, so no
event can slip past. Every wait is bounded: an attempt that overruns ``timeout_s`` is hung
up and reported with ``timed_out``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ivr.ami.client import AmiClient
from ivr.ami.messages import Action, Event
from ivr.ami.subscription import EventSubscription
from ivr.errors import AmiError
from ivr.fax.result import FaxReport, FaxResult, is_fax_report, parse_fax_report

log = logging.getLogger(__name__)

#: The dialplan context that runs SendFAX on the answered channel.
FAX_SEND_CONTEXT = "watchline-fax-send"
#: After an unanswered originate, how long its Hangup event may still take to arrive.
_HANGUP_GRACE_S = 3.0
#: After the Hangup, how long the h extension's report may lag behind it.
_REPORT_GRACE_S = 2.0
#: SendFAX's argument is split on commas by the dialplan: keep file names plain.
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9_./-]+$")


@dataclass(frozen=True)
class FaxSpool:
    """Where fax files go: a folder on the controller's host and the same folder as
    Asterisk sees it (they differ when Asterisk runs in a chroot or a container)."""

    host_dir: Path
    asterisk_dir: str

    def paths(self, name: str) -> tuple[Path, str]:
        """(host path, Asterisk path) of file ``name`` in the spool."""
        if "/" in name or name.startswith(".") or not _SAFE_PATH.match(f"/{name}"):
            raise ValueError(f"unsafe fax file name {name!r}")
        return self.host_dir / name, f"{self.asterisk_dir.rstrip('/')}/{name}"


@dataclass
class _Observed:
    """What the subscription has told us so far about one attempt."""

    report: FaxReport | None = None
    hangup_seen: bool = False
    hangup_cause: int | None = None
    hangup_cause_text: str | None = None
    dial_status: str | None = None
    names: list[str] = field(default_factory=list)

    def take(self, event: Event) -> None:
        self.names.append(event.name)
        name = event.name.casefold()
        if name == "userevent":
            self.report = parse_fax_report(event)
        elif name == "hangup":
            self.hangup_seen = True
            self.hangup_cause = _int(event.get("Cause"))
            self.hangup_cause_text = event.get("Cause-txt")
        elif name == "dialend":
            self.dial_status = event.get("DialStatus") or self.dial_status


async def send_fax(
    ami: AmiClient,
    number_channel: str,
    tiff_path_in_asterisk: str,
    *,
    attempt_id: str,
    timeout_s: float,
    ring_timeout_s: float = 45.0,
    channel_id: str | None = None,
    caller_id: str | None = None,
) -> FaxResult:
    """Dial ``number_channel`` (``PJSIP/<digits>``) and send the TIFF at
    ``tiff_path_in_asterisk`` (a path as Asterisk sees it).

    ``timeout_s`` bounds the whole attempt, ringing included; allow about 60 s per page in
    audio mode. Raises ValueError for an unsafe path, AmiError when Asterisk refuses the
    originate or the AMI link is down (then no result is known: reconcile by
    ``channel_id`` before trying again).
    """
    if not _SAFE_PATH.match(tiff_path_in_asterisk):
        raise ValueError(f"unsafe fax file path {tiff_path_in_asterisk!r}")
    if ring_timeout_s <= 0 or timeout_s <= ring_timeout_s:
        raise ValueError("need 0 < ring_timeout_s < timeout_s")
    channel_id = channel_id or str(uuid.uuid4())
    started = time.monotonic()
    seen = _Observed()

    def ours(event: Event) -> bool:
        if event.name.casefold() == "userevent":
            return is_fax_report(event, attempt_id, channel_id)
        return channel_id in (event.get("Uniqueid"), event.get("DestUniqueid"))

    with ami.subscribe(names={"UserEvent", "Hangup", "DialEnd"}, filter=ours) as events:
        originate = await ami.originate(
            number_channel,
            context=FAX_SEND_CONTEXT,
            exten="s",
            priority=1,
            channel_id=channel_id,
            variables={"WL_ATTEMPT": attempt_id, "WL_FAX_FILE": tiff_path_in_asterisk},
            timeout_ms=int(ring_timeout_s * 1000),
            caller_id=caller_id,
            response_timeout=ring_timeout_s + 30,
        )
        log.info(
            "fax attempt %s to %s: originate reason %d (%s)",
            attempt_id,
            number_channel,
            originate.reason,
            "answered" if originate.answered else "not answered",
        )
        timed_out = False
        if not originate.answered:
            await _collect(events, seen, lambda s: s.hangup_seen, _HANGUP_GRACE_S)
        else:
            remaining = timeout_s - (time.monotonic() - started)
            if not await _collect(events, seen, lambda s: s.hangup_seen, remaining):
                timed_out = True
                log.warning("fax attempt %s overran %.0f s; hanging up", attempt_id, timeout_s)
                await _hang_up(ami, channel_id)
                await _collect(events, seen, lambda s: s.hangup_seen, _HANGUP_GRACE_S)
            # The h extension's UserEvent normally precedes the Hangup event; allow a lag.
            await _collect(events, seen, lambda s: s.report is not None, _REPORT_GRACE_S)

    report = seen.report
    return FaxResult(
        attempt_id=attempt_id,
        channel_id=channel_id,
        answered=originate.answered,
        originate_reason=originate.reason,
        status=report.status if report else None,
        pages=report.pages if report else 0,
        error=report.error if report else None,
        bitrate=report.bitrate if report else None,
        mode=report.mode if report else None,
        hangup_cause=seen.hangup_cause,
        hangup_cause_text=seen.hangup_cause_text,
        dial_status=seen.dial_status,
        timed_out=timed_out,
        duration_s=time.monotonic() - started,
    )


async def _collect(
    events: EventSubscription,
    seen: _Observed,
    until: Callable[[_Observed], bool],
    timeout_s: float,
) -> bool:
    """Feed events into ``seen`` until ``until(seen)`` holds; False after ``timeout_s``."""
    if until(seen):
        return True
    try:
        async with asyncio.timeout(max(0.0, timeout_s)):
            async for event in events:
                seen.take(event)
                if until(seen):
                    return True
    except TimeoutError:
        return False
    return until(seen)  # the subscription closed (client closing)


async def _hang_up(ami: AmiClient, channel_id: str) -> None:
    # AMI Hangup finds a channel by name or by uniqueid, and our ChannelId is its uniqueid.
    try:
        await ami.action(Action("Hangup", {"Channel": channel_id, "Cause": "16"}))
    except AmiError as e:
        # Already gone (it ended as we gave up) or the link is down: either way, nothing
        # more we can do here; the caller sees timed_out.
        log.info("hang-up of overrunning fax channel %s: %s", channel_id, e)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None
