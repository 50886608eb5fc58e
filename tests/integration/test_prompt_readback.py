"""Read-back: build the whole catalogue with Piper, let Whisper listen to every prompt at 8 kHz.

If a speech recogniser reads a prompt back wrong, a stressed caller on a landline may too,
so this is the intelligibility check for wording and rendering. Whole prompts are read one
by one. Fragments and one-word prompts (digits, number words, "star") are read inside the
compositions a caller actually hears ("38 out of 45 members confirmed."), because Whisper
hallucinates on an isolated half-second word ("two." came back as "See you in the next
video."), which says nothing about what a caller hears.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ivr.speech import say
from ivr.speech.audio import Audio, read_wav
from ivr.speech.prompts import Catalogue, load_catalogue
from ivr.speech.tts import TtsSettings, build_prompts, make_chain, render_phrase
from ivr.speech.wer import corpus_wer, normalise_words

pytestmark = pytest.mark.slow

MAX_WER = 0.10
SCHEME = "Oakfield Neighbourhood Watch"
GROUPS = (
    "Elm Road", "Church Lane", "Mill Street", "Station Approach", "The Green",
    "Victoria Park", "Orchard Close", "High Street shops", "Riverside flats",
)  # fmt: skip


def _folded(text: str) -> str:
    """Fold differences that are spelling, not hearing: "999" vs "9 9 9", "voice mail"."""
    words = " ".join(normalise_words(text)).replace("voice mail", "voicemail")
    return re.sub(r"\d{2,}", lambda m: " ".join(m.group()), words)


def _compositions(catalogue: Catalogue) -> Iterator[tuple[str, list[str]]]:
    """(label, prompt ids) as flows join them; names are sound ids rendered at run time."""
    monday = dt.datetime(2025, 1, 6, 9, 0)
    friday = dt.datetime(2025, 1, 10, 9, 0)
    yield "delivery", ["delivery_intro", "@" + SCHEME, "delivery_bulletin_intro"]
    replay_number = say.digits("01632 960 457")
    yield "voicemail", [
        "delivery_voicemail_intro", "@" + SCHEME, "delivery_voicemail_replay", *replay_number,
        "delivery_voicemail_number_again", *replay_number, "common_goodbye_short",
    ]  # fmt: skip
    group_list = ["bulletin_groups_intro"]
    for key, group in enumerate(GROUPS, start=1):
        group_list += ["bulletin_group_for", "@" + group, f"bulletin_group_press_{key}"]
    yield "group list", [*group_list, "bulletin_groups_all"]
    yield "keys", ["report_callback_you_entered", *say.digits("0123456789*#", group=12)]
    yield "reference", ["report_reference_intro", *say.digits("407122983310")]
    counts = [(38, 45, 4, 3), (1, 1, 0, 0), (250, 1016, 19, 90), (6, 72, 8, 10), (11, 86, 13, 60)]
    counts += [(14, 2000, 15, 17), (12, 40, 20, 0), (0, 50, 0, 18)]
    for c in counts:
        yield f"summary {c}", ["bulletin_summary_intro", *say.summary(*c)]
    yield "position", [*say.position(2, 5), *say.position(9, 47)]
    moments = [
        (monday, monday.replace(hour=19)), (monday, monday + dt.timedelta(days=1, hours=1)),
        (monday, dt.datetime(2025, 1, 8, 7, 5)), (monday, dt.datetime(2025, 1, 9, 14, 30)),
        (monday, dt.datetime(2025, 1, 10, 12, 0)), (monday, dt.datetime(2025, 1, 11, 22, 15)),
        (monday, dt.datetime(2025, 1, 12, 0, 0)), (friday, dt.datetime(2025, 1, 13, 10, 0)),
        (friday, dt.datetime(2025, 1, 14, 18, 45)),
    ]  # fmt: skip
    for now, at in moments:
        yield f"when {at:%a %H:%M}", ["bulletin_sent_at", *say.when(at, now)]


def _text_of(item: str, catalogue: Catalogue) -> str:
    return item[1:] if item.startswith("@") else catalogue[item].text


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Catalogue, Path, dict[str, str]]:
    catalogue = load_catalogue()
    out = tmp_path_factory.mktemp("prompts") / "watchline"
    settings = TtsSettings(engines=("piper",))
    started = time.perf_counter()
    result = build_prompts(catalogue, out, make_chain(settings), progress=False)
    cold = time.perf_counter() - started
    warm = build_prompts(catalogue, out, make_chain(settings), progress=False)
    names = {n: render_phrase(n, out, make_chain(settings)) for n in (SCHEME, *GROUPS)}
    print(
        f"\nbuild: {len(catalogue)} prompts, {result.audio_seconds:.0f} s of audio; "
        f"cold {cold:.1f} s (RTF {cold / result.audio_seconds:.3f}), warm {warm.seconds:.2f} s"
    )
    assert result.engines == {"piper": len(catalogue.spoken())}
    assert warm.synthesized == 0
    # Generous: measured RTF is about 0.07; this only catches an accidental order of magnitude.
    assert cold < 0.5 * result.audio_seconds
    return catalogue, out, names


def test_whisper_reads_back_every_prompt_within_ten_percent_wer(
    built: tuple[Catalogue, Path, dict[str, str]],
) -> None:
    """Every prompt, alone or in its runtime composition, is read back at ≤ 10 % corpus WER."""
    from ivr.speech.asr.whisper import WhisperEngine

    catalogue, out, names = built
    engine = WhisperEngine()
    covered: set[str] = set()
    pairs: list[tuple[str, str]] = []
    report: list[str] = []

    def listen(label: str, items: list[str]) -> None:
        sound_ids = [names[i[1:]] if i.startswith("@") else i for i in items]
        samples = [read_wav(out / f"{s}.wav").samples for s in sound_ids]
        heard = engine.transcribe(Audio(np.concatenate(samples), 8000)).text
        spoken = " ".join(_text_of(i, catalogue) for i in items)  # a pause's text is empty
        pairs.append((_folded(spoken), _folded(heard)))
        if _folded(spoken) != _folded(heard):
            report.append(f"  {label}: {spoken!r} -> {heard!r}")
        covered.update(i for i in items if not i.startswith("@"))

    for prompt in catalogue.spoken():
        if prompt.kind == "prompt" and len(prompt.text.split()) > 1:
            listen(prompt.id, [prompt.id])
    for label, items in _compositions(catalogue):
        listen(label, items)

    measured = corpus_wer(pairs)
    words = sum(len(ref.split()) for ref, _ in pairs)
    print(f"read-back: {len(pairs)} utterances, {words} words, corpus WER {measured:.1%}")
    print("\n".join(report))
    missing = [p.id for p in catalogue.spoken() if p.id not in covered]
    assert not missing, f"prompts never read back: {missing}"
    assert measured <= MAX_WER
