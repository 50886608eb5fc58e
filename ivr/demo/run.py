"""Run the demo: one sandbox, one controller, one rig fleet, then every act in order."""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ivr.app import Controller
from ivr.campaigns.policy import CampaignSettings
from ivr.config import Settings
from ivr.demo.acts import ACTS
from ivr.demo.context import DemoContext
from ivr.sandbox import AsteriskSandbox
from sip_test_rig.fleet import Fleet

log = logging.getLogger(__name__)


async def run_demo(settings: Settings, console: Console) -> bool:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="watchline-demo-") as tmp:
        work = Path(tmp)
        # Short retries: the demo should finish in minutes, not wait half an hour to retry.
        quick = CampaignSettings(
            max_attempts=2, retry_delays_s=(20,), failed_max_attempts=2,
            failed_retry_delays_s=(20,), concurrency=12, give_up_after_s=900,
        )  # fmt: skip
        demo_settings = settings.model_copy(
            update={
                "data_dir": work / "var",
                "campaigns": settings.campaigns.model_copy(update={"default_policy": quick}),
            }
        )
        console.print("[bold]Watchline demo[/] - a real Asterisk 22, simulated phones")
        async with AsteriskSandbox(settings.sandbox, work / "asterisk") as sandbox:
            info = sandbox.info
            console.print(
                f"  Asterisk up in {sandbox.boot_seconds:.2f} s "
                f"(SIP {info.sip_port}, AMI {info.ami_port}, ARI {info.ari_port})"
            )
            async with (
                Controller(demo_settings, sandbox=info, serve_web=False) as controller,
                Fleet(info.host, info.sip_port, log_dir=work / "rig") as fleet,
            ):
                out = settings.data_dir.resolve() / "demo-output"
                ctx = DemoContext(console, info, controller, fleet, work, out)
                for act in ACTS:
                    try:
                        await act(ctx)
                    except Exception as e:  # an act's failure is reported, not a crash
                        log.exception("demo act %s failed", act.__name__)
                        ctx.record(act.__name__, False, f"{type(e).__name__}: {e}")
            if not all(ok for _, ok, _ in ctx.summary):
                # The work dir goes with the demo; what explains a failed act must not.
                kept = keep_logs(info.log_file, work / "rig", ctx.out_dir / "logs")
                console.print(f"  logs of this run kept in {kept}")
    table = Table(title=f"Demo summary ({time.monotonic() - started:.0f} s)")
    table.add_column("act")
    table.add_column("result")
    table.add_column("detail")
    for act_name, ok, detail in ctx.summary:
        table.add_row(act_name, "[green]ok[/]" if ok else "[red]FAILED[/]", detail)
    console.print(table)
    return all(ok for _, ok, _ in ctx.summary)


def keep_logs(asterisk_log: Path, rig_dir: Path, to: Path) -> Path:
    """Copy Asterisk's full log and the rig workers' logs to ``to`` (replacing older ones)."""
    shutil.rmtree(to, ignore_errors=True)
    to.mkdir(parents=True)
    if asterisk_log.exists():
        shutil.copyfile(asterisk_log, to / "asterisk-full.log")
    for worker_log in sorted(rig_dir.glob("worker-*.log")):
        shutil.copyfile(worker_log, to / f"rig-{worker_log.name}")
    return to


def main(settings: Settings) -> int:
    console = Console()
    ok = asyncio.run(run_demo(settings, console))
    return 0 if ok else 1
