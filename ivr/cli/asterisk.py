"""``ivr asterisk provision|up|down|status|cli``: the sandbox from the shell.

``up`` starts a detached sandbox whose state (ports, secrets) is written to
``<data_dir>/asterisk/sandbox.json`` (mode 0600); ``ivr serve``, ``down``, ``status`` and
``cli`` find it there.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path
from typing import Any

from ivr.config import Settings
from ivr.errors import SandboxError
from ivr.sandbox import AsteriskSandbox, SandboxInfo
from ivr.sandbox.info import info_from_json, info_to_json
from ivr.sandbox.process import is_our_asterisk, pid_alive, terminate
from ivr.sandbox.runtime import ensure_runtime, provision_sidroot


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("asterisk", help="the Asterisk sandbox")
    s = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    prov = s.add_parser("provision", help="find or build the Asterisk runtime (idempotent)")
    prov.add_argument("--rebuild", action="store_true", help="rebuild the cached sid root")
    prov.set_defaults(handler=_provision)
    s.add_parser("up", help="start a detached sandbox").set_defaults(handler=_up)
    s.add_parser("down", help="stop the detached sandbox").set_defaults(handler=_down)
    s.add_parser("status", help="is the sandbox up? ports, pid").set_defaults(handler=_status)
    rend = s.add_parser("render", help="render dialplans/ for a production Asterisk")
    rend.add_argument("--out", type=Path, required=True, help="directory for the .conf files")
    rend.add_argument("--bind", default="127.0.0.1", help="address SIP/AMI/ARI bind to")
    rend.add_argument("--sip-port", type=int, default=5060)
    rend.set_defaults(handler=_render)
    cli = s.add_parser("cli", help='run an Asterisk CLI command, e.g. "core show channels"')
    cli.add_argument("cli_command")
    cli.set_defaults(handler=_cli)


def state_dir(settings: Settings) -> Path:
    return settings.data_dir.resolve() / "asterisk"


def _state_file(settings: Settings) -> Path:
    return state_dir(settings) / "sandbox.json"


def running_detached(settings: Settings) -> tuple[SandboxInfo, int] | None:
    """The detached sandbox's info and PID, if one is up."""
    path = _state_file(settings)
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    pid = int(data.pop("pid"))
    info = info_from_json(data)
    if pid_alive(pid) and is_our_asterisk(pid, str(info.instance_dir)):
        return info, pid
    return None


def _render(settings: Settings, args: argparse.Namespace) -> int:
    """Production configs: the AMI/ARI ports and secrets of the config, no rig endpoints."""
    from ivr.errors import ConfigError
    from ivr.sandbox.ports import PortBlock
    from ivr.sandbox.render import RenderContext, render

    a = settings.asterisk
    if not a.ami_secret.get_secret_value() or not a.ari_password.get_secret_value():
        raise ConfigError("set asterisk.ami_secret and asterisk.ari_password to render configs")
    ports = PortBlock(
        slot=-1, sip=args.sip_port, ami=a.ami_port, http=a.ari_port,
        rtp_start=10000, rtp_end=20000, udptl_start=4000, udptl_end=4999,
    )  # fmt: skip
    ctx = RenderContext(
        bind_address=args.bind,
        ports=ports,
        ami_username=a.ami_username,
        ami_secret=a.ami_secret.get_secret_value(),
        ari_username=a.ari_username,
        ari_password=a.ari_password.get_secret_value(),
        ari_app=a.ari_app,
        endpoints=(),
    )
    args.out.mkdir(parents=True, exist_ok=True)
    written = render(ctx, args.out, None, include_rig=False, out_dir=args.out)
    print(f"rendered {len(written)} files into {args.out}")
    return 0


def _provision(settings: Settings, args: argparse.Namespace) -> int:
    sb = settings.sandbox
    if args.rebuild:
        runtime = provision_sidroot(sb.cache_dir, sb.debian_mirror, rebuild=True)
    else:
        runtime = ensure_runtime(sb.cache_dir, sb.debian_mirror, sb.runtime)
    where = f"in {runtime.root}" if runtime.root else "(native)"
    print(f"asterisk runtime: Asterisk {runtime.version} {where}")
    return 0


def _up(settings: Settings, args: argparse.Namespace) -> int:
    found = running_detached(settings)
    if found:
        print(f"sandbox already up (pid {found[1]}, AMI {found[0].ami_port})")
        return 0

    async def start() -> tuple[SandboxInfo, int]:
        sandbox = AsteriskSandbox(settings.sandbox, state_dir(settings), detached=True)
        await sandbox.start()  # not stopped: it outlives this command on purpose
        assert sandbox.pid is not None
        return sandbox.info, sandbox.pid

    info, pid = asyncio.run(start())
    path = _state_file(settings)
    fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({**info_to_json(info), "pid": pid}, fh)
    path.with_suffix(".tmp").replace(path)
    print(
        f"sandbox up: pid {pid}, SIP {info.host}:{info.sip_port}, AMI {info.ami_port}, "
        f"ARI {info.ari_url}; log {info.log_file}"
    )
    return 0


def _down(settings: Settings, args: argparse.Namespace) -> int:
    found = running_detached(settings)
    if not found:
        print("sandbox is not running")
        _state_file(settings).unlink(missing_ok=True)
        return 0
    terminate(found[1])
    _state_file(settings).unlink(missing_ok=True)
    print(f"sandbox stopped (pid {found[1]})")
    return 0


def _status(settings: Settings, args: argparse.Namespace) -> int:
    found = running_detached(settings)
    if not found:
        print("sandbox: down")
        return 3
    info, pid = found
    version = asyncio.run(_ami_command(info, "core show version")).strip()
    print(f"sandbox: up (pid {pid}) {version}")
    print(f"  SIP {info.host}:{info.sip_port}  AMI {info.ami_port}  ARI {info.ari_url}")
    print(f"  log {info.log_file}")
    return 0


def _cli(settings: Settings, args: argparse.Namespace) -> int:
    found = running_detached(settings)
    if not found:
        raise SandboxError("cli", "the sandbox is not running (ivr asterisk up)")
    print(asyncio.run(_ami_command(found[0], args.cli_command)), end="")
    return 0


async def _ami_command(info: SandboxInfo, command: str) -> str:
    from ivr.ami.client import AmiClient

    async with AmiClient(info.host, info.ami_port, info.ami_username, info.ami_secret) as ami:
        return await ami.command(command)
