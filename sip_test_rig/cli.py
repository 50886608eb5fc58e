"""``python -m sip_test_rig``: place one scripted call and print what happened as JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from sip_test_rig.addressing import parse_hostport
from sip_test_rig.errors import RigError, ScriptError
from sip_test_rig.fleet import Fleet
from sip_test_rig.script import InCall, Playback, parse_dtmf_option


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sip_test_rig",
        description="Watchline SIP test rig: simulated phones on 127.0.0.1 (pjsua2).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    call = commands.add_parser(
        "call",
        help="place one call and print a JSON summary",
        description=(
            "Place one call from a rig phone and print a JSON summary: answered, SIP status, "
            "duration, digits sent and received, recording path. Times are seconds after the "
            "answer. Without --registrar, --to must be a sip: URI on 127.0.0.1."
        ),
    )
    call.add_argument(
        "--to", required=True, help="extension (e.g. 9001) or sip:user@127.0.0.1:port"
    )
    call.add_argument("--play", type=Path, help="WAV to play into the call (16-bit mono 8/16 kHz)")
    call.add_argument("--play-at", type=float, default=0.0, metavar="S", help="start of --play")
    call.add_argument("--dtmf", default="", metavar="SPEC", help='key presses, e.g. "1@3.0,#@20"')
    call.add_argument("--record", type=Path, metavar="OUT.wav", help="record what the phone hears")
    call.add_argument("--hangup-after", type=float, metavar="S", help="hang up S after answer")
    call.add_argument("--ring-timeout", type=float, default=30.0, metavar="S")
    call.add_argument("--timeout", type=float, metavar="S", help="give up on the whole call")
    call.add_argument("--registrar", metavar="HOST:PORT", help="register first (127.0.0.1 only)")
    call.add_argument("--user", help="SIP username (default: rig)")
    call.add_argument("--password", default="", help="SIP password")
    call.add_argument("-v", "--verbose", action="store_true", help="log rig events to stderr")
    return parser


def in_call_from_args(args: argparse.Namespace) -> InCall:
    """The in-call script the options describe (raises ScriptError on bad values)."""
    return InCall(
        dtmf=parse_dtmf_option(args.dtmf) if args.dtmf else (),
        play=(Playback(path=args.play, at_s=args.play_at),) if args.play else (),
        record_to=args.record,
        hangup_after_s=args.hangup_after,
    )


async def run_call(args: argparse.Namespace) -> dict[str, object]:
    script = in_call_from_args(args)
    registrar = parse_hostport(args.registrar) if args.registrar else None
    if registrar is None and not args.to.startswith("sip:"):
        raise ScriptError("without --registrar, --to must be a sip: URI on 127.0.0.1")
    host, port = registrar if registrar else (None, None)
    started = time.monotonic()
    async with Fleet(host, port) as fleet:
        phone = await fleet.add_phone(args.user or "rig", args.password)
        registered_s = await fleet.wait_registered(timeout_s=15.0) if registrar else 0.0
        result = await fleet.call(
            phone, args.to, script, ring_timeout_s=args.ring_timeout, timeout_s=args.timeout
        )
    summary: dict[str, object] = {"to": args.to, **result.to_json_dict()}
    summary["registered_in_s"] = round(registered_s, 3)
    summary["total_s"] = round(time.monotonic() - started, 3)
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    try:
        summary = asyncio.run(run_call(args))
    except ScriptError as e:
        parser.error(str(e))  # exits 2, like any other usage error
    except RigError as e:
        print(json.dumps({"error": str(e)}), file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2))
    return 0
