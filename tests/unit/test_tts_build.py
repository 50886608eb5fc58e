"""Building the catalogue into 8 kHz telephone prompts: shaping, caching, fallback, install."""

from __future__ import annotations

import stat
from pathlib import Path

import numpy as np
import pytest

from ivr.errors import TtsEngineUnavailable
from ivr.speech.audio import Audio, read_wav, rms_dbfs, write_wav
from ivr.speech.prompts import Catalogue, parse_catalogue
from ivr.speech.tts import (
    BuildResult,
    EngineChain,
    RenderSettings,
    build_prompts,
    install_prompts,
    render_phrase,
)
from ivr.speech.tts.build import shape_for_phone
from ivr.speech.tts.fake import FakeTtsEngine

CATALOGUE = """
flows: {delivery: calls, digit: digits, pause: pauses}
prompts:
  - {id: delivery_intro, kind: fragment, text: Hello. This is a message from}
  - {id: delivery_menu, text: "To confirm, press 1. To hear this again, press star."}
  - {id: delivery_confirmed, text: Thank you. Goodbye.}
  - {id: digit_1, text: one.}
  - {id: pause_digit_group, kind: pause, silence_ms: 500}
"""


def _catalogue(text: str = CATALOGUE) -> Catalogue:
    return parse_catalogue(text)


def _build(
    tmp_path: Path, *engines: FakeTtsEngine, catalogue: Catalogue | None = None
) -> BuildResult:
    return build_prompts(
        catalogue or _catalogue(),
        tmp_path / "watchline",
        EngineChain(list(engines)),
        progress=False,
    )


def _edge_silence_ms(audio: Audio) -> tuple[float, float]:
    loud = np.flatnonzero(np.abs(audio.samples) > 50)
    return loud[0] * 1000 / audio.rate, (len(audio) - 1 - loud[-1]) * 1000 / audio.rate


def test_every_entry_becomes_an_8khz_mono_wav_named_by_its_id(tmp_path: Path) -> None:
    result = _build(tmp_path, FakeTtsEngine())
    assert sorted(result.files) == sorted(_catalogue().ids)
    for prompt_id, path in result.files.items():
        assert path == tmp_path / "watchline" / f"{prompt_id}.wav"
        assert read_wav(path).rate == 8000
    assert result.pauses == 1 and result.synthesized == 4


def test_whole_prompts_get_200ms_lead_and_trail_and_fragments_much_less(tmp_path: Path) -> None:
    """The engine's own silence is replaced by fixed padding, so joined prompts are even."""
    files = _build(tmp_path, FakeTtsEngine(lead_s=0.5)).files
    lead, trail = _edge_silence_ms(read_wav(files["delivery_menu"]))
    assert lead == pytest.approx(200, abs=25) and trail == pytest.approx(200, abs=25)
    lead, trail = _edge_silence_ms(read_wav(files["delivery_intro"]))
    assert lead < 70 and trail < 70


def test_pauses_are_silence_of_the_given_length(tmp_path: Path) -> None:
    pause = read_wav(_build(tmp_path, FakeTtsEngine()).files["pause_digit_group"])
    assert pause.duration_s == pytest.approx(0.5) and not pause.samples.any()


def test_prompts_are_normalised_to_the_target_loudness(tmp_path: Path) -> None:
    """Quiet and loud engines end up at the same level on the line."""
    files = _build(tmp_path, FakeTtsEngine()).files
    speech = read_wav(files["delivery_confirmed"])
    _, trail = _edge_silence_ms(speech)
    lead_n = int(0.2 * 8000)
    voiced = Audio(speech.samples[lead_n : len(speech) - int(trail * 8)], 8000)
    assert rms_dbfs(voiced) == pytest.approx(RenderSettings().target_dbfs, abs=1.5)


def test_an_unchanged_catalogue_rebuilds_without_synthesizing(tmp_path: Path) -> None:
    """The second build is all cache hits: the engine is not called at all."""
    _build(tmp_path, FakeTtsEngine())
    engine = FakeTtsEngine()
    again = _build(tmp_path, engine)
    assert (again.synthesized, again.cached) == (0, 4)
    assert engine.calls == []
    assert again.engines == {"fake": 4}


def test_a_changed_prompt_is_the_only_one_synthesized_again(tmp_path: Path) -> None:
    _build(tmp_path, FakeTtsEngine())
    engine = FakeTtsEngine()
    edited = _catalogue(CATALOGUE.replace("Thank you. Goodbye.", "Thank you. Bye for now."))
    result = _build(tmp_path, engine, catalogue=edited)
    assert engine.calls == ["Thank you. Bye for now."]
    assert (result.synthesized, result.cached) == (1, 3)


def test_a_different_voice_or_setting_synthesizes_everything_again(tmp_path: Path) -> None:
    _build(tmp_path, FakeTtsEngine(voice="v1"))
    engine = FakeTtsEngine(voice="v2")
    assert _build(tmp_path, engine).synthesized == 4
    settings = RenderSettings(target_dbfs=-18.0)
    out = tmp_path / "watchline"
    louder = build_prompts(
        _catalogue(), out, EngineChain([engine]), progress=False, settings=settings
    )
    assert louder.synthesized == 4


