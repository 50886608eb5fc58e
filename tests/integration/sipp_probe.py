"""One SIPp probe against the sandbox's SIP port: the toll-fraud and rig-fax tests share it.

Scenarios live in ``tests/integration/sipp/`` (an INVITE with no credentials, and one
answering the challenge with a wrong password). ``make test`` installs sipp.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from ivr.sandbox import SandboxInfo

SCENARIOS = Path(__file__).parent / "sipp"


def run_probe(info: SandboxInfo, scenario: str, service: str, caller: str, cwd: Path) -> int:
    """Send one call of ``scenario`` to ``service`` as ``caller``; SIPp's exit status."""
    cmd = [
        "sipp", f"{info.host}:{info.sip_port}",
        "-sf", str(SCENARIOS / scenario),
        "-s", service, "-key", "caller", caller,
        # used only by the wrong-password scenario's [authentication]
        "-au", caller, "-ap", "definitely-wrong",
        # ports from this sandbox's own block: another test session cannot hold them
        "-i", "127.0.0.1", "-p", str(info.tool_ports[0]),
        "-mi", "127.0.0.1", "-mp", str(info.tool_ports[0] + 2),
        "-m", "1", "-timeout", "15s", "-timeout_error", "-nostdin",
        "-trace_err", "-error_file", str(cwd / f"err-{service}-{caller}.log"),
    ]  # fmt: skip
    return subprocess.run(
        cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60
    ).returncode
