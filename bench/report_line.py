"""Report line benchmark: concurrent phone reports, from hang-up to transcript in the backend.

    .venv/bin/python bench/report_line.py [--calls 10] [--hangup reference|description]
                                          [--asr-workers N] [--whisper-threads N]

One private Asterisk sandbox, the controller (reports only) and ``--calls`` rig phones
(4 per worker process) that ring 101 at the same moment. Each caller keys a category, says
where (a short location) and what happened (a sentence of bench/speechset.py, Piper's
joe voice), and then either

- ``reference`` (default): keeps it, declines a call back, hears the reference, hangs up;
- ``description``: hangs up as soon as the description is said (the hardest case: the
  description can only be transcribed after the hang-up).

The external backend is an aiohttp receiver in this process that checks signatures. For
each call it measures the time from the caller's hang-up (the rig reports the end of the
call) until the report, transcripts included, has arrived there: p50 and p95 (a report
already there before the caller hung up counts 0). Also measured: from the end of the
"what happened" recording to its transcript (queueing + recognition under load), and the
corpus WER of all transcripts against the sentences played.

Baseline, same run: the same stored recordings transcribed offline in one batch by a
fresh Whisper engine with the same settings (batch real-time factor and WER).

Progress and a table go to stderr; the last line on stdout is one JSON object:
{"p50_s": ..., "p95_s": ..., "wer": ..., "batch_rtf": ..., "calls": N, ...}
Goals (2 cores): p95 <= 3 s, WER <= 0.12.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.speechset import SENTENCES
from ivr.app import Controller
from ivr.config import SandboxSettings, Settings
from ivr.reports.component import ReportsComponent
from ivr.reports.rig_caller import PromptTimes, ReportCaller, plan_report_call
from ivr.reports.rig_speech import LOCATIONS, caller_wavs, default_cache_dir
from ivr.reports.testing import WebhookReceiver, wait_for_reports
from ivr.sandbox import AsteriskSandbox
from ivr.speech.asr.whisper import WhisperEngine, WhisperOptions
from ivr.speech.audio import read_wav
from ivr.speech.wer import corpus_wer
from ivr.store.models.reports import Report, ReportAnswer
from ivr.store.models.transcription import TranscriptionJobRow
from sip_test_rig.fleet import Fleet

console = Console(stderr=True)
SECRET = "bench-secret"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


async def run_calls(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    n = args.calls
    whats = [SENTENCES[i % len(SENTENCES)] for i in range(n)]
    wheres = [LOCATIONS[i % len(LOCATIONS)] for i in range(n)]
    wavs = caller_wavs([*wheres, *whats], default_cache_dir())
    async with (
        AsteriskSandbox(SandboxSettings(test_endpoints=max(16, n)), work / "asterisk") as sandbox,
        WebhookReceiver(SECRET) as backend,
    ):
        info = sandbox.info
        settings = Settings(
            data_dir=work / "var",
            reports={"backend_url": backend.url, "backend_secret": SECRET},
            speech=_speech(args),
        )
        times = PromptTimes(settings.speech.prompts_build_dir / "watchline")
        async with (
            Controller(settings, sandbox=info, serve_web=False, components=[ReportsComponent]) as c,
            Fleet(info.host, info.sip_port, log_dir=work / "rig") as fleet,
        ):
            assert c.db is not None
            eps = info.endpoints[:n]
            phones = await fleet.add_phones([(e.name, e.password) for e in eps])
            await fleet.wait_registered(phones, timeout_s=60)
            console.print(f"{n} phones registered; calling 101 at once ({args.hangup} hang-up)")
            hung_up: dict[str, float] = {}

            async def one(i: int) -> None:
                what_wav = wavs[n + i]
                caller = ReportCaller(
                    where=wavs[i],
                    what=what_wav,
                    category_key=str(i % 6 + 1),
                    callback_key="2",
                    hangup_after_reference=True,
                    hangup_during_what_s=(
                        read_wav(what_wav).duration_s + 0.5
                        if args.hangup == "description"
                        else None
                    ),
                )
                plan = plan_report_call(caller, times, record_to=None)
                handle = await fleet.start_call(phones[i], "101", plan.script)
                await handle.result(240)
                hung_up[eps[i].number] = time.time()

            started = time.monotonic()
            await asyncio.gather(*(one(i) for i in range(n)))
            reports = await wait_for_reports(c.db, n, timeout_s=180)
            await backend.wait_for(n, timeout_s=120)
            console.print(f"all {n} calls done and delivered in {time.monotonic() - started:.0f} s")
            async with c.db.session() as session:
                rows = (
                    await session.execute(
                        select(Report, ReportAnswer, TranscriptionJobRow)
                        .join(ReportAnswer, ReportAnswer.report_id == Report.id)
                        .join(TranscriptionJobRow, ReportAnswer.job_id == TranscriptionJobRow.id)
                        .order_by(ReportAnswer.id)
                    )
                ).all()
    texts = {e.number: (wheres[i], whats[i]) for i, e in enumerate(eps)}
    delivered, after_recording, pairs, files = [], [], [], []
    for report in reports:
        got = backend.accepted[report.reference]
        assert len(got) == 1 and got[0].signature_ok
        number = report.caller_number or ""
        delivered.append(max(0.0, got[0].at - hung_up[number]))
    for report, answer, job in rows:
        where, what = texts[report.caller_number or ""]
        pairs.append((where if answer.kind.value == "where" else what, job.text or ""))
        files.append((work / "var" / (answer.audio_path or ""), pairs[-1][0]))
        if answer.kind.value == "what" and job.finished_at is not None:
            after_recording.append((job.finished_at - answer.recorded_at).total_seconds())
    return {
        "delivered": delivered,
        "after_recording": after_recording,
        "wer": corpus_wer(pairs),
        "files": files,
        "speech": settings.speech,
    }


def _speech(args: argparse.Namespace) -> dict[str, int]:
    """The product's speech settings, unless the command line overrides the pool's size."""
    speech: dict[str, int] = {}
    if args.asr_workers is not None:
        speech["asr_workers"] = args.asr_workers
    if args.whisper_threads is not None:
        speech["whisper_threads"] = args.whisper_threads
    return speech


def batch_baseline(files: list[tuple[Path, str]], speech: Any) -> tuple[float, float]:
    """Real-time factor and WER of transcribing every stored recording in one batch."""
    engine = WhisperEngine(
        WhisperOptions(
            model_dir=speech.whisper_model_dir,
            beam_size=speech.whisper_beam_size,
            cpu_threads=speech.whisper_threads,
        )
    )
    audios = [(read_wav(path), text) for path, text in files]
    engine.transcribe(audios[0][0])  # warm-up, not counted
    started = time.perf_counter()
    heard = [(text, engine.transcribe(audio).text) for audio, text in audios]
    took = time.perf_counter() - started
    return took / sum(a.duration_s for a, _ in audios), corpus_wer(heard)


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--hangup", choices=["reference", "description"], default="reference")
    parser.add_argument("--asr-workers", type=int, help="speech.asr_workers (default: settings)")
    parser.add_argument("--whisper-threads", type=int, help="speech.whisper_threads")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="watchline-bench-reports-") as tmp:
        measured = asyncio.run(run_calls(args, Path(tmp)))
        console.print("baseline: transcribing the same recordings in one batch ...")
        batch_rtf, batch_wer = batch_baseline(measured["files"], measured["speech"])
    delivered, after = measured["delivered"], measured["after_recording"]
    result = {
        "p50_s": round(statistics.median(delivered), 2),
        "p95_s": round(percentile(delivered, 0.95), 2),
        "wer": round(measured["wer"], 3),
        "batch_rtf": round(batch_rtf, 3),
        "batch_wer": round(batch_wer, 3),
        "after_recording_p50_s": round(statistics.median(after), 2),
        "after_recording_p95_s": round(percentile(after, 0.95), 2),
        "calls": args.calls,
        "hangup": args.hangup,
        "asr_workers": measured["speech"].asr_workers,
        "whisper_threads": measured["speech"].whisper_threads,
    }
    table = Table(title="Report line: hang-up to transcript in the backend")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in result.items():
        table.add_row(key, str(value))
    console.print(table)
    ok = result["p95_s"] <= 3.0 and result["wer"] <= 0.12
    console.print("[green]goals met[/]" if ok else "[red]goals missed[/] (p95 <= 3 s, WER <= 0.12)")
    return result


if __name__ == "__main__":
    print(json.dumps(main()))
