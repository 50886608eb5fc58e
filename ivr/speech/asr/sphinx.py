"""pocketsphinx: a small JSGF grammar of menu words, and a large-vocabulary baseline.

Measured here: the grammar decoder answers in ~10 ms and picks the right menu word, but it
never rejects speech outside the grammar (it picks the nearest word, or finds no path at
all, which we report as ``no_speech``), and its confidence is the lattice posterior inside
the grammar, so it is close to 1 for whatever it picked. The large-vocabulary mode is only
the baseline the ASR benchmark compares Whisper against (~50 % WER on phone audio).

pocketsphinx needs 16 kHz input (``samprate=8000`` fails at init), so audio is resampled
through :func:`ivr.speech.audio.resample`. A decoder is not thread-safe: calls are
serialised by a lock, which costs little at ~10 ms a grammar decode.

Grammar words must be in the pronunciation dictionary; an unknown word would make the
JSGF search crash the process, so words are checked first. British spellings borrow the
pronunciation of the US form ("behaviour" is pronounced as "behavior").
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ivr.errors import ModelLoadError, TranscriptionError
from ivr.speech.asr.base import Segment, Transcript
from ivr.speech.audio import Audio, resample
from ivr.speech.wer import SPELLING

#: pocketsphinx reports word times in 10 ms frames.
FRAMES_PER_SECOND = 100
_FILLER = re.compile(r"^(<.*>|\[.*\]|\+\+.*\+\+)$")
_ALTERNATE = re.compile(r"\(\d+\)$")


def _new_decoder(**config: Any) -> Any:
    from pocketsphinx import Decoder

    try:
        return Decoder(samprate=16000, loglevel="FATAL", **config)
    except Exception as e:  # RuntimeError("Failed to initialize decoder") and friends
        raise ModelLoadError(f"pocketsphinx could not start ({config or 'defaults'}): {e}") from e


def grammar_words(phrases: Sequence[str]) -> list[list[str]]:
    """Each phrase as lower-case words, hyphens split, anything but letters and ' dropped."""
    result = []
    for phrase in phrases:
        words = re.sub(r"[^a-z' ]+", " ", phrase.lower().replace("-", " ")).split()
        if words:
            result.append(words)
    return result


def jsgf(phrases: Sequence[Sequence[str]], name: str = "menu") -> str:
    """A JSGF grammar accepting exactly one of the phrases."""
    alternatives = " | ".join(" ".join(words) for words in phrases)
    return f"#JSGF V1.0;\ngrammar {name};\npublic <answer> = {alternatives} ;\n"


class _SphinxBase:
    engine_name = "pocketsphinx"

    def __init__(self, decoder: Any, load_seconds: float) -> None:
        self._decoder = decoder
        self._lock = threading.Lock()
        # Tracked here because Decoder.current_search() segfaults before any search is active.
        self._active: str | None = None
        self.load_seconds = load_seconds

    @property
    def name(self) -> str:
        return self.engine_name

    def _decode(self, audio: Audio, search: str | None = None) -> Transcript:
        if len(audio) == 0:
            return Transcript.nothing_heard(self.name, 0.0)
        pcm = resample(audio, 16000).pcm16()
        d = self._decoder
        try:
            with self._lock:
                if search is not None and self._active != search:
                    d.activate_search(search)
                    self._active = search
                d.start_utt()
                d.process_raw(pcm, full_utt=True)
                d.end_utt()
                hyp = d.hyp()
                segs = list(d.seg()) if hyp is not None else []
        except Exception as e:
            raise TranscriptionError(f"pocketsphinx failed on {audio!r}: {e}") from e
        found = [
            Segment(
                text=_ALTERNATE.sub("", s.word),
                start_s=s.start_frame / FRAMES_PER_SECOND,
                end_s=(s.end_frame + 1) / FRAMES_PER_SECOND,
                confidence=float(s.prob),
            )
            for s in segs
            if not _FILLER.match(s.word)
        ]
        return Transcript.from_segments(found, engine=self.name, duration_s=audio.duration_s)


class SphinxGrammarEngine(_SphinxBase):
    """Recognises exactly one of a few phrases (menu words); ``context`` replaces them per call."""

    engine_name = "pocketsphinx:grammar"

    def __init__(self, phrases: Sequence[str]) -> None:
        started = time.perf_counter()
        super().__init__(_new_decoder(lm=None), 0.0)
        self._searches: dict[tuple[str, ...], str] = {}
        self._default = self._search_for(phrases)
        self.load_seconds = time.perf_counter() - started

    def transcribe(self, audio: Audio, *, context: Sequence[str] | None = None) -> Transcript:
        search = self._search_for(context) if context else self._default
        return self._decode(audio, search)

    def _search_for(self, phrases: Sequence[str]) -> str:
        key = tuple(phrases)
        with self._lock:
            if key not in self._searches:
                words = grammar_words(phrases)
                if not words:
                    raise ModelLoadError(f"no usable words for a pocketsphinx grammar: {phrases}")
                self._add_pronunciations({w for phrase in words for w in phrase})
                name = f"menu{len(self._searches)}"
                self._decoder.add_jsgf_string(name, jsgf(words))
                self._searches[key] = name
            return self._searches[key]

    def _add_pronunciations(self, words: set[str]) -> None:
        d = self._decoder
        unknown = []
        for word in sorted(words):
            if d.lookup_word(word) is not None:
                continue
            us = SPELLING.get(word)
            phones = d.lookup_word(us) if us else None
            if phones is None:
                unknown.append(word)
            else:
                d.add_word(word, phones, True)
        if unknown:
            raise ModelLoadError(
                f"words not in the pocketsphinx dictionary: {', '.join(unknown)}; "
                "use a synonym the dictionary knows"
            )


class SphinxLargeVocabularyEngine(_SphinxBase):
    """The en-us language model and dictionary shipped in the wheel; a benchmark baseline."""

    engine_name = "pocketsphinx:en-us"

    def __init__(self, model_dir: Path | None = None) -> None:
        started = time.perf_counter()
        config = {}
        if model_dir is not None:
            config = {
                "hmm": str(model_dir / "en-us"),
                "lm": str(model_dir / "en-us.lm.bin"),
                "dict": str(model_dir / "cmudict-en-us.dict"),
            }
        super().__init__(_new_decoder(**config), time.perf_counter() - started)

    def transcribe(self, audio: Audio, *, context: Sequence[str] | None = None) -> Transcript:
        return self._decode(audio)
