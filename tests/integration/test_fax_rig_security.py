"""The rig fax machines add no way in: unauthenticated INVITEs to, or claiming to come from,
their endpoints are challenged and refused, and no channel is ever created.

The same probe as tests/integration/test_toll_fraud.py (SIPp, Debian's sip-tester), aimed at
what pjsip_fax_rig.conf and extensions_fax_rig.conf add: the dial endpoints 4416329609NN,
the lines rigfax-9NN, their contexts and extensions.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ivr.ami.client import AmiClient
from ivr.ami.messages import Event
from ivr.fax import rig
from ivr.sandbox import SandboxInfo
from tests.integration.sipp_probe import run_probe

pytestmark = pytest.mark.integration

TARGETS = [
    rig.FAX_T38.line,
    rig.FAX_T38.digits,
    rig.CUT_AFTER_FIRST_PAGE.line,
    "rig-fax-receive",
    "rig-fax-machine",
    "receive",
    "+442079460000",
]
#: Callers claiming to be a rig line, a dial endpoint, the locked auth, or nobody at all.
CALLERS = [rig.FAX_T38.line, rig.FAX_AUDIO.digits, "rigfax-locked", "attacker"]


async def test_rig_fax_endpoints_refuse_unauthenticated_and_wrong_password_invites(
    asterisk: SandboxInfo, tmp_path: Path
) -> None:
    events: list[Event] = []
    failures: dict[str, int] = {}
    async with AmiClient(
        asterisk.host, asterisk.ami_port, asterisk.ami_username, asterisk.ami_secret
    ) as ami:
        with ami.subscribe(names={"Newchannel"}) as subscription:

            async def collect() -> None:
                async for event in subscription:
                    events.append(event)

            collector = asyncio.create_task(collect())
            try:
                for caller in CALLERS:
                    for service in TARGETS:
                        rc = await asyncio.to_thread(
                            run_probe, asterisk, "unauth_invite.xml", service, caller, tmp_path
                        )
                        if rc != 0:
                            failures[f"{caller}->{service}"] = rc
                for line in (rig.FAX_T38.line, rig.FAX_AUDIO.line):
                    rc = await asyncio.to_thread(
                        run_probe, asterisk, "wrong_password_invite.xml", line, line, tmp_path
                    )
                    if rc != 0:
                        failures[f"wrong password as {line}"] = rc
                await asyncio.sleep(0.5)  # let any late event arrive
            finally:
                subscription.close()
                await collector
    errors = {p.name: p.read_text()[-300:] for p in tmp_path.glob("err-*.log") if p.stat().st_size}
    assert not failures, f"not refused: {failures}; sipp errors: {errors}"
    assert not events, [e.get("Channel") for e in events]
