"""Signing in to the bulletin line: who is calling, is the account locked, is the PIN right.

Two limits work together:

- per account, persistent: wrong PINs in a row lock the account for a growing interval
  (``lockout.py``), stored on the coordinator row so neither redialling nor a restart
  resets it;
- per line, in memory: a caller ID (or all withheld callers together) that keeps failing,
  whichever coordinator it tries, is refused for a while (``FailureLimiter``). This stops one
  line from locking every account in turn or guessing coordinator numbers.

Every attempt is audited (``coordinator_events``) and logged, with the caller ID and the
result, never with the digits keyed.
"""

from __future__ import annotations

import logging

from ivr.auth.limiter import FailureLimiter
from ivr.bulletin_line.lockout import (
    LockoutPolicy,
    after_right_pin,
    after_wrong_pin,
    is_locked,
)
from ivr.bulletin_line.pins import MAX_DIGITS, PinHasher
from ivr.clock import Clock
from ivr.errors import InvalidPhoneNumber
from ivr.flows.bulletin_ports import CoordinatorRef, PinCheck
from ivr.members.fields import normalise_phone
from ivr.store import coordinators_repo as repo
from ivr.store.database import Database
from ivr.store.models.coordinators import Coordinator, EventKind

log = logging.getLogger(__name__)

VIA = "phone"


def caller_e164(caller: str | None) -> str | None:
    """The caller ID as E.164, or None when withheld or not a phone number."""
    if not caller or not caller.strip():
        return None
    try:
        return normalise_phone(caller)
    except InvalidPhoneNumber:
        return None


def line_key(caller: str | None) -> str:
    # Withheld callers share one allowance: a coordinator calls from their own phone.
    return caller_e164(caller) or "withheld"


def _ref(c: Coordinator) -> CoordinatorRef:
    return CoordinatorRef(c.id, c.name)


class SignIn:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        policy: LockoutPolicy,
        line_limiter: FailureLimiter,
        hasher: PinHasher | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.policy = policy
        self.line_limiter = line_limiter
        self.hasher = hasher or PinHasher()

    async def line_open(self, caller: str | None) -> bool:
        verdict = self.line_limiter.check(line_key(caller), self.clock.monotonic())
        if verdict.allowed:
            return True
        log.warning(
            "bulletin line: refusing %s for %.0f s more: too many failures from this line",
            caller or "a withheld number", verdict.retry_after_s,
        )  # fmt: skip
        async with self.db.session(write=True) as s:
            repo.audit(
                s, EventKind.RATE_LIMITED, via=VIA, now=self.clock.now(), source=caller,
                detail=f"too many failures from this line; retry in {verdict.retry_after_s:.0f} s",
            )  # fmt: skip
        return False

    async def identify(self, caller: str | None) -> CoordinatorRef | None:
        number = caller_e164(caller)
        if number is None:
            return None
        async with self.db.session() as s:
            found = await repo.find_by_phone(s, number)
        return _ref(found) if found is not None else None

    async def identify_keyed(self, number: str, caller: str | None) -> CoordinatorRef | None:
        found: Coordinator | None = None
        if number.isdigit() and len(number) <= MAX_DIGITS:
            async with self.db.session() as s:
                found = await s.get(Coordinator, int(number))
        if found is not None and found.active:
            return _ref(found)
        self.line_limiter.failed(line_key(caller), self.clock.monotonic())
        log.warning("bulletin line: unknown coordinator number keyed from %s", caller or "withheld")
        async with self.db.session(write=True) as s:
            # the digits are not recorded: a PIN keyed at the wrong prompt must not leak
            repo.audit(
                s, EventKind.UNKNOWN_COORDINATOR, via=VIA, now=self.clock.now(), source=caller,
                detail="keyed coordinator number not found",
            )  # fmt: skip
        return None

    async def refuse_if_locked(self, who: CoordinatorRef, caller: str | None) -> bool:
        now = self.clock.now()
        async with self.db.session() as s:
            c = await repo.get_coordinator(s, who.id)
            state = repo.pin_state(c)
        if not is_locked(state, now):
            return False
        until = state.locked_until
        assert until is not None
        log.warning(
            "bulletin line: coordinator %d is locked until %s; refusing the call from %s",
            who.id, until.isoformat(timespec="seconds"), caller or "withheld",
        )  # fmt: skip
        async with self.db.session(write=True) as s:
            repo.audit(
                s, EventKind.REFUSED_LOCKED, via=VIA, now=now, coordinator_id=who.id,
                source=caller, detail=f"locked until {until.isoformat(timespec='seconds')}",
            )  # fmt: skip
        return True

    async def check_pin(self, who: CoordinatorRef, pin: str, caller: str | None) -> PinCheck:
        async with self.db.session() as s:
            pin_hash = (await repo.get_coordinator(s, who.id)).pin_hash
        # the slow hash runs outside any transaction, then the result is applied to the
        # state as it is now (another call may have changed it meanwhile)
        right = await self.hasher.verify_async(pin_hash, pin)
        now = self.clock.now()
        async with self.db.session(write=True) as s:
            c = await repo.get_coordinator(s, who.id, for_update=True)
            state = repo.pin_state(c)
            if is_locked(state, now):
                repo.audit(
                    s, EventKind.REFUSED_LOCKED, via=VIA, now=now, coordinator_id=c.id,
                    source=caller, detail="PIN keyed while locked; not checked",
                )  # fmt: skip
                return PinCheck.LOCKED
            if right:
                repo.set_pin_state(c, after_right_pin(state), now)
                repo.audit(s, EventKind.SIGNED_IN, via=VIA, now=now, coordinator_id=c.id,
                           source=caller)  # fmt: skip
                result = PinCheck.RIGHT
            else:
                wrong = after_wrong_pin(state, now, self.policy)
                repo.set_pin_state(c, wrong.state, now)
                failures = self.policy.max_failures - wrong.remaining
                if wrong.locked:
                    until = wrong.state.locked_until
                    assert until is not None
                    detail = (f"wrong PIN {self.policy.max_failures} of "
                              f"{self.policy.max_failures}; locked until "
                              f"{until.isoformat(timespec='seconds')}")  # fmt: skip
                    kind = EventKind.LOCKED
                else:
                    detail = f"wrong PIN {failures} of {self.policy.max_failures}"
                    kind = EventKind.WRONG_PIN
                repo.audit(s, kind, via=VIA, now=now, coordinator_id=c.id, source=caller,
                           detail=detail)  # fmt: skip
                result = PinCheck.LOCKED if wrong.locked else PinCheck.WRONG
        if result is PinCheck.RIGHT:
            self.line_limiter.succeeded(line_key(caller))
            log.info(
                "bulletin line: coordinator %d signed in from %s", who.id, caller or "withheld"
            )
        else:
            self.line_limiter.failed(line_key(caller), self.clock.monotonic())
            log.warning(
                "bulletin line: wrong PIN for coordinator %d from %s%s", who.id,
                caller or "withheld", " (account now locked)" if result is PinCheck.LOCKED else "",
            )  # fmt: skip
        return result
