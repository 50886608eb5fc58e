"""Start and stop one Asterisk process, and clear what a killed run left behind.

For a sid root, Asterisk runs under ``unshare --mount`` (a private mount namespace) and
``chroot``: ``/proc``, ``/dev`` and the instance directory are mounted only inside that
namespace, so they vanish with the process. A killed run cannot leave mounts behind, and
several runs can share one cached root, each seeing its own instance at ``/srv/watchline``.

Every started Asterisk is recorded in a registry file (``<cache>/instances/<slot>.json``:
its PID, its owner's PID, its config path). Start-up reaps entries whose owner is dead and
whose PID still runs *our* Asterisk (checked against ``/proc/<pid>/cmdline``), by PID only.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ivr.sandbox.render import MOUNT_POINT
from ivr.sandbox.runtime import AsteriskRuntime

log = logging.getLogger(__name__)

_MOUNT_SCRIPT = (
    'set -e; mount -t proc proc "$WL_ROOT/proc"; '
    'mount --rbind /dev "$WL_ROOT/dev"; '
    'mount --bind "$WL_INSTANCE" "$WL_ROOT$WL_MOUNT"; '
    'exec chroot "$WL_ROOT" /usr/sbin/asterisk -f -n -C "$WL_MOUNT/etc/asterisk.conf"'
)


@dataclass(frozen=True)
class Registration:
    pid: int
    owner_pid: int
    conf: str
    instance_dir: str
    #: Started by ``ivr asterisk up``: outlives its owner on purpose; never reaped.
    detached: bool = False


def command(runtime: AsteriskRuntime, instance_dir: Path) -> tuple[list[str], dict[str, str]]:
    if runtime.kind == "native":
        return ["asterisk", "-f", "-n", "-C", str(instance_dir / "etc/asterisk.conf")], {}
    assert runtime.root is not None
    env = {
        "WL_ROOT": str(runtime.root),
        "WL_INSTANCE": str(instance_dir),
        "WL_MOUNT": MOUNT_POINT,
    }
    return [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "--",
        "/bin/sh",
        "-c",
        _MOUNT_SCRIPT,
    ], env


def with_priority(cmd: list[str], nice: int) -> list[str]:
    """``cmd`` run at ``nice`` through nice(1), so that every thread Asterisk starts has it.

    Only root may go below 0; anyone else gets ``cmd`` as it is, at their own priority.
    """
    if nice == 0 or (nice < 0 and os.geteuid() != 0):
        return cmd
    return ["nice", "-n", str(nice), *cmd]


def spawn(
    runtime: AsteriskRuntime,
    instance_dir: Path,
    pass_fds: tuple[int, ...],
    *,
    detached: bool = False,
    nice: int = 0,
) -> subprocess.Popen[bytes]:
    """Start Asterisk in the foreground mode (``-f``) as our child; stdout goes to a log."""
    cmd, extra_env = command(runtime, instance_dir)
    cmd = with_priority(cmd, nice)
    out = (instance_dir / "log" / "console.log").open("ab")
    env = {**os.environ, **extra_env}
    try:
        return subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            pass_fds=pass_fds,
            # Own session: a Ctrl-C meant for pytest must not kill Asterisk before teardown
            # can stop it in order.
            start_new_session=True,
        )
    finally:
        out.close()


def is_our_asterisk(pid: int, instance_dir: str) -> bool:
    """Does ``pid`` run the Asterisk of ``instance_dir``? Guards against a recycled PID.

    Natively the instance is in the command line (``-C <instance>/etc/asterisk.conf``); in a
    chroot every instance reads ``/srv/watchline/...``, so we look for the ``WL_INSTANCE``
    variable that the launcher passed down through ``exec``.
    """
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    if not any(c.endswith(b"asterisk") for c in cmdline):
        return False
    marker = instance_dir.encode()
    return any(marker in c for c in cmdline) or (b"WL_INSTANCE=" + marker) in environ


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is not alive for our purposes.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def terminate(pid: int, *, timeout_s: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout_s``. Only ever called with PIDs we started."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.05)


class Registry:
    """``<cache>/instances/<slot>.json`` records of the Asterisk processes we started."""

    def __init__(self, cache_dir: Path) -> None:
        self.dir = cache_dir / "instances"
        self.dir.mkdir(parents=True, exist_ok=True)

    def record(self, slot: int, reg: Registration) -> None:
        path = self.dir / f"{slot}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(reg)))
        tmp.replace(path)

    def forget(self, slot: int) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.dir / f"{slot}.json").unlink()

    def load(self, slot: int) -> Registration | None:
        try:
            return Registration(**json.loads((self.dir / f"{slot}.json").read_text()))
        except (FileNotFoundError, ValueError, TypeError):
            return None

    def reap_orphans(self) -> list[int]:
        """Stop Asterisks whose owner died without stopping them; returns their PIDs."""
        reaped = []
        for path in sorted(self.dir.glob("*.json")):
            slot = int(path.stem)
            reg = self.load(slot)
            if reg is None:
                self.forget(slot)
                continue
            if reg.detached or pid_alive(reg.owner_pid):
                continue
            if pid_alive(reg.pid) and is_our_asterisk(reg.pid, reg.instance_dir):
                log.warning("stopping a leftover Asterisk (pid %d) of a dead run", reg.pid)
                terminate(reg.pid)
                reaped.append(reg.pid)
            self.forget(slot)
        return reaped
