"""Broadcast throughput: the controller against Asterisk's own call-file spooler.

    .venv/bin/python bench/broadcast.py        (make bench-broadcast)

One private Asterisk sandbox, four passes:

1. **controller**: ``ivr serve`` (its own process) runs a 200-member campaign at 20 calls in
   flight. Members are Local channels in ``watchline-bench`` that answer and hang up after
   3 s, so the controller's whole path runs: persist, AMI Originate, Stasis, the delivery
   dialogue, and settling each outcome.
2. **call files** (baseline, same run): the same 200 calls as Asterisk call files, kept 20
   in flight, each playing the same bulletin to the same 3-second member.
3. **minimal ARI app** (second baseline, same run; ``bench/ari_baseline.py``): the same 200
   calls rung straight into Stasis by an app that only plays the bulletin. It shows what
   going through Stasis costs at all, apart from what the controller adds.
4. **100k**: a 100,000-member campaign. Measures the time from "start" to the first call,
   and the controller's peak memory after its first 500 calls (then it is cancelled).

Calls per minute are counted from AMI: the first new channel to the last hang-up of the
caller legs. The ideal is concurrency x 60 / call length = 400 calls a minute. Each pass
also reports how long a member waited, after answering, for its first audio. The last line
is one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ari_baseline import ring_all
from bench.harness import cpu_seconds, peak_rss_mb, serve_config, start_serve
from ivr.ami.client import AmiClient
from ivr.ami.messages import Event
from ivr.auth.tokens import create_token
from ivr.campaigns.policy import CampaignSettings
from ivr.campaigns.service import CampaignService
from ivr.clock import SystemClock
from ivr.config import SandboxSettings, SpeechSettings
from ivr.members.fields import DEFAULT_TIMEZONE, quiet_fields_away_from
from ivr.sandbox import AsteriskSandbox, SandboxInfo
from ivr.speech.tts.build import render_phrase
from ivr.speech.tts.ensure import engine_chain, ensure_prompts
from ivr.speech.tts.spoken import spoken_wav
from ivr.store import members_repo
from ivr.store.database import Database
from ivr.store.models.auth import Role

CALLS = 200
CONCURRENCY = 20
CALL_S = 3.0
BIG = 100_000
BIG_CALLS = 500
#: The first call starts in well under a second; a minute without one is a fault.
FIRST_CALL_TIMEOUT_S = 60.0
GROUP = "Bench Street Watch"
BULLETIN = "Please lock your garden sheds tonight. Thank you."
SETTINGS = CampaignSettings(
    concurrency=CONCURRENCY, calls_per_second=100, burst=CONCURRENCY, max_attempts=1,
    failed_max_attempts=1, give_up_after_s=86400,
)  # fmt: skip
console = Console(stderr=True, width=120)  # the table, whole, in a CI log too


@dataclass
class CallLog:
    """Start of each caller leg and end of each, seen on AMI, and how long each member leg
    waited after answering before it heard anything."""

    starts: list[float]
    ends: list[float]
    durations: list[float] = field(default_factory=list)
    #: seconds from a member's answer to its first audio (Asterisk's own event timestamps)
    answer_waits: list[float] = field(default_factory=list)

    def mean_duration(self) -> float:
        return sum(self.durations) / max(1, len(self.durations))

    def rate_per_min(self, n: int) -> float:
        span = self.ends[n - 1] - self.starts[0]
        return n / span * 60

    def first_audio_ms(self) -> tuple[float, float]:
        """Mean and 90th percentile, in ms, of the wait between answer and first audio."""
        waits = sorted(self.answer_waits)
        if not waits:
            return float("nan"), float("nan")
        return sum(waits) / len(waits) * 1000, waits[int(0.9 * (len(waits) - 1))] * 1000


class Watcher:
    """Counts Local ``;1`` legs (the IVR side) of bench calls as they start and end, and
    times each ``;2`` leg (the member) from its answer to its hang-up.

    The member's ``Answer()`` returns only once the first audio frame reaches it (Asterisk
    waits up to 500 ms for media after answering), and its 3 s start then. So a member leg's
    life beyond 3 s after its answer is the time the IVR side took to start talking.
    """

    def __init__(self, ami: AmiClient) -> None:
        self.ami = ami
        self.log = CallLog([], [])
        self._changed = asyncio.Event()

    def reset(self) -> None:
        self.log = CallLog([], [])

    async def run(self) -> None:
        def bench_leg(e: Event) -> bool:
            name = e.get("Channel") or ""
            return name.startswith("Local/") and "@watchline-bench-" in name

        with self.ami.subscribe(
            names={"Newchannel", "Newstate", "Hangup"}, filter=bench_leg, maxsize=100_000
        ) as events:
            opened: dict[str, float] = {}
            answered: dict[str, float] = {}
            async for event in events:
                now = time.monotonic()
                uid = event.get("Uniqueid") or ""
                if (event.get("Channel") or "").endswith(";2"):
                    self._member_leg(event, uid, answered)
                    continue
                if event.name == "Newchannel":
                    self.log.starts.append(now)
                    opened[uid] = now
                elif event.name == "Hangup":
                    self.log.ends.append(now)
                    if uid in opened:
                        self.log.durations.append(now - opened.pop(uid))
                self._changed.set()

    def _member_leg(self, event: Event, uid: str, answered: dict[str, float]) -> None:
        try:
            at = float(event.get("Timestamp") or "")
        except ValueError:
            return  # timestampevents is off: no first-audio figure
        if event.name == "Newstate" and event.get("ChannelState") == "6":  # Up
            answered[uid] = at
        elif event.name == "Hangup" and uid in answered:
            self.log.answer_waits.append(at - answered.pop(uid) - CALL_S)

    async def until(self, ends: int = 0, starts: int = 0, timeout_s: float = 600) -> None:
        async with asyncio.timeout(timeout_s):
            while len(self.log.ends) < ends or len(self.log.starts) < starts:
                self._changed.clear()
                await self._changed.wait()


async def _populate(url: str, work: Path, info: SandboxInfo, members: int) -> tuple[int, str]:
    """Group, members, bulletin, a draft campaign and a token; returns (campaign, token)."""
    async with Database.open(url) as db:
        async with db.session(write=True) as s:
            group = await members_repo.create_group(s, GROUP)
            token = await create_token(
                s, name="bench", role=Role.COORDINATOR, now=SystemClock().now()
            )
        # Callable at whatever hour CI runs: the default quiet hours are 20:00-09:00.
        quiet = quiet_fields_away_from(datetime.now(ZoneInfo(DEFAULT_TIMEZONE)))
        batch = 5000
        for start in range(0, members, batch):
            rows = [
                {"name": f"Member {i}", "phone": f"+4470{i:08d}", **quiet}
                for i in range(start, min(members, start + batch))
            ]
            async with db.session(write=True) as s:
                ids = await members_repo.insert_members(s, rows)
                await members_repo.add_memberships(s, [(m, group.id) for m in ids.values()])
        service = CampaignService(
            db, SystemClock(), data_dir=work / "var", sounds_dir=info.sounds_dir
        )
        bulletin = await service.add_bulletin(
            spoken_wav(BULLETIN), title="bench", created_by="bench"
        )
        t0 = time.perf_counter()
        campaign = await service.create(bulletin, [GROUP], settings=SETTINGS)
        created_s = time.perf_counter() - t0
        console.print(f"  {members} members; campaign created in {created_s:.2f} s")
    return campaign, token


async def controller_pass(
    info: SandboxInfo, watcher: Watcher, work: Path, members: int, calls: int
) -> dict[str, float]:
    work.mkdir(parents=True)
    (work / "var").mkdir()
    campaign, token = await _populate(
        f"sqlite+aiosqlite:///{work / 'var' / 'watchline.db'}", work, info, members
    )
    config, port = serve_config(work, info, [
        "", "[campaigns]", f"max_concurrent_calls = {CONCURRENCY}", "amd = false",
        'dial_template = "Local/{digits}@watchline-bench"',
    ])  # fmt: skip
    serve = start_serve(config, port, work / "serve.log")
    try:
        await serve.wait_healthy()
        rss_idle = peak_rss_mb(serve.proc.pid)
        watcher.reset()
        cpu0 = cpu_seconds(serve.proc.pid)
        auth = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession(headers=auth) as http:
            t_start = time.monotonic()
            async with http.post(f"{serve.url}/api/campaigns/{campaign}/start") as r:
                assert r.status == 200, await r.text()
            try:
                await watcher.until(starts=1, timeout_s=FIRST_CALL_TIMEOUT_S)
            except TimeoutError:
                # say why (e.g. every member outside its call window), not just "timed out"
                async with http.get(f"{serve.url}/api/campaigns/{campaign}") as r:
                    progress = await r.text()
                log_tail = (work / "serve.log").read_text(errors="replace").splitlines()[-20:]
                raise SystemExit(
                    f"no call started within {FIRST_CALL_TIMEOUT_S:.0f} s of starting the "
                    f"campaign.\nThe campaign now: {progress}\nThe controller's log ends:\n"
                    + "\n".join(log_tail)
                ) from None
            first_call_s = watcher.log.starts[0] - t_start
            if calls < members:
                await watcher.until(starts=calls)
                async with http.post(f"{serve.url}/api/campaigns/{campaign}/cancel") as r:
                    assert r.status == 200, await r.text()
                await watcher.until(ends=len(watcher.log.starts))
            else:
                await watcher.until(ends=calls)
        cpu = cpu_seconds(serve.proc.pid) - cpu0
        done = len(watcher.log.ends)
        return {
            "calls": done,
            "calls_per_min": watcher.log.rate_per_min(min(calls, done)),
            "cpu_ms_per_call": cpu / done * 1000,
            "rss_mb": peak_rss_mb(serve.proc.pid),
            "rss_idle_mb": rss_idle,
            "first_call_s": first_call_s,
            "mean_call_s": watcher.log.mean_duration(),
            **_first_audio(watcher.log),
        }
    finally:
        serve.stop()


async def callfile_pass(info: SandboxInfo, watcher: Watcher, bulletin_uri: str) -> dict[str, float]:
    """The same campaign through Asterisk's spooler, kept at CONCURRENCY in flight."""
    spool = info.instance_dir / "spool"
    media = bulletin_uri.removeprefix("sound:")
    watcher.reset()
    written = 0

    def write_one(n: int) -> None:
        tmp = spool / "tmp" / f"bench-{n}.call"
        tmp.write_text(
            f"Channel: Local/{70_000_000 + n}@watchline-bench\n"
            "Context: watchline-bench-ivr\nExtension: s\nPriority: 1\n"
            f"Setvar: WL_MEDIA={media}\nMaxRetries: 0\nWaitTime: 10\n"
        )
        tmp.replace(spool / "outgoing" / tmp.name)  # atomic: the spooler never sees half a file

    for _ in range(CONCURRENCY):
        write_one(written)
        written += 1
    async with asyncio.timeout(600):
        while written < CALLS:
            await watcher.until(ends=written - CONCURRENCY + 1)
            write_one(written)
            written += 1
        await watcher.until(ends=CALLS)
    return {
        "calls": CALLS,
        "calls_per_min": watcher.log.rate_per_min(CALLS),
        "mean_call_s": watcher.log.mean_duration(),
        **_first_audio(watcher.log),
    }


