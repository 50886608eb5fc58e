"""Toll-fraud guard: unauthenticated INVITEs get nowhere, checked from both sides.

SIPp (Debian's sip-tester) sends INVITEs without credentials to every extension and
context name our dialplan defines, to a few outside numbers, and to our own endpoints'
usernames; one more answers the challenge with a wrong password. SIPp's exit status says
each was refused; AMI shows no channel was ever created and that Asterisk's security
events saw the attempts.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from ivr.ami.client import AmiClient
from ivr.ami.messages import Event
from ivr.sandbox import SandboxInfo
from tests.integration.sipp_probe import run_probe

pytestmark = pytest.mark.integration

OUTSIDE_NUMBERS = ["+442079460000", "00442079460000", "0800123456", "9011441632960100", "999"]


def dialplan_targets(info: SandboxInfo) -> list[str]:
    """Every extension and context name in the rendered dialplan (and its included files)."""
    text = "\n".join(
        p.read_text() for p in sorted((info.instance_dir / "etc").glob("extensions*.conf"))
    )
    contexts = re.findall(r"^\[([\w-]+)\]", text, re.M)
    extens = re.findall(r"^exten => ([^,]+),", text, re.M)
    names = {c for c in contexts if c not in ("general", "globals")} | {_sample(e) for e in extens}
    return sorted(n for n in names if n)


def _sample(exten: str) -> str:
    """A concrete number a pattern like ``_X.`` or ``_[a-z+].`` matches (literal otherwise)."""
    if not exten.startswith("_"):
        return exten
    out, i, pattern = [], 0, exten[1:]
    while i < len(pattern):
        c = pattern[i]
        if c == "[":
            end = pattern.index("]", i)
            out.append(pattern[i + 1])
            i = end + 1
            continue
        out.append({"X": "1", "Z": "1", "N": "2", ".": "12", "!": ""}.get(c, c))
        i += 1
    return "".join(out)


async def test_unauthenticated_invites_are_refused_and_create_no_channel(
    asterisk: SandboxInfo, tmp_path: Path
) -> None:
    targets = dialplan_targets(asterisk)
    assert {"101", "2000", "from-phones", "watchline-delivery"} <= set(targets)
    own = [asterisk.endpoints[0].name]
    events: list[Event] = []
    async with AmiClient(
        asterisk.host, asterisk.ami_port, asterisk.ami_username, asterisk.ami_secret
    ) as ami:
        with ami.subscribe() as subscription:

            async def collect() -> None:
                async for event in subscription:
                    events.append(event)

            collector = asyncio.create_task(collect())
            try:
                failures = {}
                for service in [*targets, *OUTSIDE_NUMBERS, *own]:
                    rc = await asyncio.to_thread(
                        run_probe, asterisk, "unauth_invite.xml", service, "attacker", tmp_path
                    )
                    if rc != 0:
                        failures[service] = rc
                # a known username with a wrong password, to an outside number
                rc = await asyncio.to_thread(
                    run_probe, asterisk, "wrong_password_invite.xml", "+442079460000",
                    asterisk.endpoints[1].name, tmp_path,
                )  # fmt: skip
                if rc != 0:
                    failures["wrong-password"] = rc
                channels = await ami.command("core show channels count")
                await asyncio.sleep(0.5)  # let the last security events arrive
            finally:
                subscription.close()
                await collector

    errors = {p.name: p.read_text()[-500:] for p in tmp_path.glob("err-*.log") if p.stat().st_size}
    assert not failures, f"not refused: {failures}; sipp errors: {errors}"
    assert re.search(r"^0 active channels", channels, re.M), channels
    created = [e for e in events if e.name == "Newchannel"]
    assert not created, [e.get("Channel") for e in created]
    security = [
        e
        for e in events
        if e.name
        in ("ChallengeSent", "InvalidAccountID", "ChallengeResponseFailed", "InvalidPassword")
    ]
    assert len(security) >= len(targets), "Asterisk's security events did not see the probes"
