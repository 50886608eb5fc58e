"""``ivr serve``: the long-running controller connects, serves its API on loopback, and
stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_health_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    config = tmp_path / "watchline.toml"
    config.write_text(f'data_dir = "{tmp_path / "var"}"\n\n[web]\nport = {port}\n')
    # the environment overrides the file: the log level comes from here
    env = {**os.environ, "WATCHLINE_CONFIG": str(config), "WATCHLINE_LOG_LEVEL": "DEBUG"}
    # stderr to a file: at DEBUG start-up alone writes tens of KB, and a pipe nobody drains
    # would fill and block the controller's exit
    log_path = tmp_path / "serve.log"
    log_file = log_path.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ivr", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=log_file,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # printed once everything is up
        assert f"127.0.0.1:{port}" in line, line
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=5) as r:
            health = json.load(r)
        assert health["ami"] is True and health["ari"] is True
        listeners = subprocess.run(
            ["ss", "-H", "-lntp"], capture_output=True, text=True
        ).stdout.splitlines()
        ours = [ln.split()[3] for ln in listeners if f"pid={proc.pid}," in ln]
        assert ours == [f"127.0.0.1:{port}"], ours
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        assert proc.wait(timeout=30) == 0
        assert time.monotonic() - started < 30
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    log_file.close()
    stderr = log_path.read_text()
    assert "DEBUG" in stderr  # the env override took effect
    assert "Traceback" not in stderr, stderr[-2000:]
    # its private sandbox was stopped with it
    state = tmp_path / "var" / "asterisk" / "run" / "asterisk.pid"
    if state.exists():
        pid = int(state.read_text().strip() or 0)
        assert pid == 0 or not Path(f"/proc/{pid}").exists()
