"""What every demo act shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from ivr.app import Controller
from ivr.sandbox import RigEndpoint, SandboxInfo
from sip_test_rig.fleet import Fleet


@dataclass
class DemoContext:
    console: Console
    asterisk: SandboxInfo
    controller: Controller
    fleet: Fleet
    work_dir: Path
    _next_endpoint: int = 0
    summary: list[tuple[str, bool, str]] = field(default_factory=list)

    def take_endpoints(self, n: int) -> list[RigEndpoint]:
        taken = list(self.asterisk.endpoints[self._next_endpoint : self._next_endpoint + n])
        if len(taken) < n:
            raise RuntimeError("the demo ran out of rig endpoints")
        self._next_endpoint += n
        return taken

    def record(self, act: str, ok: bool, detail: str) -> None:
        self.summary.append((act, ok, detail))
        mark = "[green]ok[/]" if ok else "[red]FAILED[/]"
        self.console.print(f"  {mark} {detail}")