def test_a_corrupt_cache_entry_is_rendered_again(tmp_path: Path) -> None:
    _build(tmp_path, FakeTtsEngine())
    for entry in (tmp_path / "watchline" / ".cache").glob("*.wav"):
        entry.write_bytes(b"RIFF")
    assert _build(tmp_path, FakeTtsEngine()).synthesized == 4


def test_the_build_falls_back_when_the_first_engine_is_unavailable(tmp_path: Path) -> None:
    """No Piper here: espeak (or whatever is next) renders, and the build says why."""
    result = _build(
        tmp_path, FakeTtsEngine("piper", unavailable="no voice"), FakeTtsEngine("espeak")
    )
    assert result.engines == {"espeak": 4}
    assert result.unavailable == {"piper": "no voice"}


def test_a_cached_fallback_rendering_is_replaced_once_the_better_engine_is_back(
    tmp_path: Path,
) -> None:
    """espeak audio from an offline build must not stick once Piper can run again."""
    _build(tmp_path, FakeTtsEngine("piper", unavailable="no voice"), FakeTtsEngine("espeak"))
    piper = FakeTtsEngine("piper")
    result = _build(tmp_path, piper, FakeTtsEngine("espeak"))
    assert result.engines == {"piper": 4} and len(piper.calls) == 4


def test_a_build_with_no_engine_that_can_run_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(TtsEngineUnavailable, match="no TTS engine can run here"):
        _build(tmp_path, FakeTtsEngine("piper", unavailable="no voice"))


def test_prompts_dropped_from_the_catalogue_are_removed_but_runtime_phrases_kept(
    tmp_path: Path,
) -> None:
    out = tmp_path / "watchline"
    out.mkdir()
    write_wav(out / "old_prompt.wav", Audio.silence(0.1, 8000))
    write_wav(out / "dyn_0123.wav", Audio.silence(0.1, 8000))
    result = _build(tmp_path, FakeTtsEngine())
    assert result.removed == ("old_prompt",)
    assert (out / "dyn_0123.wav").exists()


def test_shaping_refuses_an_engine_that_produced_only_silence() -> None:
    from ivr.errors import AudioFormatError

    with pytest.raises(AudioFormatError, match="only silence"):
        shape_for_phone(Audio.silence(1.0, 22050), RenderSettings(), lead_ms=200, trail_ms=200)


# --- runtime phrases and install ----------------------------------------------------------


def test_a_runtime_phrase_is_rendered_once_under_a_stable_id(tmp_path: Path) -> None:
    """A group name gets a sound id derived from its text; asking again costs nothing."""
    engine = FakeTtsEngine()
    first = render_phrase("Elm Road", tmp_path, EngineChain([engine]))
    again = render_phrase("  elm   ROAD ", tmp_path, EngineChain([engine]))
    assert first == again and first.startswith("dyn_")
    assert engine.calls == ["Elm Road"]
    assert read_wav(tmp_path / f"{first}.wav").rate == 8000
    assert render_phrase("Church Lane", tmp_path, EngineChain([engine])) != first


def test_install_copies_prompts_world_readable_and_skips_identical_files(tmp_path: Path) -> None:
    build = _build(tmp_path, FakeTtsEngine()).out_dir
    sounds = tmp_path / "asterisk" / "sounds" / "watchline"
    first = install_prompts(build, sounds)
    assert len(first.copied) == 5 and first.unchanged == 0
    assert {p.name for p in sounds.iterdir()} == {p.name for p in build.glob("*.wav")}
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in sounds.iterdir())
    second = install_prompts(build, sounds)
    assert second.copied == () and second.unchanged == 5


def test_install_replaces_changed_prompts_and_removes_dropped_ones(tmp_path: Path) -> None:
    build = _build(tmp_path, FakeTtsEngine()).out_dir
    sounds = tmp_path / "sounds"
    install_prompts(build, sounds)
    write_wav(sounds / "gone_prompt.wav", Audio.silence(0.1, 8000))
    write_wav(sounds / "dyn_abc.wav", Audio.silence(0.1, 8000))
    write_wav(build / "delivery_confirmed.wav", Audio.silence(0.3, 8000))
    result = install_prompts(build, sounds)
    assert result.copied == ("delivery_confirmed",)
    assert result.removed == ("gone_prompt",)
    assert read_wav(sounds / "delivery_confirmed.wav").duration_s == pytest.approx(0.3)
    assert (sounds / "dyn_abc.wav").exists()
    assert not [p for p in sounds.iterdir() if p.name.startswith(".")]


def test_install_refuses_an_empty_build(tmp_path: Path) -> None:
    """Installing nothing would delete every prompt Asterisk has."""
    with pytest.raises(FileNotFoundError, match="run the build first"):
        install_prompts(tmp_path, tmp_path / "sounds")
