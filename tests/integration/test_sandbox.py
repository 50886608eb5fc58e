"""The Asterisk sandbox against the real Asterisk 22: boot, isolation, clean-up, failures."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ivr.ami.client import AmiClient
from ivr.config import SandboxSettings
from ivr.errors import BootError, ProvisionError
from ivr.sandbox import AsteriskSandbox, SandboxInfo
from ivr.sandbox.process import pid_alive
from ivr.sandbox.render import DIALPLANS_DIR
from ivr.sandbox.runtime import provision_sidroot
from tests.procs import thread_nices

pytestmark = pytest.mark.integration


async def _command(info: SandboxInfo, cmd: str) -> str:
    async with AmiClient(info.host, info.ami_port, info.ami_username, info.ami_secret) as ami:
        return await ami.command(cmd)


def _sockets_of(pid: int) -> list[tuple[str, str]]:
    """(protocol, local address) of every TCP listener and UDP socket the process holds."""
    out = subprocess.run(["ss", "-H", "-lnptu"], capture_output=True, text=True).stdout
    found = []
    for line in out.splitlines():
        if f"pid={pid}," in line:
            cols = line.split()
            found.append((cols[0], cols[4]))
    return found


async def test_sandbox_boots_a_real_asterisk_22(asterisk_sandbox: AsteriskSandbox) -> None:
    """The sandbox reaches FullyBooted and AMI answers with the Asterisk version."""
    assert asterisk_sandbox.is_running()
    assert asterisk_sandbox.boot_seconds < 30
    version = await _command(asterisk_sandbox.info, "core show version")
    assert re.search(r"Asterisk 2[2-9]\.", version), version


async def test_asterisk_runs_every_thread_at_the_raised_priority(
    asterisk_sandbox: AsteriskSandbox,
) -> None:
    """Call audio keeps time on a busy machine: each Asterisk thread has the set nice value
    (as root; anyone else may not raise it, and Asterisk runs at theirs)."""
    pid = asterisk_sandbox.pid
    assert pid is not None
    raised = asterisk_sandbox.settings.asterisk_nice
    assert raised == -5
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    assert thread_nices(pid) == {raised if os.geteuid() == 0 else ours}


async def test_every_listener_is_on_loopback(asterisk_sandbox: AsteriskSandbox) -> None:
    """SIP, AMI and ARI listen on 127.0.0.1 only.

    pjsip's DNS resolver always holds two unconnected client sockets on 0.0.0.0 and [::]
    (ephemeral ports, replies only; there is no setting to stop it). They are allowed, and
    nothing else is.
    """
    assert asterisk_sandbox.pid is not None
    info = asterisk_sandbox.info
    sockets = _sockets_of(asterisk_sandbox.pid)
    listeners = {
        addr for proto, addr in sockets if not addr.startswith(("0.0.0.0:", "[::]:", "*:"))
    }
    assert f"127.0.0.1:{info.sip_port}" in listeners
    assert f"127.0.0.1:{info.ami_port}" in listeners
    assert f"127.0.0.1:{info.ari_port}" in listeners
    assert all(a.startswith("127.0.0.1:") for a in listeners), listeners
    wildcard = [(p, a) for p, a in sockets if a not in listeners]
    assert all(p == "udp" for p, _ in wildcard), wildcard
    assert len(wildcard) <= 2, wildcard
    for _, addr in wildcard:
        port = int(addr.rsplit(":", 1)[1])
        assert port >= 32768, f"{addr} is not an ephemeral resolver socket"


async def test_two_sandboxes_run_side_by_side(
    asterisk_sandbox: AsteriskSandbox, fresh_asterisk: AsteriskSandbox
) -> None:
    """A second sandbox on the same machine takes another port block; both answer."""
    a, b = asterisk_sandbox.info, fresh_asterisk.info
    assert {a.sip_port, a.ami_port, a.ari_port}.isdisjoint({b.sip_port, b.ami_port, b.ari_port})
    assert "Asterisk" in await _command(a, "core show version")
    assert "Asterisk" in await _command(b, "core show version")


async def test_restart_keeps_ports_and_files(fresh_asterisk: AsteriskSandbox) -> None:
    before = fresh_asterisk.info
    old_pid = fresh_asterisk.pid
    await fresh_asterisk.restart()
    assert fresh_asterisk.pid != old_pid
    assert fresh_asterisk.info == before
    assert "Asterisk" in await _command(before, "core show version")


async def test_stop_ends_the_process(tmp_path: Path, sandbox_settings: SandboxSettings) -> None:
    sandbox = AsteriskSandbox(sandbox_settings, tmp_path / "a")
    await sandbox.start()
    pid = sandbox.pid
    assert pid is not None and pid_alive(pid)
    await sandbox.stop()
    assert not pid_alive(pid)


_ORPHAN_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys, time
    from pathlib import Path
    from ivr.config import SandboxSettings
    from ivr.sandbox import AsteriskSandbox

    async def main():
        sandbox = AsteriskSandbox(SandboxSettings(), Path(sys.argv[1]))
        await sandbox.start()
        print(sandbox.pid, flush=True)
        time.sleep(120)   # killed by the test long before this

    asyncio.run(main())
    """
)


