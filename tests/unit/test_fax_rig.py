"""The rig fax machines' Asterisk config agrees with ivr/fax/rig.py and keeps the security
rules: every endpoint authenticates, no context dials out, everything stays on loopback."""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
import pytest

from ivr.fax import rig
from ivr.sandbox.ports import PortBlock
from ivr.sandbox.render import DIALPLANS_DIR, RenderContext, render
from ivr.sandbox.runtime import AsteriskRuntime
from ivr.sandbox.sandbox import rig_endpoints

PORTS = PortBlock.for_slot(3)


def _render(tmp_path: Path) -> dict[str, str]:
    ctx = RenderContext(
        bind_address="127.0.0.1",
        ports=PORTS,
        ami_username="watchline",
        ami_secret="s3cret-ami",
        ari_username="watchline",
        ari_password="s3cret-ari",
        ari_app="watchline",
        endpoints=rig_endpoints(2),
    )
    runtime = AsteriskRuntime("native", None, "22", "/usr/lib/asterisk/modules", "/usr/share")
    (tmp_path / "etc").mkdir(parents=True, exist_ok=True)
    return {p.name: p.read_text() for p in render(ctx, tmp_path, runtime)}


def _sections(conf: str) -> list[tuple[str, dict[str, str]]]:
    """(header, settings) of each section, with settings inherited from templates
    (``[name](tpl)`` takes every setting of ``[tpl](!)`` first, as Asterisk does)."""
    raw: list[tuple[str, str, str, dict[str, str]]] = []
    for line in conf.splitlines():
        line = line.strip()
        head = re.match(r"^\[([^\]]+)\](?:\(([^)]*)\))?", line)
        if head:
            raw.append((line, head.group(1), head.group(2) or "", {}))
        elif "=" in line and not line.startswith(";") and raw:
            key, _, value = line.partition("=")
            raw[-1][3][key.strip()] = value.strip()
    templates = {name: settings for _, name, flags, settings in raw if flags == "!"}
    out = []
    for header, _, flags, settings in raw:
        merged: dict[str, str] = {}
        for parent in filter(None, flags.split(",")):
            merged.update(templates.get(parent.strip(), {}))
        merged.update(settings)
        out.append((header, merged))
    return out


def _section(conf: str, name: str, kind: str) -> dict[str, str]:
    for header, settings in _sections(conf):
        if header.split("(")[0] == f"[{name}]" and settings.get("type") == kind:
            return settings
    raise AssertionError(f"no {kind} section [{name}]")


