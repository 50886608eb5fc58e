"""``ivr demo``: the scripted demo against a private sandbox (see ivr.demo)."""

from __future__ import annotations

import argparse
from typing import Any

from ivr.config import Settings


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("demo", help="run the demo (make demo)")
    p.set_defaults(handler=_demo)


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    from ivr.demo.run import main

    return main(settings)
