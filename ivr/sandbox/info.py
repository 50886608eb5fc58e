"""What a running Asterisk sandbox tells its users: ports, secrets, paths, rig endpoints.

Pure data; produced by :class:`ivr.sandbox.AsteriskSandbox`, consumed by the controller,
the rig, tests and benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RigEndpoint:
    """A PJSIP endpoint generated for a simulated phone.

    ``name`` is the endpoint id and SIP username (the number's digits, e.g. ``441632960100``);
    ``number`` is its E.164 form. Numbers come from Ofcom's drama range 01632 960xxx,
    so they can never ring a real phone.
    """

    name: str
    password: str
    number: str


@dataclass(frozen=True)
class SandboxInfo:
    instance_dir: Path
    host: str
    sip_port: int
    ami_port: int
    ami_username: str
    ami_secret: str
    ari_port: int
    ari_username: str
    ari_password: str
    ari_app: str
    rtp_start: int
    rtp_end: int
    endpoints: tuple[RigEndpoint, ...]
    #: Asterisk's full log (dialplan steps at verbose 3), on the host.
    log_file: Path
    #: Where ARI stores recordings, on the host (fetch them over ARI HTTP anyway).
    recordings_dir: Path
    #: Our sounds folder, on the host; Asterisk plays files here as ``sound:watchline/<name>``.
    sounds_dir: Path
    #: Where rig fax machines' received TIFFs land, on the host.
    fax_dir: Path
    #: The same folders as Asterisk sees them (they differ when it runs in a chroot).
    sounds_dir_in_asterisk: str
    fax_dir_in_asterisk: str
    #: Ports reserved for test tools of this sandbox's owner (first, last); (0, 0): none.
    tool_ports: tuple[int, int] = (0, 0)

    @property
    def ari_url(self) -> str:
        return f"http://{self.host}:{self.ari_port}"

    def endpoint(self, index: int) -> RigEndpoint:
        return self.endpoints[index]


def info_to_json(info: SandboxInfo) -> dict[str, object]:
    """Serialise for the state file of a detached sandbox (it holds secrets: mode 0600)."""
    data: dict[str, object] = {}
    for key, value in info.__dict__.items():
        if isinstance(value, Path):
            data[key] = str(value)
        elif key == "endpoints":
            data[key] = [e.__dict__ for e in value]
        else:
            data[key] = value
    return data


def info_from_json(data: dict[str, object]) -> SandboxInfo:
    values = dict(data)
    for key in ("instance_dir", "log_file", "recordings_dir", "sounds_dir", "fax_dir"):
        values[key] = Path(str(values[key]))
    if "tool_ports" in values:
        ports = values["tool_ports"]
        assert isinstance(ports, list | tuple)
        values["tool_ports"] = (int(ports[0]), int(ports[1]))
    raw = values["endpoints"]
    assert isinstance(raw, list)
    values["endpoints"] = tuple(RigEndpoint(**e) for e in raw)
    return SandboxInfo(**values)  # type: ignore[arg-type]


def external_asterisk_toml(info: SandboxInfo) -> str:
    """The ``[asterisk]`` section that points a separate ``ivr serve`` at this sandbox
    (external mode). It holds the sandbox's secrets: write it to a 0600 file."""
    return "\n".join(
        [
            "[asterisk]",
            'mode = "external"',
            f'host = "{info.host}"',
            f"ami_port = {info.ami_port}",
            f'ami_username = "{info.ami_username}"',
            f'ami_secret = "{info.ami_secret}"',
            f"ari_port = {info.ari_port}",
            f'ari_username = "{info.ari_username}"',
            f'ari_password = "{info.ari_password}"',
            f'ari_app = "{info.ari_app}"',
            f'sounds_dir = "{info.sounds_dir}"',
            f'media_dir_in_asterisk = "{info.sounds_dir_in_asterisk}"',
            f'fax_dir = "{info.fax_dir}"',
            f'fax_dir_in_asterisk = "{info.fax_dir_in_asterisk}"',
            "",
        ]
    )
