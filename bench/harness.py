"""Shared benchmark plumbing: run ``ivr serve`` as its own process and read its costs.

The controller runs exactly as in production (a separate ``ivr serve`` against an
external Asterisk), so its CPU time and peak memory come from /proc, untouched by the
benchmark's own work.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from ivr.sandbox import SandboxInfo
from ivr.sandbox.info import external_asterisk_toml

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Serve:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def wait_healthy(self, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"ivr serve exited; see {self.log}")
                try:
                    async with http.get(f"{self.url}/api/health") as r:
                        if r.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        raise TimeoutError(f"ivr serve not healthy within {timeout_s} s; see {self.log}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def serve_config(work: Path, info: SandboxInfo, extra: Iterable[str] = ()) -> tuple[Path, int]:
    port = free_port()
    config = work / "watchline.toml"
    lines = [
        f'data_dir = "{work / "var"}"',
        'log_level = "WARNING"',
        'components = ["campaigns"]',
        "",
        *external_asterisk_toml(info).splitlines(),
        "",
        "[web]",
        f"port = {port}",
        *extra,
    ]
    config.write_text("\n".join(lines) + "\n")
    return config, port


def start_serve(config: Path, port: int, log: Path) -> Serve:
    env = {**os.environ, "WATCHLINE_CONFIG": str(config)}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ivr", "serve"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    return Serve(proc, port, log)
