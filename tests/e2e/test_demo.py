"""The demo, as `make demo` runs it: `ivr demo` in a process of its own.

The demo brings up its own Asterisk sandbox (a port slot of its own, so it runs beside
the test session's), registers a dozen rig phones and a fax machine, and plays each act:
a caller reaching the controller, a coordinator recording a bulletin by phone, the
broadcast to the watch with its delivery report, the pub's fax, and a spoken report.
It exits 0 only if every act saw what it should; this test also reads what it printed,
so a demo that stopped printing the delivery report would fail here too.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest

from ivr.demo.broadcast_act import GROUP

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.solo]

#: The demo takes about 3.5 minutes warm; the bound is for a cold prompt cache.
DEMO_TIMEOUT_S = 900

#: Each member of the broadcast act's cast and the outcome the demo expects of them.
EXPECTED_ROWS = {
    **{f"Member {n}": "confirmed" for n in ("Ada", "Ben", "Cal", "Dee", "Eli", "Flo", "Gil")},
    "Member Hui": "confirmed",
    "Member Ira": "opted_out",
    "Member Jay": "voicemail",
    "Member Kim": "busy",
    "Member Lou": "no_answer",
    "The Crown": "fax_sent",
}


async def test_make_demo_runs_every_act_and_prints_the_delivery_report(tmp_path: Path) -> None:
    # wide enough that rich prints each table row on one line
    env = {**os.environ, "WATCHLINE_DATA_DIR": str(tmp_path / "var"), "COLUMNS": "160"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ivr", "demo",
        cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        async with asyncio.timeout(DEMO_TIMEOUT_S):
            out_bytes, _ = await proc.communicate()
    finally:
        if proc.returncode is None:  # timed out: end the demo we started, by its PID
            proc.kill()
            await proc.wait()
    out = out_bytes.decode(errors="replace")
    assert proc.returncode == 0, out[-6000:]

    # the delivery report: one row per member, with the outcome the cast was scripted for
    report = out[out.index("Delivery report, campaign") :]
    for member, outcome in EXPECTED_ROWS.items():
        row = next((line for line in report.splitlines() if member in line), None)
        assert row is not None and outcome in row, (member, outcome, report[:4000])
    assert f"members of {GROUP}" in out

    # the summary table: every act ok, none failed
    summary = out[out.index("Demo summary") :]
    # box-drawing bars, or ASCII ones where the locale is not UTF-8
    rows = re.findall(r"[│|] (\w+)\s+[│|] (\w+)\s+[│|]", summary)
    acts = [(act, result) for act, result in rows if act != "act"]  # not the header
    assert [a for a, _ in acts] == ["caller", "coordinator", "broadcast", "fax", "report"], acts
    assert {r for _, r in acts} == {"ok"}, summary
    assert "FAILED" not in out

    # what a person is pointed at afterwards is really there: the pub's fax, as TIFF and PNG
    kept = tmp_path / "var" / "demo-output"
    assert list(kept.glob("*.tif")) and list(kept.glob("*.png")), sorted(kept.iterdir())
