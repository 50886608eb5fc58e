"""Render the prompt catalogue to telephone audio, cached, and install it for Asterisk.

Every prompt goes through the same steps: synthesize (engine's native rate) → trim the
engine's own silence → resample once to 8 kHz → normalise loudness → add a fixed lead and
trail of silence. Fixed padding makes prompts joined at run time (say.py) evenly spaced,
and the lead keeps the first syllable from being clipped while a landline's audio path
settles after a playback starts.

The cache holds finished 8 kHz files named by a hash of (engine, voice and settings, text,
render settings, pipeline version), so an unchanged catalogue rebuilds without synthesizing
anything and a changed prompt re-renders only itself.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ivr.errors import AudioFormatError, TtsEngineUnavailable
from ivr.speech.audio import Audio, normalise_loudness, read_wav, resample, trim_silence, write_wav
from ivr.speech.prompts import Catalogue, Prompt
from ivr.speech.tts.engine import EngineChain

log = logging.getLogger(__name__)

#: Bump when the rendering pipeline changes in a way the settings below do not capture.
PIPELINE_VERSION = 1
#: Runtime phrases (scheme and group names) live beside the prompts under this prefix;
#: install_prompts leaves them alone. No catalogue flow may use it.
DYNAMIC_PREFIX = "dyn_"


@dataclass(frozen=True)
class RenderSettings:
    """Telephone-side shaping, the same for every engine."""

    rate: int = 8000
    #: RMS level. Near the -19 dBm0 nominal speech level of G.711; peaks are held at -1 dBFS.
    target_dbfs: float = -20.0
    #: Silence before and after a whole prompt (~200 ms suits landlines).
    lead_ms: int = 200
    trail_ms: int = 200
    #: Fragments are joined to other audio mid-sentence, so they get much less.
    fragment_pad_ms: int = 40
    #: Engine silence below this level is trimmed before the fixed padding is added. Low,
    #: because the soft onset of "f" or "th" sits near -50 dBFS and must not be cut
    #: ("fifty" was heard as "Vessy" with -45).
    trim_threshold_dbfs: float = -60.0


@dataclass(frozen=True)
class BuildResult:
    out_dir: Path
    files: Mapping[str, Path]
    synthesized: int
    cached: int
    pauses: int
    removed: tuple[str, ...]
    #: Engine name → how many prompts its audio was used for (cached ones included).
    engines: Mapping[str, int]
    #: Engines skipped during this build and why (e.g. gTTS offline).
    unavailable: Mapping[str, str]
    seconds: float
    audio_seconds: float = field(default=0.0)


def shape_for_phone(
    audio: Audio, settings: RenderSettings, *, lead_ms: int, trail_ms: int
) -> Audio:
    """Trim, resample once, normalise, pad: the one path from engine audio to a phone prompt."""
    trimmed = trim_silence(audio, threshold_dbfs=settings.trim_threshold_dbfs, pad_ms=20)
    if len(trimmed) == 0:
        raise AudioFormatError("the engine produced only silence")
    narrow = normalise_loudness(resample(trimmed, settings.rate), settings.target_dbfs)
    lead = np.zeros(settings.rate * lead_ms // 1000, dtype=np.int16)
    trail = np.zeros(settings.rate * trail_ms // 1000, dtype=np.int16)
    return Audio(np.concatenate([lead, narrow.samples, trail]), settings.rate)


def padding_for(prompt: Prompt, settings: RenderSettings) -> tuple[int, int]:
    if prompt.kind == "fragment":
        return settings.fragment_pad_ms, settings.fragment_pad_ms
    return settings.lead_ms, settings.trail_ms


def cache_key(
    engine_parts: tuple[str, ...], text: str, settings: RenderSettings, pad: tuple[int, int]
) -> str:
    payload = {
        "pipeline": PIPELINE_VERSION,
        "engine": list(engine_parts),
        "text": text,
        "render": asdict(settings),
        "pad": list(pad),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()[:32]


class _Renderer:
    """Cache-first rendering of one text through the chain; counts what it had to do."""

    def __init__(self, chain: EngineChain, cache_dir: Path, settings: RenderSettings) -> None:
        self.chain = chain
        self.cache_dir = cache_dir
        self.settings = settings
        self.synthesized = 0
        self.cached = 0

    def render(self, text: str, pad: tuple[int, int]) -> tuple[str, Audio]:
        # The preferred engine's cached audio wins; a cached fallback rendering is only used
        # while the better engine is unavailable, so a later build with Piper back upgrades it.
        for engine in self.chain.candidates():
            path = (
                self.cache_dir
                / f"{cache_key(engine.cache_key_parts(), text, self.settings, pad)}.wav"
            )
            if path.is_file():
                try:
                    audio = read_wav(path)
                except AudioFormatError:
                    log.warning("corrupt TTS cache entry %s; rendering again", path.name)
                else:
                    self.cached += 1
                    return engine.name, audio
            try:
                raw = engine.synthesize(text)
            except TtsEngineUnavailable as e:
                self.chain.mark_unavailable(engine, str(e))
                continue
            audio = shape_for_phone(raw, self.settings, lead_ms=pad[0], trail_ms=pad[1])
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            write_wav(path, audio)
            self.synthesized += 1
            return engine.name, audio
        raise self.chain.exhausted()


def build_prompts(
    catalogue: Catalogue,
    out_dir: Path,
    engine_chain: EngineChain,
    *,
    progress: bool = True,
    cache_dir: Path | None = None,
    settings: RenderSettings | None = None,
) -> BuildResult:
    """Render every catalogue entry to ``out_dir/<id>.wav`` (8 kHz, 16-bit, mono).

    ``cache_dir`` defaults to ``out_dir/.cache``. WAV files in ``out_dir`` that are no longer
    in the catalogue are removed, so ``out_dir`` can be installed as it stands. Raises
    TtsEngineUnavailable when no engine in the chain can run.
    """
    settings = settings or RenderSettings()
    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    renderer = _Renderer(engine_chain, cache_dir or out_dir / ".cache", settings)
    files: dict[str, Path] = {}
    engines: Counter[str] = Counter()
    pauses = 0
    audio_seconds = 0.0
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), disable=not progress) as bar:
        task = bar.add_task("rendering prompts", total=len(catalogue))
        for prompt in catalogue:
            bar.update(task, description=f"rendering {prompt.id}")
            if prompt.kind == "pause":
                audio = Audio.silence(prompt.silence_ms / 1000, settings.rate)
                pauses += 1
            else:
                engine_name, audio = renderer.render(prompt.text, padding_for(prompt, settings))
                engines[engine_name] += 1
            target = out_dir / f"{prompt.id}.wav"
            write_wav(target, audio)
            files[prompt.id] = target
            audio_seconds += audio.duration_s
            bar.advance(task)
        bar.update(task, description="prompts rendered")
    removed = _remove_stale(out_dir, set(files))
    result = BuildResult(
        out_dir=out_dir,
        files=files,
        synthesized=renderer.synthesized,
        cached=renderer.cached,
        pauses=pauses,
        removed=removed,
        engines=dict(engines),
        unavailable=engine_chain.unavailable,
        seconds=time.perf_counter() - started,
        audio_seconds=audio_seconds,
    )
    log.info(
        "built %d prompts in %.1f s (%d synthesized, %d cached) with %s",
        len(files), result.seconds, result.synthesized, result.cached, dict(engines),
    )  # fmt: skip
    return result


def _remove_stale(directory: Path, keep: set[str]) -> tuple[str, ...]:
    removed = []
    for wav in sorted(directory.glob("*.wav")):
        if wav.stem not in keep and not wav.stem.startswith(DYNAMIC_PREFIX):
            wav.unlink()
            removed.append(wav.stem)
    return tuple(removed)


def render_phrase(
    text: str,
    sounds_dir: Path,
    engine_chain: EngineChain,
    *,
    cache_dir: Path | None = None,
    settings: RenderSettings | None = None,
) -> str:
    """Render a runtime phrase (a scheme or group name) beside the prompts; return its sound id.

    For text known only at run time but not per call: call it when a scheme or group is
    saved, not while a caller waits. The id is derived from the text, so renaming a group
    yields a new file and the old one never changes under a playing call. Played, like the
    prompts, as ``sound:watchline/<id>``. Rendered as a fragment (short padding), since a
    name is always spoken inside a sentence.
    """
    settings = settings or RenderSettings()
    normalised = " ".join(text.split())
    if not normalised:
        raise ValueError("cannot render an empty phrase")
    digest = hashlib.sha256(normalised.casefold().encode("utf-8")).hexdigest()[:16]
    sound_id = f"{DYNAMIC_PREFIX}{digest}"
    target = sounds_dir / f"{sound_id}.wav"
    if not target.is_file():
        renderer = _Renderer(engine_chain, cache_dir or sounds_dir / ".cache", settings)
        pad = (settings.fragment_pad_ms, settings.fragment_pad_ms)
        _, audio = renderer.render(normalised, pad)
        sounds_dir.mkdir(parents=True, exist_ok=True)
        write_wav(target, audio)
        target.chmod(0o644)
    return sound_id


@dataclass(frozen=True)
class InstallResult:
    copied: tuple[str, ...]
    unchanged: int
    removed: tuple[str, ...]


def install_prompts(build_dir: Path, sounds_dir: Path) -> InstallResult:
    """Copy built prompts into Asterisk's ``sounds/watchline`` folder, each file atomically.

    New and changed files are written to a temporary name in ``sounds_dir`` and renamed over
    the old one, so a call playing a prompt during an install hears the old or the new file,
    never half of one; files already identical are left alone. Prompts no longer built are
    removed last, after every new file is in place. Runtime phrases (``dyn_*``) are kept.
    Files are made world-readable because Asterisk may run as its own user.
    """
    sources = {p.stem: p for p in sorted(build_dir.glob("*.wav"))}
    if not sources:
        raise FileNotFoundError(f"no built prompts in {build_dir}; run the build first")
    sounds_dir.mkdir(parents=True, exist_ok=True)
    copied: list[str] = []
    unchanged = 0
    for stem, source in sources.items():
        target = sounds_dir / source.name
        data = source.read_bytes()
        if target.is_file() and target.read_bytes() == data:
            unchanged += 1
            continue
        with tempfile.NamedTemporaryFile(dir=sounds_dir, prefix=f".{stem}.", delete=False) as tmp:
            tmp.write(data)
        tmp_path = Path(tmp.name)
        try:
            tmp_path.chmod(0o644)
            tmp_path.replace(target)
        except BaseException:
            tmp_path.unlink(missing_ok=True)
            raise
        copied.append(stem)
    removed = _remove_stale(sounds_dir, set(sources))
    return InstallResult(tuple(copied), unchanged, removed)


def clear_cache(cache_dir: Path) -> None:
    """Forget every cached rendering (the next build synthesizes everything)."""
    shutil.rmtree(cache_dir, ignore_errors=True)
