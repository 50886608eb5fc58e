"""The fleet owns its phone processes: placement, clean exit, dead and hung workers.

No Asterisk needed: the phones here never register.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from sip_test_rig import Fleet, PhoneScript, ScriptError, WorkerFailed
from sip_test_rig.wavfile import wav_is_complete
from sip_test_rig.worker import RIG_NICE
from tests.procs import thread_nices

pytestmark = pytest.mark.timeout(60)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_phones_fill_workers_up_to_the_limit_then_start_new_ones() -> None:
    """Five phones at two per worker take three processes, placed in order."""
    async with Fleet(phones_per_worker=2) as fleet:
        phones = await fleet.add_phones((f"p{i}", "") for i in range(5))
        pids = [p.worker_pid for p in phones]
        assert len(set(pids)) == 3 and pids[0] == pids[1] and pids[2] == pids[3]
        assert all(p.uri.startswith(f"sip:{p.username}@127.0.0.1:") for p in phones)
        with pytest.raises(ScriptError, match="already"):
            await fleet.add_phone("p0")


async def test_a_worker_runs_its_media_threads_at_the_raised_priority() -> None:
    """A rig phone's audio keeps time on a busy machine: as root, every thread of a worker
    (pjsua's media clock and RTP threads among them) has the rig's nice value."""
    async with Fleet() as fleet:
        await fleet.add_phone("nice-probe")
        (pid,) = fleet.worker_pids
        nices = thread_nices(pid)
    expected = RIG_NICE if os.geteuid() == 0 else os.getpriority(os.PRIO_PROCESS, 0)
    assert RIG_NICE == -5 and nices == {expected}, nices


async def test_workers_stop_cleanly_even_when_the_test_body_raises() -> None:
    """An exception inside 'async with Fleet' still stops every worker with exit code 0."""
    with pytest.raises(RuntimeError, match="test failed"):
        async with Fleet() as fleet:
            await fleet.add_phone("alice")
            pids = fleet.worker_pids
            raise RuntimeError("test failed")
    assert fleet.exit_codes == {pid: 0 for pid in pids}
    assert not any(_alive(pid) for pid in pids)


async def test_a_dead_worker_fails_waiters_at_once_instead_of_timing_out(tmp_path: Path) -> None:
    """When a phone's process dies, a test waiting on that phone gets WorkerFailed quickly."""
    async with Fleet(log_dir=tmp_path) as fleet:
        phone = await fleet.add_phone("alice", script=PhoneScript())
        os.kill(phone.worker_pid, signal.SIGKILL)  # a PID this fleet started
        started = asyncio.get_running_loop().time()
        with pytest.raises(WorkerFailed, match="exited"):
            await phone.next_call_result(timeout_s=30)
        assert asyncio.get_running_loop().time() - started < 5
    assert fleet.exit_codes[phone.worker_pid] == -signal.SIGKILL


async def test_a_hung_worker_is_killed_by_pid_after_the_stop_timeout(tmp_path: Path) -> None:
    """A worker that ignores the shutdown command is killed once stop_timeout_s is over."""
    async with Fleet(stop_timeout_s=1.0, log_dir=tmp_path) as fleet:
        phone = await fleet.add_phone("alice")
        os.kill(phone.worker_pid, signal.SIGSTOP)  # frozen: it cannot answer shutdown
    assert fleet.exit_codes[phone.worker_pid] == -signal.SIGKILL
    assert not _alive(phone.worker_pid)


async def test_closing_the_fleet_mid_call_hangs_up_and_still_exits_cleanly(
    tmp_path: Path,
) -> None:
    """Calls still up when the fleet closes are hung up in pjsua2's safe order: workers
    exit 0 and the recording in progress is a complete WAV."""
    async with Fleet(phones_per_worker=1) as fleet:
        alice, bob = await fleet.add_phones([("alice", ""), ("bob", "")])
        await bob.set_script(PhoneScript(record_to=tmp_path / "bob.wav"))
        call = await alice.start_call(bob.uri)
        assert await call.wait_answered(timeout_s=5)
        await asyncio.sleep(0.5)
    assert set(fleet.exit_codes.values()) == {0}
    assert wav_is_complete(tmp_path / "bob.wav")
