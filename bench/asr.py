"""ASR benchmark: Whisper tiny.en (the default) against pocketsphinx en-us, same audio, same run.

    .venv/bin/python bench/asr.py [--limit N] [--beam-size B]

45 minor-crime report sentences (bench/speechset.py) are spoken by Piper's joe voice (cached
under bench/out/), put through the simulated phone line (8 kHz, 30 dB SNR, µ-law), and
transcribed one at a time by each engine. Reported per engine: corpus WER (normalised, see
ivr/speech/wer.py), real-time factor (processing time / audio time, after one warm-up call
that is not counted), model load time and per-utterance latency. For the default engine
the throughput of the transcription pool's configuration (2 threads x 1 ctranslate2 thread)
is measured too.

Progress goes to stderr; the last line on stdout is one JSON object:
{"wer": ..., "rtf": ..., "baseline_wer": ..., "baseline_rtf": ..., "utterances": N}
Goals (2 cores): WER <= 0.08, RTF <= 0.25.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from speechset import SENTENCES, phone_set

from ivr.speech.asr.base import AsrEngine
from ivr.speech.asr.sphinx import SphinxLargeVocabularyEngine
from ivr.speech.asr.whisper import WhisperEngine, WhisperOptions
from ivr.speech.audio import Audio
from ivr.speech.wer import corpus_wer, wer

console = Console(stderr=True)


@dataclass(frozen=True)
class EngineResult:
    name: str
    wer: float
    rtf: float
    load_s: float
    latencies: tuple[float, ...]
    worst: tuple[tuple[float, str, str], ...]


def run_engine(
    label: str, load: Callable[[], AsrEngine], pairs: Sequence[tuple[str, Audio]]
) -> EngineResult:
    started = time.perf_counter()
    engine = load()
    load_s = time.perf_counter() - started
    engine.transcribe(pairs[0][1])  # warm-up: first-call allocations are not steady state
    heard: list[str] = []
    latencies: list[float] = []
    with Progress(
        TextColumn(f"[bold]{label:<22}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[last]}"),
        console=console,
    ) as progress:
        task = progress.add_task(label, total=len(pairs), last="")
        for text, audio in pairs:
            t0 = time.perf_counter()
            transcript = engine.transcribe(audio)
            latencies.append(time.perf_counter() - t0)
            heard.append(transcript.text)
            progress.update(task, advance=1, last=f"WER {wer(text, transcript.text):.2f}")
    audio_s = sum(a.duration_s for _, a in pairs)
    refs = [t for t, _ in pairs]
    per_utt = sorted(((wer(r, h), r, h) for r, h in zip(refs, heard, strict=True)), reverse=True)
    return EngineResult(
        name=engine.name,
        wer=corpus_wer(zip(refs, heard, strict=True)),
        rtf=sum(latencies) / audio_s,
        load_s=load_s,
        latencies=tuple(latencies),
        worst=tuple(per_utt[:3]),
    )


def pool_throughput_rtf(pairs: Sequence[tuple[str, Audio]], beam_size: int) -> float:
    """Audio-seconds per wall-second of two threads sharing one model, inverted (an RTF)."""
    engine = WhisperEngine(WhisperOptions(beam_size=beam_size, cpu_threads=1, num_workers=2))
    engine.transcribe(pairs[0][1])
    with console.status("whisper, 2 worker threads x 1 ctranslate2 thread ..."):
        started = time.perf_counter()
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(engine.transcribe, [a for _, a in pairs]))
        wall = time.perf_counter() - started
    return wall / sum(a.duration_s for _, a in pairs)


def report(results: Sequence[EngineResult], pool_rtf: float, audio_s: float, n: int) -> None:
    table = Table(title=f"{n} utterances, {audio_s:.0f} s of phone-line speech")
    for column in ("engine", "WER", "RTF", "load s", "latency mean s", "latency p95 s"):
        table.add_column(column, justify="left" if column == "engine" else "right")
    for r in results:
        p95 = statistics.quantiles(r.latencies, n=20)[-1] if len(r.latencies) > 1 else 0.0
        table.add_row(
            r.name,
            f"{r.wer:.3f}",
            f"{r.rtf:.3f}",
            f"{r.load_s:.2f}",
            f"{statistics.mean(r.latencies):.2f}",
            f"{p95:.2f}",
        )
    console.print(table)
    console.print(f"whisper pool throughput (2 threads x 1): RTF {pool_rtf:.3f}")
    for r in results:
        console.print(f"[bold]{r.name}[/] worst utterances:")
        for score, ref, hyp in r.worst:
            console.print(f"  {score:.2f}  ref: {ref}\n        hyp: {hyp}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=len(SENTENCES), help="use N sentences")
    parser.add_argument("--beam-size", type=int, default=WhisperOptions().beam_size)
    args = parser.parse_args(argv)

    with console.status("synthesizing (cached in bench/out/speechset) ..."):
        pairs = phone_set(SENTENCES[: args.limit])
    audio_s = sum(a.duration_s for _, a in pairs)
    console.print(f"{len(pairs)} utterances, {audio_s:.1f} s of speech after the phone line")

    whisper = run_engine(
        "whisper tiny.en",
        lambda: WhisperEngine(WhisperOptions(beam_size=args.beam_size)),
        pairs,
    )
    baseline = run_engine("pocketsphinx en-us", SphinxLargeVocabularyEngine, pairs)
    pool_rtf = pool_throughput_rtf(pairs, args.beam_size)
    report([whisper, baseline], pool_rtf, audio_s, len(pairs))

    figures = {
        "wer": round(whisper.wer, 4),
        "rtf": round(whisper.rtf, 4),
        "baseline_wer": round(baseline.wer, 4),
        "baseline_rtf": round(baseline.rtf, 4),
        "utterances": len(pairs),
    }
    sys.stderr.flush()
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
