"""Rig phones against the real Asterisk 22 sandbox: registration and audio, both ways.

Extension 9001 in [from-phones] answers and echoes, so a phone that plays a tone must hear
it back. The rig uses the last endpoints of the sandbox, leaving the first ones to the
controller's tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.ami import AmiClient
from ivr.sandbox import SandboxInfo
from sip_test_rig import Fleet, InCall, PhoneScript, Playback, dtmf_sequence
from sip_test_rig.audio import band_energy_ratio, read_wav, write_tone_wav

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


async def test_registered_phone_hears_its_tone_echoed_by_asterisk(
    asterisk: SandboxInfo, tmp_path: Path
) -> None:
    """A phone registers, calls 9001 (Answer + Echo), plays 440 Hz and records the echo."""
    endpoint = asterisk.endpoints[-1]
    tone = write_tone_wav(tmp_path / "tone440.wav", 440, 1.0)
    async with Fleet(asterisk.host, asterisk.sip_port) as fleet:
        phone = await fleet.add_phone(endpoint.name, endpoint.password)
        await fleet.wait_registered(timeout_s=15)
        result = await phone.call(
            "9001",
            InCall(
                play=(Playback(path=tone, at_s=0.3),),
                record_to=tmp_path / "echo.wav",
                hangup_after_s=2.5,
            ),
            ring_timeout_s=10,
            timeout_s=20,
        )
    assert (result.answered, result.sip_status, result.ended_by) == (True, 200, "local")
    assert result.recording == tmp_path / "echo.wav"
    samples, rate = read_wav(result.recording)
    echoed = samples[int(0.5 * rate) : int(1.2 * rate)]
    assert band_energy_ratio(echoed, rate, 440) > 0.8
    assert set(fleet.exit_codes.values()) == {0}


async def test_phone_rung_by_asterisk_answers_on_its_script(
    asterisk: SandboxInfo, tmp_path: Path
) -> None:
    """Asterisk rings a registered member phone (AMI Originate to Echo): the phone rings
    for 1 s, answers, plays a tone, presses 5, hangs up; its recording holds the echo."""
    endpoint = asterisk.endpoints[-13]
    tone = write_tone_wav(tmp_path / "tone440.wav", 440, 1.0)
    script = PhoneScript(
        answer_after_s=1.0,
        play=(Playback(path=tone, at_s=0.2),),
        dtmf=dtmf_sequence("5", start_s=1.5),
        record_to=tmp_path / "{call_id}.wav",
        hangup_after_s=2.5,
    )
    async with Fleet(asterisk.host, asterisk.sip_port) as fleet:
        member = await fleet.add_phone(endpoint.name, endpoint.password, script)
        await fleet.wait_registered(timeout_s=15)
        async with AmiClient(
            asterisk.host, asterisk.ami_port, asterisk.ami_username, asterisk.ami_secret
        ) as ami:
            originated = await ami.originate(
                f"PJSIP/{endpoint.name}", application="Echo", timeout_ms=10_000
            )
        assert originated.answered, originated
        result = await member.next_call_result(timeout_s=15)
    assert (result.direction, result.answered, result.ended_by) == ("incoming", True, "local")
    assert result.digits_sent == "5"
    assert result.recording is not None
    samples, rate = read_wav(result.recording)
    assert band_energy_ratio(samples[int(0.4 * rate) : int(1.1 * rate)], rate, 440) > 0.8


async def test_ten_phones_register_from_at_least_three_processes(asterisk: SandboxInfo) -> None:
    """Ten rig phones (four per process by default) all register with Asterisk."""
    endpoints = asterisk.endpoints[-11:-1]
    async with Fleet(asterisk.host, asterisk.sip_port) as fleet:
        phones = await fleet.add_phones((e.name, e.password) for e in endpoints)
        await fleet.wait_registered(timeout_s=20)
        assert all(p.registered for p in phones)
        assert len({p.worker_pid for p in phones}) >= 3
    assert len(fleet.exit_codes) >= 3 and set(fleet.exit_codes.values()) == {0}


async def test_wrong_password_never_registers_and_says_why(asterisk: SandboxInfo) -> None:
    """A phone with a bad password is refused; the timeout names it and the 401."""
    endpoint = asterisk.endpoints[-12]
    async with Fleet(asterisk.host, asterisk.sip_port) as fleet:
        phone = await fleet.add_phone(endpoint.name, endpoint.password + "-wrong")
        with pytest.raises(TimeoutError, match=f"{endpoint.name}.*40[13]"):
            await fleet.wait_registered(timeout_s=1.5)
        assert not phone.registered
