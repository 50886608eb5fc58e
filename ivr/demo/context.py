"""What every demo act shares."""

from __future__ import annotations

import shutil
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
    #: where what a person may want to look at afterwards is kept (the work dir is temporary)
    out_dir: Path
    _next_endpoint: int = 0
    summary: list[tuple[str, bool, str]] = field(default_factory=list)

    def take_endpoints(self, n: int) -> list[RigEndpoint]:
        taken = list(self.asterisk.endpoints[self._next_endpoint : self._next_endpoint + n])
        if len(taken) < n:
            raise RuntimeError("the demo ran out of rig endpoints")
        self._next_endpoint += n
        return taken

    def keep(self, *paths: Path) -> list[Path]:
        """Copy files out of the temporary work dir; returns their kept paths."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        kept = []
        for path in paths:
            target = self.out_dir / path.name
            shutil.copyfile(path, target)
            kept.append(target)
        return kept

    def record(self, act: str, ok: bool, detail: str) -> None:
        self.summary.append((act, ok, detail))
        mark = "[green]ok[/]" if ok else "[red]FAILED[/]"
        self.console.print(f"  {mark} {detail}")
