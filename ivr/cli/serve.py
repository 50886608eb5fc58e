"""``ivr serve``: the long-running controller (filled in by ivr.app)."""

from __future__ import annotations

import argparse
from typing import Any

from ivr.config import Settings


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("serve", help="run the controller")
    p.set_defaults(handler=_serve)


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from ivr.app import run

    return run(settings)
