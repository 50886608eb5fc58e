"""Demo act: a bulletin broadcast to a dozen rig phones and one fax machine.

The members behave as real ones do: most confirm with 1, one presses 9, one is out and
their answering machine takes the message, one is on the phone (busy), one never picks
up. A pub receives the bulletin by fax. The act prints the delivery report, and where the
received fax is saved (TIFF, and PNG for a person to look at).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

from rich.table import Table

from ivr.bulletin_line.demo import record_bulletin_by_phone
from ivr.campaigns.component import CampaignsComponent
from ivr.demo.context import DemoContext
from ivr.fax import rig
from ivr.fax.tiff import tiff_to_png
from ivr.members.fields import DEFAULT_TIMEZONE, quiet_fields_away_from
from ivr.speech.tts.spoken import spoken_wav
from ivr.store import members_repo
from ivr.store.models import Bulletin
from sip_test_rig.script import AnsweringMachine, PhoneScript, Playback, RingAction, dtmf_sequence

GROUP = "Riverside Neighbourhood Watch"
BULLETIN = (
    "Police advise residents to lock garden sheds tonight. "
    "Three bicycles were stolen in Riverside this week."
)


def _human(key: str | None) -> PhoneScript:
    hello = Playback(path=spoken_wav("Hello?"), at_s=0.2)
    keys = dtmf_sequence(key, start_s=7) if key else ()
    return PhoneScript(answer_after_s=1.5, play=(hello,), dtmf=keys, hangup_after_s=60)


async def bulletin_broadcast(ctx: DemoContext) -> None:
    """Members first; then a coordinator records the bulletin by phone and sends it now."""
    ctx.console.rule("[bold]A coordinator records a bulletin by phone")
    machine = PhoneScript(answer_after_s=2, answering_machine=AnsweringMachine(
        greeting=spoken_wav("Hello, this is the Khan household. Please leave a message "
                            "after the tone."), record_s=30))  # fmt: skip
    cast: list[tuple[str, PhoneScript]] = [
        *((f"Member {n}", _human("1")) for n in ("Ada", "Ben", "Cal", "Dee", "Eli", "Flo")),
        ("Member Gil", _human("1")),
        ("Member Hui", _human("1")),
        ("Member Ira (stop calls)", _human("9")),
        ("Member Jay (machine)", machine),
        ("Member Kim (busy)", PhoneScript(on_ring=RingAction.BUSY)),
        ("Member Lou (out)", PhoneScript(on_ring=RingAction.NO_ANSWER)),
    ]
    endpoints = ctx.take_endpoints(len(cast))
    phones = [await ctx.fleet.add_phone(e.name, e.password, s)
              for e, (_, s) in zip(endpoints, cast, strict=True)]  # fmt: skip
    await ctx.fleet.wait_registered(phones, timeout_s=30)
    comp = ctx.controller.component("campaigns")
    assert isinstance(comp, CampaignsComponent) and ctx.controller.db is not None
    async with ctx.controller.db.session(write=True) as s:
        group = await members_repo.create_group(s, GROUP, area="Riverside")
        # Callable whatever hour the demo runs: the default quiet hours (20:00-09:00 local)
        # would hold every call until morning, so the cast's quiet spell is 12 hours away.
        quiet = quiet_fields_away_from(datetime.now(ZoneInfo(DEFAULT_TIMEZONE)))
        rows = [
            {"name": name, "phone": e.number, **quiet}
            for (name, _), e in zip(cast, endpoints, strict=True)
        ]
        rows.append({"name": "The Crown (fax)", "phone": "+441632960959",
                     "fax": rig.FAX_T38.number, "channel": "fax", **quiet})  # fmt: skip
        ids = await members_repo.insert_members(s, rows)
        await members_repo.add_memberships(s, [(i, group.id) for i in ids.values()])

    (coordinator,) = ctx.take_endpoints(1)
    ctx.console.print(f"  the coordinator rings 2000 from {coordinator.number}, keys the PIN,")
    ctx.console.print("  records the bulletin, accepts it, picks the group and sends it now ...")
    cid = await record_bulletin_by_phone(
        ctx.controller, ctx.fleet, coordinator, [GROUP], spoken_wav(BULLETIN)
    )
    summary = await comp.service.summary(cid)
    ctx.record("coordinator", True, f"recorded by phone; campaign {cid} to {summary.total} members")

    ctx.console.rule("[bold]The bulletin is broadcast to watch members")
    ctx.console.print(f"  campaign {cid}: {len(rows)} members of {GROUP} (one by fax) ...")
    # The pub's fax waits for the recording's transcript to be approved, as a coordinator
    # would in the API once speech recognition has written it.
    transcript = await _approve_when_transcribed(ctx, comp, summary.bulletin_id)
    ctx.console.print(f"  transcript, approved for the fax: [italic]{transcript}[/]")
    async with asyncio.timeout(400):
        summary = await comp.service.wait_for_state(cid, ["completed"])
    table = Table(title=f"Delivery report, campaign {cid}")
    for col in ("member", "outcome", "attempts", "detail"):
        table.add_column(col)
    rows_out = [r async for r in comp.service.report_rows(cid)]
    for r in rows_out:
        table.add_row(r.name, r.outcome or r.state, str(r.attempts), r.last_cause or "")
    ctx.console.print(table)
    expected = {"confirmed": 8, "opted_out": 1, "voicemail": 1, "busy": 1, "no_answer": 1,
                "fax_sent": 1}  # fmt: skip
    ok = summary.counts == expected
    ctx.record("broadcast", ok, ", ".join(f"{k} {v}" for k, v in sorted(summary.counts.items())))
    received = sorted(ctx.asterisk.fax_dir.glob(f"rx-{rig.FAX_T38.suffix}-*.tif"))
    if received:
        pngs = tiff_to_png(received[-1], ctx.work_dir / "fax-png")
        kept = ctx.keep(received[-1], *pngs)
        ctx.console.print(f"  the pub's fax machine received: {kept[0]}  (as PNG: {kept[1]})")
    ctx.record(
        "fax",
        bool(received),
        f"received fax kept in {ctx.out_dir}" if received else "no fax received",
    )


async def _approve_when_transcribed(
    ctx: DemoContext, comp: CampaignsComponent, bulletin_id: int
) -> str:
    assert ctx.controller.db is not None
    async with asyncio.timeout(180):
        while True:
            async with ctx.controller.db.session() as s:
                bulletin = await s.get(Bulletin, bulletin_id)
            if bulletin is not None and bulletin.transcript:
                break
            await asyncio.sleep(1)
    await comp.service.approve_transcript(bulletin_id, by="demo coordinator")
    return bulletin.transcript
