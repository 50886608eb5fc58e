"""Render ``dialplans/*.conf.j2`` into one run's config directory, and lay out its folders.

An instance directory holds everything one Asterisk run writes::

    etc/        rendered configs
    data/       Asterisk's data dir: links to the runtime's sounds and docs, plus
    data/sounds/watchline/   our prompts and bulletins (played as sound:watchline/<name>)
    spool/      recordings (spool/recording), call files (spool/outgoing)
    run/ log/ varlib/ fax/

Jinja's ``{{ }}`` never clashes with the dialplan's ``${VAR}``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

import jinja2

from ivr.errors import SandboxError
from ivr.sandbox.info import RigEndpoint
from ivr.sandbox.ports import PortBlock
from ivr.sandbox.runtime import AsteriskRuntime

DIALPLANS_DIR = Path(__file__).resolve().parents[2] / "dialplans"
#: Where the instance directory is mounted inside a sid root (see process.py).
MOUNT_POINT = "/srv/watchline"
SUBDIRS = (
    "etc",
    "data/sounds/watchline",
    "spool/recording",
    "spool/outgoing",
    "spool/tmp",
    "run",
    "log",
    "varlib",
    "fax",
)


@dataclass(frozen=True)
class RenderContext:
    bind_address: str
    ports: PortBlock
    ami_username: str
    ami_secret: str
    ari_username: str
    ari_password: str
    ari_app: str
    endpoints: tuple[RigEndpoint, ...]


def inside_path(runtime: AsteriskRuntime, instance_dir: Path) -> str:
    """The instance directory as Asterisk sees it."""
    return MOUNT_POINT if runtime.kind == "sidroot" else str(instance_dir)


def layout(instance_dir: Path, runtime: AsteriskRuntime) -> None:
    """Create the folders and link the runtime's read-only data (sounds, docs) in."""
    for sub in SUBDIRS:
        (instance_dir / sub).mkdir(parents=True, exist_ok=True)
    data_host = runtime.host_path(runtime.data_dir)
    data = instance_dir / "data"
    for entry in data_host.iterdir():
        if entry.name == "sounds":
            continue
        _link(data / entry.name, f"{runtime.data_dir}/{entry.name}")
    for entry in (data_host / "sounds").iterdir():
        if entry.name != "watchline":
            _link(data / "sounds" / entry.name, f"{runtime.data_dir}/sounds/{entry.name}")


def _link(link: Path, target_inside: str) -> None:
    # Links hold paths as Asterisk sees them; inside a chroot they resolve in the root.
    if link.is_symlink() or link.exists():
        if link.is_symlink() and str(link.readlink()) == target_inside:
            return
        link.unlink()
    link.symlink_to(target_inside)


#: Templates for the test rig only (simulated fax machines...): never rendered for production.
RIG_SUFFIX = "_rig.conf.j2"

#: Debian's standard directories, for a production Asterisk (``ivr asterisk render``).
DEBIAN_DIRS = {
    "fax": "/var/spool/asterisk/fax",
    "etc": "/etc/asterisk",
    "modules": "/usr/lib/x86_64-linux-gnu/asterisk/modules",
    "varlib": "/var/lib/asterisk",
    "data": "/usr/share/asterisk",
    "spool": "/var/spool/asterisk",
    "run": "/var/run/asterisk",
    "log": "/var/log/asterisk",
}


def render(
    ctx: RenderContext,
    instance_dir: Path,
    runtime: AsteriskRuntime | None,
    templates_dir: Path = DIALPLANS_DIR,
    *,
    include_rig: bool = True,
    out_dir: Path | None = None,
) -> list[Path]:
    """Render every template into ``instance_dir/etc`` (or ``out_dir``); returns the files.

    ``runtime=None`` renders for a production Asterisk with Debian's standard directories.
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # these are Asterisk configs, not HTML
    )
    if runtime is None:
        dirs = dict(DEBIAN_DIRS)
    else:
        inside = inside_path(runtime, instance_dir)
        dirs = {
            "etc": f"{inside}/etc",
            "modules": runtime.modules_dir,
            "varlib": f"{inside}/varlib",
            "data": f"{inside}/data",
            "spool": f"{inside}/spool",
            "run": f"{inside}/run",
            "log": f"{inside}/log",
            "fax": f"{inside}/fax",
        }
    target = out_dir if out_dir is not None else instance_dir / "etc"
    values = {
        "dirs": dirs,
        "bind_address": ctx.bind_address,
        "ami_permit": f"{ctx.bind_address}/255.255.255.255",
        "sip_port": ctx.ports.sip,
        "ami_port": ctx.ports.ami,
        "ari_port": ctx.ports.http,
        "rtp_start": ctx.ports.rtp_start,
        "rtp_end": ctx.ports.rtp_end,
        "udptl_start": ctx.ports.udptl_start,
        "udptl_end": ctx.ports.udptl_end,
        "ami_username": ctx.ami_username,
        "ami_secret": ctx.ami_secret,
        "ari_username": ctx.ari_username,
        "ari_password": ctx.ari_password,
        "ari_app": ctx.ari_app,
        "endpoints": ctx.endpoints,
        # the rig fax machines' own line (tests only): a fresh secret per run
        "fax_rig": include_rig,
        "fax_rig_secret": secrets.token_urlsafe(18),
    }
    written = []
    for tpl in sorted(templates_dir.glob("*.conf.j2")):
        if not include_rig and tpl.name.endswith(RIG_SUFFIX):
            continue
        out = target / tpl.name.removesuffix(".j2")
        try:
            text = env.get_template(tpl.name).render(**values)
        except jinja2.TemplateError as e:
            line = getattr(e, "lineno", None)
            where = f"{tpl}:{line}" if line else str(tpl)
            raise SandboxError("render", f"{where}: {type(e).__name__}: {e}") from e
        tmp = out.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.chmod(0o600)  # they hold this run's secrets
        tmp.replace(out)
        written.append(out)
    return written
