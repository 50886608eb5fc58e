"""Demo act: a caller reports a minor crime on the non-emergency line (101).

The caller keys the category, says where and what happened, asks to be called back and
hears a reference. The act prints what speech recognition made of it and shows the stored
record through the CLI, as staff would see it.
"""

from __future__ import annotations

import asyncio
import os
import sys

from ivr.demo.context import DemoContext
from ivr.reports.demo import phone_report

WHERE = "Outside the post office on Station Road."
WHAT = (
    "Someone smashed the window of my car last night and took a laptop bag from the back "
    "seat. It happened between ten and eleven."
)


async def phone_report_act(ctx: DemoContext) -> None:
    ctx.console.rule("[bold]A caller reports a crime on the non-emergency line")
    (caller,) = ctx.take_endpoints(1)
    ctx.console.print(f"  {caller.number} rings 101, keys 2 (criminal damage), and says:")
    ctx.console.print(f"    where: [italic]{WHERE}[/]")
    ctx.console.print(f"    what:  [italic]{WHAT}[/]")
    report = await phone_report(
        ctx.controller, ctx.fleet, caller, ctx.work_dir, where=WHERE, what=WHAT, category_key="2"
    )
    ctx.console.print(f"  transcribed where: [italic]{report.location}[/]")
    ctx.console.print(f"  transcribed what:  [italic]{report.description}[/]")
    ctx.console.print(f"  reference read to the caller: {report.reference} "
                      f"(the caller heard {report.heard_reference})")  # fmt: skip
    ctx.console.print(f"  [bold]ivr reports show {report.reference}[/]:")
    env = {**os.environ, "WATCHLINE_DATA_DIR": str(ctx.controller.settings.data_dir)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ivr", "reports", "show", report.reference,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    for line in out.decode().splitlines():
        ctx.console.print(f"    {line}", highlight=False, markup=False)
    ok = proc.returncode == 0 and report.reference_heard_correctly and bool(report.description)
    ctx.record("report", ok, f"report {report.reference}: {report.category}, "
                             f"{'urgent' if report.urgent else 'not urgent'}")  # fmt: skip