async def test_a_killed_run_leaves_nothing_that_the_next_start_does_not_clear(
    tmp_path: Path, sandbox_settings: SandboxSettings
) -> None:
    """SIGKILL the owner: its Asterisk lives on, and the next start stops it by PID file."""
    owner = subprocess.Popen(
        [sys.executable, "-c", _ORPHAN_SCRIPT, str(tmp_path / "orphan")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert owner.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(owner.stdout.readline), 60)
        orphan_pid = int(line)
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait(10)
    assert pid_alive(orphan_pid), "Asterisk should outlive its killed owner"
    # no mounts leak into our namespace: they lived in Asterisk's private one
    assert str(tmp_path / "orphan") not in Path("/proc/self/mounts").read_text()
    async with AsteriskSandbox(sandbox_settings, tmp_path / "next"):
        deadline = time.monotonic() + 15
        while pid_alive(orphan_pid) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert not pid_alive(orphan_pid)


def _broken_templates(tmp_path: Path, name: str, mutate: str, replace: str) -> Path:
    tpl = tmp_path / "templates"
    tpl.mkdir()
    for f in DIALPLANS_DIR.glob("*.j2"):
        text = f.read_text()
        if f.name == name:
            text = text.replace(mutate, replace)
        (tpl / f.name).write_text(text)
    return tpl


async def test_asterisk_dying_at_boot_is_a_clear_error(
    tmp_path: Path, sandbox_settings: SandboxSettings
) -> None:
    """Asterisk refusing to start (here: an unknown run user) is reported with its log."""
    tpl = _broken_templates(
        tmp_path, "asterisk.conf.j2", "[options]", "[options]\nrunuser = no-such-user-wl"
    )
    sandbox = AsteriskSandbox(sandbox_settings, tmp_path / "a", templates_dir=tpl)
    with pytest.raises(BootError) as e:
        await sandbox.start()
    assert e.value.step == "boot"
    assert e.value.log_file is not None and e.value.log_file.exists()
    assert "log:" in str(e.value)
    assert not sandbox.is_running()


async def test_no_ami_within_the_boot_timeout_is_a_clear_error(
    tmp_path: Path, sandbox_settings: SandboxSettings
) -> None:
    tpl = _broken_templates(tmp_path, "manager.conf.j2", "enabled = yes", "enabled = no")
    sandbox = AsteriskSandbox(sandbox_settings, tmp_path / "a", templates_dir=tpl, boot_timeout_s=3)
    with pytest.raises(BootError) as e:
        await sandbox.start()
    assert "FullyBooted" in str(e.value) and e.value.log_file is not None
    assert not sandbox.is_running()


def test_a_failed_provisioning_names_the_step_and_log(tmp_path: Path) -> None:
    """An unreachable mirror fails debootstrap; the error says how to retry."""
    with pytest.raises(ProvisionError) as e:
        provision_sidroot(tmp_path, "http://127.0.0.1:9/debian")
    assert e.value.step == "debootstrap"
    assert e.value.log_file == tmp_path / "provision.log" and e.value.log_file.exists()
    assert "--rebuild" in str(e.value)


def test_a_failed_rebuild_keeps_the_last_good_root(tmp_path: Path) -> None:
    good = tmp_path / "sidroot"
    (good / "etc").mkdir(parents=True)
    (good / ".watchline-ready").write_text("22.10.1\n")
    runtime = provision_sidroot(tmp_path, "http://127.0.0.1:9/debian", rebuild=True)
    assert runtime.root == good and runtime.version == "22.10.1"
    assert (tmp_path / "provision.log").exists()


def test_cli_up_status_down(tmp_path: Path) -> None:
    """`ivr asterisk up` detaches; status and cli find it; down stops it; both idempotent."""
    env = {**os.environ, "WATCHLINE_DATA_DIR": str(tmp_path / "var")}
    ivr = [sys.executable, "-m", "ivr"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*ivr, *args], env=env, capture_output=True, text=True, timeout=90)

    up = run("asterisk", "up")
    try:
        assert up.returncode == 0, up.stderr
        assert "sandbox up" in up.stdout
        assert "already up" in run("asterisk", "up").stdout
        status = run("asterisk", "status")
        assert status.returncode == 0 and "Asterisk 2" in status.stdout, status.stdout
        cli = run("asterisk", "cli", "pjsip show endpoints")
        assert cli.returncode == 0 and "441632960100" in cli.stdout, cli.stdout + cli.stderr
    finally:
        down = run("asterisk", "down")
    assert down.returncode == 0 and "stopped" in down.stdout
    assert "not running" in run("asterisk", "down").stdout
    assert run("asterisk", "status").returncode == 3