async def minimal_ari_pass(
    info: SandboxInfo, watcher: Watcher, bulletin_uri: str
) -> dict[str, float]:
    """The same campaign rung by the least an ARI app can do (bench/ari_baseline.py)."""
    watcher.reset()
    await ring_all(info, bulletin_uri, calls=CALLS, concurrency=CONCURRENCY)
    await watcher.until(ends=CALLS)
    return {
        "calls": CALLS,
        "calls_per_min": watcher.log.rate_per_min(CALLS),
        "mean_call_s": watcher.log.mean_duration(),
        **_first_audio(watcher.log),
    }


def _first_audio(log: CallLog) -> dict[str, float]:
    mean, p90 = log.first_audio_ms()
    return {"first_audio_ms": mean, "first_audio_p90_ms": p90}


async def main() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="watchline-bench-") as tmp:
        work = Path(tmp)
        async with AsteriskSandbox(SandboxSettings(test_endpoints=0), work / "asterisk") as sb:
            info = sb.info
            console.print(f"[bold]broadcast benchmark[/] - Asterisk up in {sb.boot_seconds:.2f} s")
            speech = SpeechSettings()
            # the prompts and the group's spoken name are made here, so the controller's
            # CPU and memory measure the broadcast, not speech synthesis
            await asyncio.to_thread(ensure_prompts, speech, info.sounds_dir)
            await asyncio.to_thread(render_phrase, GROUP, info.sounds_dir, engine_chain(speech))
            async with AmiClient(
                info.host, info.ami_port, info.ami_username, info.ami_secret, event_mask="call"
            ) as ami:
                watcher = Watcher(ami)
                watching = asyncio.create_task(watcher.run())
                try:
                    console.print(
                        f"[bold]1.[/] controller: {CALLS} calls at {CONCURRENCY} in flight"
                    )
                    ours = await controller_pass(info, watcher, work / "controller", CALLS, CALLS)
                    console.print(
                        f"[bold]2.[/] call files: {CALLS} calls at {CONCURRENCY} in flight"
                    )
                    theirs = await callfile_pass(info, watcher, "sound:watchline/bulletins/1")
                    console.print(
                        f"[bold]3.[/] minimal ARI app: {CALLS} calls at {CONCURRENCY} in flight"
                    )
                    minimal = await minimal_ari_pass(info, watcher, "sound:watchline/bulletins/1")
                    console.print(f"[bold]4.[/] controller: {BIG} members, first {BIG_CALLS} calls")
                    big = await controller_pass(info, watcher, work / "big", BIG, BIG_CALLS)
                finally:
                    watching.cancel()
    ideal = CONCURRENCY * 60 / CALL_S
    table = Table(title="broadcast")
    columns = ("pass", "calls", "calls/min", "vs ideal", "answer → audio ms (mean/p90)",
               "CPU ms/call", "peak RSS MB")  # fmt: skip
    for col in columns:
        table.add_column(col)
    passes = (
        ("controller", ours), ("call files", theirs), ("minimal ARI app", minimal),
        ("controller 100k", big),
    )  # fmt: skip
    for name, row in passes:
        table.add_row(
            name,
            f"{row['calls']:.0f}",
            f"{row['calls_per_min']:.0f}",
            f"{row['calls_per_min'] / ideal:.3f}",
            f"{row['first_audio_ms']:.1f} / {row['first_audio_p90_ms']:.1f}",
            f"{row['cpu_ms_per_call']:.2f}" if "cpu_ms_per_call" in row else "-",
            f"{row['rss_mb']:.0f}" if "rss_mb" in row else "-",
        )
    console.print(table)
    console.print(f"100k: first call {big['first_call_s'] * 1000:.0f} ms after start")
    return {
        "efficiency": round(ours["calls_per_min"] / ideal, 3),
        "vs_callfiles": round(ours["calls_per_min"] / theirs["calls_per_min"], 3),
        "cpu_ms_per_call": round(ours["cpu_ms_per_call"], 2),
        "rss_mb": round(ours["rss_mb"], 1),
        "first_call_s_100k": round(big["first_call_s"], 3),
        "rss_mb_100k": round(big["rss_mb"], 1),
        "calls_per_min": round(ours["calls_per_min"], 1),
        "callfiles_per_min": round(theirs["calls_per_min"], 1),
        # the member's wait for its first audio after answering: Asterisk's dialplan plays
        # at once; the controller plays once StasisStart has reached it (bench/RESULTS.md)
        "first_audio_ms": round(ours["first_audio_ms"], 1),
        "first_audio_ms_callfiles": round(theirs["first_audio_ms"], 1),
        # the controller against an app that only plays through Stasis (bench/ari_baseline.py)
        "vs_minimal_ari": round(ours["calls_per_min"] / minimal["calls_per_min"], 3),
        "minimal_ari_per_min": round(minimal["calls_per_min"], 1),
        "first_audio_ms_minimal_ari": round(minimal["first_audio_ms"], 1),
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
