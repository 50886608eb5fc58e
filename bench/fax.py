"""Fax benchmark: render speed, and pages delivered per minute at the fax concurrency limit
against one-at-a-time sending, in the same run, through a real Asterisk to the rig's machines.

    .venv/bin/python bench/fax.py [--concurrency 4] [--faxes 8] [--pages 2] [--renders 30]

1. Render: a bulletin of ``--pages`` pages is rendered ``--renders`` times; the median time per
   page is reported with and without writing the G3 TIFF.
2. Baseline, one at a time: a 1-page and a ``--pages``-page fax to a T.38 machine, then the
   same to an audio-only machine. The difference gives seconds per page in each mode, the
   rest is call set-up (answer, training, hang-up); the multi-page sends give the
   sequential pages per minute.
3. At the limit: ``--faxes`` faxes of ``--pages`` pages through a FaxLimiter of
   ``--concurrency``, spread over two T.38 and two audio machines. Asterisk's CPU use in
   this phase (% of one core; it runs both ends of every fax) is reported too.

Progress goes to stderr; the last line on stdout is one JSON object:
{"render_ms_per_page": ..., "pages_per_min": ..., "concurrency": 4,
 "sequential_pages_per_min": ..., "speedup": ..., "t38_s_per_page": ..., ...}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ivr.ami.client import AmiClient
from ivr.config import SandboxSettings
from ivr.fax import rig
from ivr.fax.limiter import FaxLimiter
from ivr.fax.render import FaxBulletin, FaxLayout, render_fax, render_pages
from ivr.fax.result import FaxResult
from ivr.fax.sender import send_fax
from ivr.sandbox import AsteriskSandbox

console = Console(stderr=True)
SENTENCE = "Two men were seen trying car door handles on Mill Lane between 2am and 4am. "


def bulletin(pages: int) -> FaxBulletin:
    """A bulletin of exactly ``pages`` well-filled pages."""
    layout = FaxLayout()
    best: FaxBulletin | None = None
    # Bounded: each paragraph adds about a sixth of a page.
    for paragraphs in range(1, 40 * pages):
        b = FaxBulletin(
            text="\n\n".join(SENTENCE * 8 for _ in range(paragraphs)),
            scheme="Riverside Neighbourhood Watch",
            reference="BENCH-1",
            sent_at=datetime(2025, 3, 12, 14, 5),
        )
        if len(render_pages(b, layout)) > pages:
            break
        best = b
    assert best is not None
    return best


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process so far (Asterisk runs as the sandbox's PID:
    unshare, sh and chroot each exec the next)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_render(pages: int, renders: int, out_dir: Path) -> tuple[float, float]:
    """Median ms per page: (render + TIFF write, render only)."""
    b = bulletin(pages)
    render_pages(b)  # warm the font cache
    full, only = [], []
    for i in range(renders):
        t = time.perf_counter()
        n = len(render_pages(b))
        only.append((time.perf_counter() - t) * 1000 / n)
        t = time.perf_counter()
        render_fax(b, out_dir / f"render-{i % 2}.tif")
        full.append((time.perf_counter() - t) * 1000 / n)
    return statistics.median(full), statistics.median(only)


async def one(
    ami: AmiClient, machine: rig.RigFaxMachine, path: str, attempt: str, pages: int
) -> FaxResult:
    result = await send_fax(
        ami, machine.channel, path, attempt_id=attempt, timeout_s=60 + 90 * pages
    )
    state = "ok" if result.succeeded and result.pages == pages else "FAILED"
    console.print(
        f"  {attempt:<14} {machine.number} {'T.38 ' if machine.t38 else 'audio'} "
        f"{result.pages}/{pages} pages  {result.duration_s:6.1f} s  {state}"
    )
    return result


async def run(args: argparse.Namespace, work: Path) -> dict[str, object]:
    render_ms, render_only_ms = bench_render(args.pages, args.renders, work)
    console.print(f"render: {render_ms:.1f} ms/page with TIFF write, {render_only_ms:.1f} without")

    settings = SandboxSettings(test_endpoints=0)
    async with AsteriskSandbox(settings, work / "asterisk") as sandbox:
        info = sandbox.info
        spool = rig.sandbox_spool(info)
        files: dict[int, str] = {}
        for n in {1, args.pages}:
            host, inside = spool.paths(f"bench-{n}p.tif")
            rendered = render_fax(bulletin(n), host)
            assert rendered.pages == n
            files[n] = inside
        async with AmiClient(info.host, info.ami_port, info.ami_username, info.ami_secret) as ami:
            console.print("baseline, one at a time:")
            per_mode: dict[str, tuple[float, float]] = {}
            sequential_s = 0.0
            sequential_pages = 0
            failures = 0
            for machine, mode in ((rig.FAX_T38, "t38"), (rig.FAX_AUDIO, "audio")):
                short = await one(ami, machine, files[1], f"seq-{mode}-1p", 1)
                long = await one(
                    ami, machine, files[args.pages], f"seq-{mode}-{args.pages}p", args.pages
                )
                failures += sum(not r.succeeded for r in (short, long))
                per_page = (long.duration_s - short.duration_s) / max(1, args.pages - 1)
                per_mode[mode] = (per_page, short.duration_s - per_page)
                sequential_s += long.duration_s
                sequential_pages += long.pages

            console.print(f"at the limit: {args.faxes} faxes, concurrency {args.concurrency}:")
            limiter = FaxLimiter(args.concurrency)
            machines = [rig.FAX_T38, rig.FAX_AUDIO, rig.FAX_T38_2, rig.FAX_AUDIO_2]

            async def limited(i: int) -> FaxResult:
                async with limiter.slot():
                    m = machines[i % len(machines)]
                    return await one(ami, m, files[args.pages], f"conc-{i}", args.pages)

            started, cpu_before = time.monotonic(), cpu_seconds(sandbox.pid)
            results = await asyncio.gather(*(limited(i) for i in range(args.faxes)))
            elapsed = time.monotonic() - started
            cpu_pct = (cpu_seconds(sandbox.pid) - cpu_before) * 100 / elapsed
    failures += sum(not r.succeeded for r in results)
    pages_per_min = sum(r.pages for r in results) * 60 / elapsed
    sequential_ppm = sequential_pages * 60 / sequential_s
    return {
        "render_ms_per_page": round(render_ms, 1),
        "render_only_ms_per_page": round(render_only_ms, 1),
        "pages_per_min": round(pages_per_min, 2),
        "concurrency": args.concurrency,
        "peak_in_flight": limiter.peak,
        "sequential_pages_per_min": round(sequential_ppm, 2),
        "speedup": round(pages_per_min / sequential_ppm, 2),
        "t38_s_per_page": round(per_mode["t38"][0], 1),
        "t38_setup_s": round(per_mode["t38"][1], 1),
        "audio_s_per_page": round(per_mode["audio"][0], 1),
        "audio_setup_s": round(per_mode["audio"][1], 1),
        "faxes": args.faxes,
        "pages_per_fax": args.pages,
        "asterisk_cpu_pct_at_limit": round(cpu_pct, 1),
        "failures": failures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--faxes", type=int, default=8)
    parser.add_argument("--pages", type=int, default=2)
    parser.add_argument("--renders", type=int, default=30)
    args = parser.parse_args()
    if args.pages < 2:
        parser.error("--pages must be at least 2 (seconds per page are a difference)")
    # The sandbox's instance dir (configs with this run's secrets, faxes) goes with the run.
    with tempfile.TemporaryDirectory(prefix="watchline-bench-fax-") as work:
        figures = asyncio.run(run(args, Path(work)))
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
