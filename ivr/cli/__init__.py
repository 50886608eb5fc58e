"""The ``ivr`` command line: one entry point, one small module per command group.

User-facing output goes to stdout (rich where it helps); logs go to stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from ivr.config import Settings, load_settings
from ivr.errors import WatchlineError


def _parser() -> argparse.ArgumentParser:
    from ivr.cli import asterisk, serve

    parser = argparse.ArgumentParser(prog="ivr", description="Watchline IVR controller")
    parser.add_argument("--config", type=Path, help="TOML config file (or WATCHLINE_CONFIG)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    asterisk.register(sub)
    serve.register(sub)
    for name in ("prompts", "members", "campaigns", "tokens", "reports", "coordinators", "demo"):
        try:
            module = __import__(f"ivr.cli.{name}", fromlist=["register"])
        except ModuleNotFoundError:
            continue  # command groups land one issue at a time
        module.register(sub)
    return parser


def setup_logging(settings: Settings, verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else getattr(logging, settings.log_level.upper(), 20),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
        setup_logging(settings, args.verbose)
        result: int = args.handler(settings, args)
        return result
    except WatchlineError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
