"""The Asterisk sandbox: a private, real Asterisk for the demo, tests and benchmarks.

    async with AsteriskSandbox(settings.sandbox, instance_dir) as sandbox:
        sandbox.info.ami_port, sandbox.info.endpoints, ...
        await sandbox.restart()      # same ports and files, new process

Start-up: reap leftovers of dead runs, lease a port slot, lay out the instance directory,
render ``dialplans/`` with fresh secrets, start Asterisk, wait for ``FullyBooted`` on AMI.
Teardown: stop Asterisk (SIGTERM, then SIGKILL), release the slot. Any failure names its
step and the log file to read.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import subprocess
import time
from pathlib import Path
from types import TracebackType

from ivr.config import SandboxSettings
from ivr.errors import BootError, ProvisionError, SandboxError
from ivr.sandbox import ami_probe
from ivr.sandbox.info import RigEndpoint, SandboxInfo
from ivr.sandbox.ports import SlotLease, lease_slot
from ivr.sandbox.process import Registration, Registry, pid_alive, spawn, terminate
from ivr.sandbox.render import DIALPLANS_DIR, RenderContext, inside_path, layout, render
from ivr.sandbox.runtime import AsteriskRuntime, ensure_runtime

log = logging.getLogger(__name__)

#: Ofcom's drama range 01632 960000-960999: numbers that can never ring a real phone.
RIG_NUMBER_BASE = 441632960100
BOOT_TIMEOUT_S = 60.0


def rig_endpoints(count: int) -> tuple[RigEndpoint, ...]:
    """Endpoints for rig phones, each with a fresh random password."""
    return tuple(
        RigEndpoint(
            name=str(RIG_NUMBER_BASE + i),
            password=secrets.token_urlsafe(12),
            number=f"+{RIG_NUMBER_BASE + i}",
        )
        for i in range(count)
    )


class AsteriskSandbox:
    def __init__(
        self,
        settings: SandboxSettings,
        instance_dir: Path,
        *,
        bind_address: str = "127.0.0.1",
        ari_app: str = "watchline",
        detached: bool = False,
        slot: int | None = None,
        templates_dir: Path = DIALPLANS_DIR,
        boot_timeout_s: float = BOOT_TIMEOUT_S,
    ) -> None:
        self.settings = settings
        self.instance_dir = instance_dir.resolve()
        self.bind_address = bind_address
        self.ari_app = ari_app
        self.detached = detached
        self._prefer_slot = slot
        self.templates_dir = templates_dir
        self.boot_timeout_s = boot_timeout_s
        self._lease: SlotLease | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._runtime: AsteriskRuntime | None = None
        self._info: SandboxInfo | None = None
        self._registry = Registry(settings.cache_dir)
        #: Seconds the last boot took (start to FullyBooted), for the issue's figures.
        self.boot_seconds = 0.0

    @property
    def info(self) -> SandboxInfo:
        if self._info is None:
            raise SandboxError("info", "the sandbox is not running")
        return self._info

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def runtime(self) -> AsteriskRuntime:
        if self._runtime is None:
            raise SandboxError("runtime", "the sandbox is not running")
        return self._runtime

    async def __aenter__(self) -> AsteriskSandbox:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        self._registry.reap_orphans()
        try:
            self._runtime = await asyncio.to_thread(
                ensure_runtime,
                self.settings.cache_dir,
                self.settings.debian_mirror,
                self.settings.runtime,
            )
        except ProvisionError:
            raise
        except OSError as e:
            raise ProvisionError(
                "runtime", str(e), self.settings.cache_dir / "provision.log"
            ) from e
        try:
            self._lease = lease_slot(
                self.settings.cache_dir, prefer=self._prefer_slot, host=self.bind_address
            )
        except OSError as e:
            raise SandboxError("ports", str(e)) from e
        try:
            self._info = self._prepare()
            await self._boot()
        except BaseException:
            await self.stop()
            raise

    def _prepare(self) -> SandboxInfo:
        runtime = self.runtime
        assert self._lease is not None
        ports = self._lease.ports
        self.instance_dir.mkdir(parents=True, exist_ok=True)
        try:
            layout(self.instance_dir, runtime)
        except OSError as e:
            raise SandboxError("layout", str(e)) from e
        ctx = RenderContext(
            bind_address=self.bind_address,
            ports=ports,
            ami_username="watchline",
            ami_secret=secrets.token_urlsafe(18),
            ari_username="watchline",
            ari_password=secrets.token_urlsafe(18),
            ari_app=self.ari_app,
            endpoints=rig_endpoints(self.settings.test_endpoints),
        )
        try:
            render(ctx, self.instance_dir, runtime, self.templates_dir)
        except OSError as e:
            raise SandboxError("render", str(e)) from e
        inside = inside_path(runtime, self.instance_dir)
        return SandboxInfo(
            instance_dir=self.instance_dir,
            host=self.bind_address,
            sip_port=ports.sip,
            ami_port=ports.ami,
            ami_username=ctx.ami_username,
            ami_secret=ctx.ami_secret,
            ari_port=ports.http,
            ari_username=ctx.ari_username,
            ari_password=ctx.ari_password,
            ari_app=ctx.ari_app,
            rtp_start=ports.rtp_start,
            rtp_end=ports.rtp_end,
            endpoints=ctx.endpoints,
            log_file=self.instance_dir / "log" / "full",
            recordings_dir=self.instance_dir / "spool" / "recording",
            sounds_dir=self.instance_dir / "data" / "sounds" / "watchline",
            fax_dir=self.instance_dir / "fax",
            sounds_dir_in_asterisk=f"{inside}/data/sounds/watchline",
            fax_dir_in_asterisk=f"{inside}/fax",
            tool_ports=(ports.tools_start, ports.tools_end),
        )

    async def _boot(self) -> None:
        info = self.info
        assert self._lease is not None
        started = time.monotonic()
        try:
            self._proc = spawn(
                self.runtime,
                self.instance_dir,
                (self._lease.fd,),
                nice=self.settings.asterisk_nice,
            )
        except OSError as e:
            raise BootError("spawn", str(e), info.log_file) from e
        self._registry.record(
            self._lease.ports.slot,
            Registration(
                pid=self._proc.pid,
                owner_pid=os.getpid(),
                conf=str(self.instance_dir / "etc" / "asterisk.conf"),
                instance_dir=str(self.instance_dir),
                detached=self.detached,
            ),
        )
        deadline = started + self.boot_timeout_s
        try:
            await ami_probe.wait_fully_booted(
                info.host,
                info.ami_port,
                info.ami_username,
                info.ami_secret,
                deadline=deadline,
                alive=lambda: self._proc is not None and self._proc.poll() is None,
            )
        except TimeoutError as e:
            raise BootError(
                "boot", f"no FullyBooted on AMI within {self.boot_timeout_s:.0f} s", info.log_file
            ) from e
        except ami_probe.ProcessExited as e:
            console = self.instance_dir / "log" / "console.log"
            raise BootError("boot", f"Asterisk exited during start-up ({e})", console) from e
        self.boot_seconds = time.monotonic() - started
        log.info(
            "asterisk sandbox up in %.2f s (slot %d, AMI %d, ARI %d, SIP %d)",
            self.boot_seconds,
            self._lease.ports.slot,
            info.ami_port,
            info.ari_port,
            info.sip_port,
        )

    async def restart(self) -> None:
        """Stop and start Asterisk again with the same ports, secrets and files."""
        await asyncio.to_thread(self._terminate)
        await self._boot()

    def _terminate(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                terminate(self._proc.pid)
            self._proc.wait(timeout=10)
            self._proc = None

    async def stop(self) -> None:
        await asyncio.to_thread(self._terminate)
        if self._lease is not None:
            self._registry.forget(self._lease.ports.slot)
            self._lease.release()
            self._lease = None

    def is_running(self) -> bool:
        return self._proc is not None and pid_alive(self._proc.pid)
