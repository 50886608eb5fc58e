"""Demo act: a bulletin broadcast to a dozen rig phones and one fax machine.

The members behave as real ones do: most confirm with 1, one presses 9, one is out and
their answering machine takes the message, one is on the phone (busy), one never picks
up. A pub receives the bulletin by fax. The act prints the delivery report, and where the
received fax is saved (TIFF, and PNG for a person to look at).
"""

from __future__ import annotations

import asyncio

from rich.table import Table

from ivr.campaigns.component import CampaignsComponent
from ivr.campaigns.policy import CampaignSettings
from ivr.demo.context import DemoContext
from ivr.fax import rig
from ivr.fax.tiff import tiff_to_png
from ivr.speech.tts.spoken import spoken_wav
from ivr.store import members_repo
from sip_test_rig.script import AnsweringMachine, PhoneScript, Playback, RingAction, dtmf_sequence

GROUP = "Riverside Neighbourhood Watch"
BULLETIN = (
    "Police advise residents to lock garden sheds tonight. "
    "Three bicycles were stolen in Riverside this week."
)
FAX_TEXT = (
    "Riverside Neighbourhood Watch. Police advise residents to lock garden sheds tonight. "
    "Three bicycles were stolen in Riverside this week. Report anything suspicious on 101."
)


def _human(key: str | None) -> PhoneScript:
    hello = Playback(path=spoken_wav("Hello?"), at_s=0.2)
    keys = dtmf_sequence(key, start_s=7) if key else ()
    return PhoneScript(answer_after_s=1.5, play=(hello,), dtmf=keys, hangup_after_s=60)


async def bulletin_broadcast(ctx: DemoContext) -> None:
    ctx.console.rule("[bold]A bulletin is broadcast to watch members")
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
    ]  # fmt: skip
    endpoints = ctx.take_endpoints(len(cast))
    phones = [await ctx.fleet.add_phone(e.name, e.password, s)
              for e, (_, s) in zip(endpoints, cast, strict=True)]  # fmt: skip
    await ctx.fleet.wait_registered(phones, timeout_s=30)
    comp = ctx.controller.component("campaigns")
    assert isinstance(comp, CampaignsComponent) and ctx.controller.db is not None
    async with ctx.controller.db.session(write=True) as s:
        group = await members_repo.create_group(s, GROUP, area="Riverside")
        rows = [
            {"name": name, "phone": e.number} for (name, _), e in zip(cast, endpoints, strict=True)
        ]
        rows.append({"name": "The Crown (fax)", "phone": "+441632960959",
                     "fax": rig.FAX_T38.number, "channel": "fax"})  # fmt: skip
        ids = await members_repo.insert_members(s, rows)
        await members_repo.add_memberships(s, [(i, group.id) for i in ids.values()])
    bulletin = await comp.service.add_bulletin(
        spoken_wav(BULLETIN), title="Garden sheds", created_by="demo"
    )
    await comp.service.set_bulletin_text(bulletin, FAX_TEXT, approved=True, by="demo")
    settings = CampaignSettings(
        max_attempts=2,
        retry_delays_s=(20,),
        failed_max_attempts=1,
        concurrency=12,
        give_up_after_s=600,
    )
    cid = await comp.service.create(bulletin, [GROUP], settings=settings, start=True)
    ctx.console.print(f"  campaign {cid}: {len(rows)} members of {GROUP} (one by fax) ...")
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