def _contexts(extensions: str) -> dict[str, str]:
    parts = re.split(r"^\[([\w-]+)\]\s*$", extensions, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    return _render(tmp_path)


def test_each_machine_is_dialled_like_a_member_and_loops_back_to_its_line(
    files: dict[str, str],
) -> None:
    pjsip = files["pjsip_fax_rig.conf"]
    for m in rig.MACHINES:
        dial = _section(pjsip, m.digits, "endpoint")
        aor = _section(pjsip, m.digits, "aor")
        line = _section(pjsip, m.line, "endpoint")
        auth = _section(pjsip, m.line, "auth")
        assert m.channel == f"PJSIP/{m.digits}"
        assert aor["contact"] == f"sip:{m.line}@127.0.0.1:{PORTS.sip}"
        assert (dial["from_user"], dial["outbound_auth"]) == (m.line, m.line)
        assert auth["username"] == m.line and len(auth["password"]) >= 16
        want = "yes" if m.t38 else "no"
        assert dial["t38_udptl"] == want == line["t38_udptl"], m.suffix


def test_every_rig_endpoint_demands_a_password(files: dict[str, str]) -> None:
    """A dial endpoint's inbound auth is one whose password is never handed to anyone, so
    an INVITE claiming to be 4416329609NN is challenged and cannot pass."""
    pjsip = files["pjsip_fax_rig.conf"]
    endpoints = [
        (head, s)
        for head, s in _sections(pjsip)
        if s.get("type") == "endpoint" and not head.endswith("(!)")
    ]
    assert len(endpoints) == 2 * len(rig.MACHINES)
    for head, settings in endpoints:
        assert settings.get("auth"), f"{head} would accept calls without a password"
    locked = _section(pjsip, "rigfax-locked", "auth")
    line_password = _section(pjsip, rig.FAX_T38.line, "auth")["password"]
    assert locked["password"] != line_password


def test_rig_secrets_change_with_every_render(tmp_path: Path) -> None:
    first = _render(tmp_path / "a")["pjsip_fax_rig.conf"]
    second = _render(tmp_path / "b")["pjsip_fax_rig.conf"]
    password = re.compile(r"^password = (\S+)", re.M)
    assert set(password.findall(first)).isdisjoint(password.findall(second))


def test_rig_media_stays_on_loopback(files: dict[str, str]) -> None:
    pjsip = files["pjsip_fax_rig.conf"]
    assert "0.0.0.0" not in pjsip
    assert pjsip.count("media_address = 127.0.0.1") == 2  # both templates
    assert pjsip.count("t38_bind_udptl_to_media_address = yes") == 2


def test_each_behaviour_is_wired_to_its_number(files: dict[str, str]) -> None:
    contexts = _contexts(files["extensions_fax_rig.conf"])
    receive = contexts["rig-fax-receive"]

    def steps(m: rig.RigFaxMachine) -> str:
        found = re.search(rf"^exten => {m.line},1,(.*?)(?=^exten|\Z)", receive, re.M | re.S)
        assert found, m.line
        return found.group(0)

    for m in rig.MACHINES:
        body = steps(m)
        if m.behaviour in (
            rig.RigBehaviour.FAX,
            rig.RigBehaviour.CUT_AFTER_FIRST_PAGE,
            rig.RigBehaviour.BUSY_THEN_FAX,
        ):
            assert "Goto(rig-fax-machine,receive,1)" in body
            assert f"WL_RIG_MACHINE={m.suffix}" in body
        else:
            assert "rig-fax-machine" not in body
    assert "Hangup(17)" in steps(rig.BUSY)
    assert "Ringing()" in steps(rig.NO_ANSWER) and "Answer" not in steps(rig.NO_ANSWER)
    assert f"TIMEOUT(absolute)={rig.CUT_AFTER_S})" in steps(rig.CUT_AFTER_FIRST_PAGE)
    assert "Answer()" in steps(rig.VOICE)
    assert "Hangup(17)" in steps(rig.BUSY_THEN_FAX) and "GLOBAL" in steps(rig.BUSY_THEN_FAX)


def test_received_faxes_land_in_the_fax_dir_and_are_reported(
    files: dict[str, str], tmp_path: Path
) -> None:
    machine = _contexts(files["extensions_fax_rig.conf"])["rig-fax-machine"]
    assert f"WL_RIG_FILE={tmp_path}/fax/rx-${{WL_RIG_MACHINE}}-${{UNIQUEID}}.tif" in machine
    assert "ReceiveFAX(${WL_RIG_FILE})" in machine
    assert f"UserEvent({rig.RIG_USER_EVENT}," in machine
    for field in ("Status: ${FAXSTATUS}", "Pages: ${FAXPAGES}", "Mode: ${FAXMODE}"):
        assert field in machine


def test_rig_contexts_never_dial_and_are_documented(files: dict[str, str]) -> None:
    text = files["extensions_fax_rig.conf"]
    contexts = _contexts(text)
    assert set(contexts) == {"rig-fax-receive", "rig-fax-machine", "rig-fax-refuse"}
    for name, body in contexts.items():
        assert "Dial(" not in body and "Originate(" not in body, name
        header = text.index(f"[{name}]")
        assert text[:header].rstrip().splitlines()[-1].startswith(";"), f"{name} undocumented"
    assert "rig-fax-receive" in files["pjsip_fax_rig.conf"]


def test_the_rig_files_are_included_at_the_end_of_the_main_configs(files: dict[str, str]) -> None:
    for main, rig_file in (("pjsip", "pjsip_fax_rig"), ("extensions", "extensions_fax_rig")):
        last = files[f"{main}.conf"].rstrip().splitlines()[-1]
        assert last in (f"#include {rig_file}.conf", f"#tryinclude {rig_file}.conf"), last


def test_fax_numbers_are_drama_range_and_apart_from_the_rig_phones() -> None:
    phones = {e.name for e in rig_endpoints(160)}
    for m in rig.MACHINES:
        assert m.number.startswith("+4416329609")
        assert m.digits not in phones
    assert len({m.suffix for m in rig.MACHINES}) == len(rig.MACHINES)
    assert rig.machine("+441632960902") is rig.BUSY is rig.machine("902")
    with pytest.raises(KeyError):
        rig.machine("999")


@pytest.mark.parametrize("name", ["pjsip_fax_rig.conf.j2", "extensions_fax_rig.conf.j2"])
def test_a_production_render_can_leave_the_rig_out(name: str) -> None:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(DIALPLANS_DIR)), undefined=jinja2.StrictUndefined
    )
    text = env.get_template(name).render(
        fax_rig=False, bind_address="127.0.0.1", sip_port=5060, dirs={"spool": "/x/spool"}
    )
    assert not re.search(r"^\[", text, re.M)
