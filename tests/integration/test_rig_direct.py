"""The SIP test rig on its own: rig phones in separate processes call each other directly.

No Asterisk: phone A dials phone B's own URI (sip:bob@127.0.0.1:port) without registering.
This proves the rig's media, DTMF, ring behaviours and clean shutdown, so failures in the
Asterisk tests can be blamed on the right side.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import pytest_asyncio

from sip_test_rig import (
    AnsweringMachine,
    CommandFailed,
    Fleet,
    InCall,
    PhoneScript,
    Playback,
    RigPhone,
    RingAction,
    dtmf_sequence,
)
from sip_test_rig.audio import band_energy_ratio, read_wav, rms, write_tone_wav

pytestmark = pytest.mark.timeout(120)
#: Worker and CLI subprocesses import sip_test_rig from this checkout.
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("rig-media")
    write_tone_wav(folder / "tone440.wav", 440, 1.0)
    write_tone_wav(folder / "greeting600.wav", 600, 1.0)
    return folder


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def pair() -> AsyncIterator[tuple[RigPhone, RigPhone]]:
    """Alice and Bob, unregistered, each in a worker process of their own."""
    async with Fleet(phones_per_worker=1) as fleet:
        alice, bob = await fleet.add_phones([("alice", ""), ("bob", "")])
        assert alice.worker_pid != bob.worker_pid
        yield alice, bob
    assert set(fleet.exit_codes.values()) == {0}


def _segment(path: Path, start_s: float, end_s: float) -> tuple[npt.NDArray[np.float64], int]:
    """The part of a recording between two times (seconds from its start)."""
    samples, rate = read_wav(path)
    return samples[int(start_s * rate) : int(end_s * rate)], rate


async def test_callee_hears_the_callers_tone_and_receives_its_digits(
    pair: tuple[RigPhone, RigPhone], media: Path, tmp_path: Path
) -> None:
    """Bob answers after 1 s and records; Alice plays 440 Hz and sends 1, 2, # (RFC 2833).

    Bob's recording carries the tone, Bob reports exactly the digits Alice sent, and both
    sides agree who hung up.
    """
    alice, bob = pair
    await bob.set_script(PhoneScript(answer_after_s=1.0, record_to=tmp_path / "{call_id}.wav"))
    loop = asyncio.get_running_loop()
    dialled = loop.time()
    call = await alice.start_call(
        bob.uri,
        InCall(
            play=(Playback(path=media / "tone440.wav", at_s=0.2),),
            dtmf=dtmf_sequence("12#", start_s=1.4, gap_s=0.3),
            hangup_after_s=2.5,
        ),
    )
    assert await call.wait_answered(timeout_s=5)
    assert loop.time() - dialled >= 0.9  # Bob let it ring for his 1 s
    sent = await call.result(timeout_s=10)
    heard = await bob.next_call_result(timeout_s=5)

    assert (sent.answered, sent.sip_status, sent.ended_by) == (True, 200, "local")
    assert sent.digits_sent == "12#"
    assert (heard.answered, heard.ended_by, heard.direction) == (True, "remote", "incoming")
    assert heard.digits_received == "12#"
    assert 2.3 < heard.duration_s < 3.0
    assert heard.recording is not None and heard.recording.parent == tmp_path
    tone, rate = _segment(heard.recording, 0.3, 1.1)
    assert band_energy_ratio(tone, rate, 440) > 0.8
    quiet, _ = _segment(heard.recording, 1.5, 2.3)
    assert rms(quiet) < 0.01
    # the receive jitter buffer's counters come with the result; over loopback, with
    # nothing else running, no frame of the tone was dropped
    assert set(heard.jitter_buffer) >= {"empty", "discard", "lost", "avg_delay_ms"}
    assert heard.jitter_buffer["discard"] == 0 and heard.jitter_buffer["lost"] == 0


@pytest.mark.parametrize(("action", "status"), [(RingAction.BUSY, 486), (RingAction.DECLINE, 603)])
async def test_rejecting_phone_answers_with_its_status(
    pair: tuple[RigPhone, RigPhone], action: RingAction, status: int
) -> None:
    """A busy phone rejects with 486 and a declining one with 603; nobody is 'answered'."""
    alice, bob = pair
    await bob.set_script(PhoneScript(on_ring=action))
    sent = await alice.call(bob.uri, timeout_s=10)
    refused = await bob.next_call_result(timeout_s=5)
    assert (sent.answered, sent.sip_status, sent.ended_by) == (False, status, "remote")
    assert (refused.answered, refused.sip_status, refused.ended_by) == (False, status, "local")


async def test_caller_gives_up_on_a_phone_that_never_answers(
    pair: tuple[RigPhone, RigPhone],
) -> None:
    """With a 1 s ring timeout the caller cancels (487) a phone that only rings."""
    alice, bob = pair
    await bob.set_script(PhoneScript(on_ring=RingAction.NO_ANSWER))
    sent = await alice.call(bob.uri, ring_timeout_s=1.0, timeout_s=10)
    rang = await bob.next_call_result(timeout_s=5)
    assert (sent.answered, sent.sip_status, sent.ended_by) == (False, 487, "local")
    assert (rang.answered, rang.ended_by) == (False, "remote")


async def test_answering_machine_greets_beeps_and_records_the_message(
    pair: tuple[RigPhone, RigPhone], media: Path, tmp_path: Path
) -> None:
    """Bob's machine plays a 600 Hz greeting then a 1 kHz beep, records 1.5 s, hangs up.

    Alice hears greeting then beep; the machine's recording holds only Alice's message.
    """
    alice, bob = pair
    machine = AnsweringMachine(greeting=media / "greeting600.wav", beep_s=0.5, record_s=1.5)
    await bob.set_script(PhoneScript(answering_machine=machine, record_to=tmp_path / "msg.wav"))
    sent = await alice.call(
        bob.uri,
        InCall(
            play=(Playback(path=media / "tone440.wav", at_s=1.6),),
            record_to=tmp_path / "caller.wav",
        ),
        timeout_s=15,
    )
    message = await bob.next_call_result(timeout_s=5)

    assert (sent.answered, sent.ended_by) == (True, "remote")
    assert 2.8 < sent.duration_s < 3.5  # greeting 1 s + beep 0.5 s + record 1.5 s
    assert sent.recording is not None and message.recording == tmp_path / "msg.wav"
    greeting, rate = _segment(sent.recording, 0.1, 0.9)
    beep, _ = _segment(sent.recording, 1.1, 1.4)
    assert band_energy_ratio(greeting, rate, 600) > 0.8
    assert band_energy_ratio(beep, rate, 1000) > 0.8
    left, rate = read_wav(message.recording)
    assert 1.2 < left.size / rate < 1.8
    assert band_energy_ratio(left, rate, 440) > 0.5
    assert band_energy_ratio(left, rate, 1000) < 0.1  # the beep is not part of the message


async def test_a_fifth_call_from_one_worker_is_refused_not_fatal(
    pair: tuple[RigPhone, RigPhone],
) -> None:
    """pjsua2 holds 4 calls per process: the 5th is refused with CommandFailed, and the
    worker carries on with the other four."""
    alice, bob = pair
    await bob.set_script(PhoneScript(on_ring=RingAction.NO_ANSWER))
    calls = [await alice.start_call(bob.uri, ring_timeout_s=20) for _ in range(4)]
    fifth = await alice.start_call(bob.uri, ring_timeout_s=20)
    with pytest.raises(CommandFailed, match="at most 4 calls"):
        await fifth.result(timeout_s=5)
    for call in calls:
        await call.hangup()
    results = [await call.result(timeout_s=5) for call in calls]
    assert [r.sip_status for r in results] == [487] * 4
    for _ in calls:
        await bob.next_call_result(timeout_s=5)


@pytest.mark.parametrize("how", ["eof", "sigterm"])
def test_worker_shuts_down_cleanly_with_exit_code_0(how: str) -> None:
    """A worker with a phone stops without a pjsua2 abort when its owner goes away (stdin
    EOF) and on SIGTERM. (The shutdown command is what every Fleet exit uses; the ``pair``
    fixture checks those exit codes.)"""
    proc = subprocess.Popen(
        [sys.executable, "-m", "sip_test_rig.worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdin is not None and proc.stdout is not None
        assert json.loads(proc.stdout.readline())["event"] == "ready"
        add = {"cmd": "add_phone", "phone_id": "p", "username": "u", "password": ""}
        proc.stdin.write(json.dumps({**add, "registrar": None, "script": {}}).encode() + b"\n")
        proc.stdin.flush()
        assert json.loads(proc.stdout.readline())["event"] == "phone_added"
        if how == "eof":
            proc.stdin.close()
        else:
            proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert json.loads(proc.stdout.readline())["event"] == "stopped"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)


async def test_cli_call_prints_a_json_summary(
    pair: tuple[RigPhone, RigPhone], media: Path, tmp_path: Path
) -> None:
    """`python -m sip_test_rig call` dials Bob directly, plays, presses keys, records, and
    prints what happened as JSON."""
    _, bob = pair
    await bob.set_script(PhoneScript(play=(Playback(path=media / "tone440.wav"),)))
    out = tmp_path / "heard.wav"
    cli = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sip_test_rig",
        "call",
        "--to",
        bob.uri,
        "--play",
        str(media / "tone440.wav"),
        "--dtmf",
        "1@0.3,#@0.6",
        "--record",
        str(out),
        "--hangup-after",
        "1.5",
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    stdout, _ = await asyncio.wait_for(cli.communicate(), timeout=30)
    assert cli.returncode == 0
    summary = json.loads(stdout)
    assert summary["answered"] is True and summary["sip_status"] == 200
    assert summary["digits_sent"] == "1#" and summary["ended_by"] == "local"
    assert summary["recording"] == str(out)
    heard = await bob.next_call_result(timeout_s=5)
    assert heard.digits_received == "1#"
    samples, rate = _segment(out, 0.1, 0.9)
    assert band_energy_ratio(samples, rate, 440) > 0.8
