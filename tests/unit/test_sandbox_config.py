"""The sandbox's pure parts: version parsing, mirror discovery, port blocks, rendering."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ivr.errors import SandboxError
from ivr.sandbox.info import info_from_json, info_to_json
from ivr.sandbox.ports import BLOCK, PortBlock
from ivr.sandbox.render import RenderContext, render
from ivr.sandbox.runtime import AsteriskRuntime, debian_mirror_from_sources, parse_version
from ivr.sandbox.sandbox import rig_endpoints


def test_parse_version_reads_major_and_full_version() -> None:
    assert parse_version("Asterisk 22.10.1+dfsg+~cs6.17.60671434-1\n") == (
        22,
        "22.10.1+dfsg+~cs6.17.60671434-1",
    )
    assert parse_version("Asterisk 18.10.0~dfsg+~cs6.10.40431411-2") == (
        18,
        "18.10.0~dfsg+~cs6.10.40431411-2",
    )
    assert parse_version("bash: asterisk: not found") is None


def test_mirror_is_read_from_deb822_sources_skipping_security() -> None:
    text = """Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security

Types: deb
URIs: http://mirror.example.org/debian
Suites: bookworm bookworm-updates
"""
    assert debian_mirror_from_sources([text]) == "http://mirror.example.org/debian"


def test_mirror_is_read_from_one_line_sources() -> None:
    text = "deb [arch=amd64] https://ftp.uk.debian.org/debian/ bookworm main\n"
    assert debian_mirror_from_sources(["", text]) == "https://ftp.uk.debian.org/debian"


def test_no_debian_mirror_gives_none() -> None:
    assert (
        debian_mirror_from_sources(["deb https://deb.nodesource.com/node_20.x nodistro main"])
        is None
    )


def test_port_blocks_of_different_slots_never_overlap() -> None:
    a, b = PortBlock.for_slot(0), PortBlock.for_slot(1)
    span_a = {a.sip, a.ami, a.http, *range(a.rtp_start, a.udptl_end + 1)}
    span_b = {b.sip, b.ami, b.http, *range(b.rtp_start, b.udptl_end + 1)}
    assert not span_a & span_b
    assert a.udptl_end < b.sip and b.sip - a.sip == BLOCK
    # below Linux's ephemeral range, so auto-chosen client ports cannot land in a block
    assert PortBlock.for_slot(49).udptl_end < 32768


def _ctx() -> RenderContext:
    return RenderContext(
        bind_address="127.0.0.1",
        ports=PortBlock.for_slot(3),
        ami_username="watchline",
        ami_secret="s3cret-ami",
        ari_username="watchline",
        ari_password="s3cret-ari",
        ari_app="watchline",
        endpoints=rig_endpoints(3),
    )


def _render(tmp_path: Path) -> dict[str, str]:
    runtime = AsteriskRuntime(
        "native", None, "22", "/usr/lib/asterisk/modules", "/usr/share/asterisk"
    )
    (tmp_path / "etc").mkdir()
    return {p.name: p.read_text() for p in render(_ctx(), tmp_path, runtime)}


def test_every_template_renders_with_this_runs_values(tmp_path: Path) -> None:
    files = _render(tmp_path)
    assert {
        "pjsip.conf",
        "extensions.conf",
        "manager.conf",
        "ari.conf",
        "http.conf",
        "rtp.conf",
        "modules.conf",
        "asterisk.conf",
    } <= set(files)
    ports = PortBlock.for_slot(3)
    assert f"bind = 127.0.0.1:{ports.sip}" in files["pjsip.conf"]
    assert f"port = {ports.ami}" in files["manager.conf"]
    assert f"bindport = {ports.http}" in files["http.conf"]
    assert "icesupport = no" in files["rtp.conf"]
    assert "secret = s3cret-ami" in files["manager.conf"]
    assert rig_endpoints(3)[2].name in files["pjsip.conf"] or "441632960102" in files["pjsip.conf"]


def test_everything_binds_to_the_bind_address_only(tmp_path: Path) -> None:
    files = _render(tmp_path)
    assert "bindaddr = 127.0.0.1" in files["manager.conf"]
    assert "bindaddr = 127.0.0.1" in files["http.conf"]
    assert "media_address = 127.0.0.1" in files["pjsip.conf"]
    assert "bind_rtp_to_media_address = yes" in files["pjsip.conf"]
    assert "0.0.0.0:" not in files["pjsip.conf"]


def test_modules_are_an_allow_list_without_anonymous_identification(tmp_path: Path) -> None:
    mods = _render(tmp_path)["modules.conf"]
    assert re.search(r"^autoload = no$", mods, re.M)
    loaded = re.findall(r"^load => (\S+)", mods, re.M)
    assert "res_pjsip_endpoint_identifier_anonymous.so" not in loaded
    assert "res_pjsip_endpoint_identifier_ip.so" not in loaded
    assert "chan_iax2.so" not in loaded


def _contexts(extensions: str) -> dict[str, str]:
    parts = re.split(r"^\[([\w-]+)\]\s*$", extensions, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def test_no_context_dials_out_and_every_context_is_documented(tmp_path: Path) -> None:
    text = _render(tmp_path)["extensions.conf"]
    contexts = _contexts(text)
    assert {"from-phones", "watchline-delivery"} <= set(contexts)
    for name, body in contexts.items():
        assert "Dial(" not in body, f"context {name} dials out"
        if name in ("general", "globals"):
            continue
        # the comment block right above the context header documents it
        header = text.index(f"[{name}]")
        assert text[:header].rstrip().splitlines()[-1].startswith(";"), f"{name} undocumented"


def test_phones_land_only_in_from_phones(tmp_path: Path) -> None:
    pjsip = _render(tmp_path)["pjsip.conf"]
    assert set(re.findall(r"^context = (\S+)", pjsip, re.M)) == {"from-phones"}


def test_rig_endpoints_use_the_drama_range_and_unique_passwords() -> None:
    eps = rig_endpoints(64)
    assert all(e.number.startswith("+44163296") for e in eps)
    assert len({e.password for e in eps}) == 64
    assert eps[0].name == "441632960100" and eps[0].number == "+441632960100"


def test_info_survives_a_json_round_trip(tmp_path: Path) -> None:
    from ivr.sandbox.info import SandboxInfo

    info = SandboxInfo(
        instance_dir=tmp_path,
        host="127.0.0.1",
        sip_port=1,
        ami_port=2,
        ami_username="u",
        ami_secret="s",
        ari_port=3,
        ari_username="u",
        ari_password="p",
        ari_app="watchline",
        rtp_start=4,
        rtp_end=5,
        endpoints=rig_endpoints(2),
        log_file=tmp_path / "full",
        recordings_dir=tmp_path,
        sounds_dir=tmp_path,
        fax_dir=tmp_path,
        sounds_dir_in_asterisk="/x",
        fax_dir_in_asterisk="/y",
    )
    assert info_from_json(info_to_json(info)) == info


@pytest.mark.parametrize("bad", ["{{ nope }}", "{% if %}"])
def test_a_broken_template_fails_naming_the_file(tmp_path: Path, bad: str) -> None:
    tpl = tmp_path / "tpl"
    tpl.mkdir()
    (tpl / "broken.conf.j2").write_text(bad)
    runtime = AsteriskRuntime("native", None, "22", "/m", "/d")
    (tmp_path / "etc").mkdir()
    with pytest.raises(SandboxError) as e:
        render(_ctx(), tmp_path, runtime, templates_dir=tpl)
    assert e.value.step == "render"
    assert "broken.conf.j2" in str(e.value)


def test_test_tools_get_ports_of_their_own_in_each_block() -> None:
    """SIPp and friends take ports no Asterisk listener and no other slot uses."""
    block = PortBlock.for_slot(7)
    tools = set(range(block.tools_start, block.tools_end + 1))
    asterisk = {block.sip, block.ami, block.http, *range(block.rtp_start, block.udptl_end + 1)}
    assert len(tools) >= 50 and not tools & asterisk
    assert not tools & set(range(PortBlock.for_slot(8).sip, PortBlock.for_slot(8).udptl_end + 1))


def test_keys_pressed_never_reach_asterisks_log(tmp_path: Path) -> None:
    """PINs are keyed on the bulletin line: the log levels must not include dtmf."""
    logger = _render(tmp_path)["logger.conf"]
    levels = next(line for line in logger.splitlines() if line.startswith("full =>"))
    assert "dtmf" not in levels
