"""Speech recognition of what a caller said, recorded by the real Asterisk.

A rig phone plays synthesized speech of known sentences into a call; the controller
records it over ARI, fetches the recording over HTTP (as it would from a remote Asterisk)
and transcribes it with the default engine. The sentences come back at <= 15 % WER.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ivr.app import Controller
from ivr.config import Settings
from ivr.sandbox import SandboxInfo
from ivr.speech.asr.whisper import WhisperEngine
from ivr.speech.audio import read_wav
from ivr.speech.tts.spoken import spoken_wav
from ivr.speech.wer import wer
from ivr.telephony.call import Call, RecordingResult
from sip_test_rig.fleet import Fleet
from sip_test_rig.script import InCall, Playback
from tests.conftest import EndpointPool

pytestmark = pytest.mark.integration

SENTENCES = (
    "Somebody broke into my shed last night and took a lawnmower and two bicycles. "
    "The lock on the side gate was cut."
)


async def test_speech_played_into_a_call_is_recorded_fetched_and_transcribed(
    asterisk: SandboxInfo, fleet: Fleet, endpoints: EndpointPool, tmp_path: Path
) -> None:
    done: asyncio.Future[tuple[RecordingResult, bytes]] = asyncio.get_running_loop().create_future()

    async def record_one(call: Call, args: tuple[str, ...]) -> None:
        await call.answer()
        result = await call.record("speech-test", max_duration_s=30, max_silence_s=3, beep=True)
        done.set_result((result, await call.fetch_recording(result.name)))

    (ep,) = endpoints.take(1)
    phone = await fleet.add_phone(ep.name, ep.password)
    await fleet.wait_registered([phone])
    speech = Playback(path=spoken_wav(SENTENCES), at_s=1.5)
    async with Controller(Settings(data_dir=tmp_path / "var"), sandbox=asterisk,
                          dialogues={"selftest": record_one}, serve_web=False,
                          components=[]):  # fmt: skip
        call = await fleet.call(phone, "9000", InCall(play=(speech,), hangup_after_s=25),
                                timeout_s=60)  # fmt: skip
        result, wav = await asyncio.wait_for(done, 30)
    assert call.answered
    assert result.ended_by in ("silence", "hangup"), result
    audio = read_wav(wav)
    assert audio.rate == 8000 and audio.duration_s > 5
    transcript = await asyncio.to_thread(WhisperEngine().transcribe, audio)
    assert not transcript.no_speech
    assert wer(SENTENCES, transcript.text) <= 0.15, transcript.text
