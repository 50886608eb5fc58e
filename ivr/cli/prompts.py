"""``ivr prompts build``: render the prompt catalogue and install it for Asterisk."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ivr.config import Settings


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("prompts", help="the prompt catalogue")
    s = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    b = s.add_parser("build", help="render prompts/catalogue.yaml to 8 kHz audio (cached)")
    b.add_argument("--install-into", type=Path, help="an Asterisk sounds/watchline folder")
    b.set_defaults(handler=_build)


def _build(settings: Settings, args: argparse.Namespace) -> int:
    from ivr.cli.asterisk import running_detached
    from ivr.speech.tts.ensure import ensure_prompts

    target = args.install_into
    if target is None and (found := running_detached(settings)) is not None:
        target = found[0].sounds_dir
    result = ensure_prompts(settings.speech, target, progress=True)
    where = f"; installed into {target}" if target else ""
    print(f"{len(result.files)} prompts in {result.out_dir}{where}")
    return 0
