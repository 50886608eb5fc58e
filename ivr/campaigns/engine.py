"""The campaign engine: who to ring next, when, and what became of each call.

One loop serves every running campaign:

1. fetch a page of due targets (by index, never the whole campaign);
2. for each target, ask the pure policy: dial now, wait for the member's call window, or
   settle it (outside_window);
3. persist the attempt (target -> dialling) *before* ringing;
4. hand the attempt to the :class:`~ivr.campaigns.ports.DeliveryPort` in an owned task;
5. when it ends, persist the result and the next step (retry at, or final outcome).

Pacing is a token bucket per campaign plus a cap on calls in flight across the trunk.
A confirmation or opt-out is persisted during the call, before the member hears it
acknowledged, so a crash cannot lose it. On start-up the engine settles attempts that a
dead controller left "dialling": each becomes a retry, logged as a possible duplicate,
unless its target was already settled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ivr.campaigns import engine_queries as q
from ivr.campaigns.outcomes import AttemptResult, Outcome
from ivr.campaigns.policy import (
    Dial,
    Final,
    Pacer,
    Retry,
    after_attempt,
    campaign_deadline,
    can_start,
    when_due,
)
from ivr.campaigns.ports import AttemptPlan, AttemptReport, DeliveryPort
from ivr.clock import Clock
from ivr.store import campaigns_repo as repo
from ivr.store import members_repo
from ivr.store.database import Database
from ivr.store.models import Attempt, CampaignState, CampaignTarget, Member, TargetState

log = logging.getLogger(__name__)

#: How often the engine looks again when nothing woke it (state changes made elsewhere).
POLL_S = 1.0
#: How often opt-outs made since targets were created are settled, per campaign.
SETTLE_EVERY_S = 10.0


@dataclass
class _CampaignRun:
    pacer: Pacer
    in_flight: int = 0
    last_settle: float = float("-inf")
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


class Recorder:
    """Persists what a member did during the call, before they hear it acknowledged."""

    def __init__(self, engine: CampaignEngine, plan: AttemptPlan) -> None:
        self._engine = engine
        self._plan = plan
        self.plays_heard = 0
        self.settled: Outcome | None = None

    async def heard(self) -> None:
        self.plays_heard += 1

    async def confirmed(self) -> None:
        await self._settle(Outcome.CONFIRMED, "pressed 1")

    async def opted_out(self) -> None:
        plan = self._plan
        async with self._engine.db.session(write=True) as s:
            if plan.group_id is not None:
                await members_repo.opt_out_of_group(
                    s, plan.member_id, plan.group_id, self._engine.clock.now()
                )
        await self._settle(Outcome.OPTED_OUT, "pressed 9")

    async def _settle(self, outcome: Outcome, cause: str) -> None:
        async with self._engine.db.session(write=True) as s:
            target = await s.get(CampaignTarget, self._plan.target_id)
            if target is not None:
                await repo.finish_target(
                    s, target, outcome, now=self._engine.clock.now(), cause=cause
                )
        self.settled = outcome


class CampaignEngine:
    def __init__(
        self,
        db: Database,
        port: DeliveryPort,
        clock: Clock,
        *,
        max_concurrent: int = 20,
        page_size: int = 50,
    ) -> None:
        self.db = db
        self.port = port
        self.clock = clock
        self.max_concurrent = max_concurrent
        self.page_size = page_size
        self._runs: dict[int, _CampaignRun] = {}
        self._wake = asyncio.Event()
        self._tg: asyncio.TaskGroup | None = None
        #: attempts started since this engine began (benchmarks read it)
        self.started = 0
        self.first_call_at: float | None = None

    @property
    def in_flight(self) -> int:
        return sum(r.in_flight for r in self._runs.values())

    def poke(self) -> None:
        """Look again now: a campaign was started, resumed or a call ended."""
        self._wake.set()

    async def run(self) -> None:
        """Serve until cancelled; cancelling hangs up nothing (Asterisk keeps its calls,
        and the next start-up reconciles them)."""
        await self.recover()
        async with asyncio.TaskGroup() as tg:
            self._tg = tg
            while True:
                # clear first: a call ending during _fill() must wake the next wait
                self._wake.clear()
                wait = await self._fill()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._wake.wait()

    # ---- recovery -------------------------------------------------------------------------

    async def recover(self) -> int:
        """Settle attempts a dead controller left open; returns how many."""
        now = self.clock.now()
        async with self.db.session(write=True) as s:
            stuck = await q.interrupted_targets(s)
            for target in stuck:
                attempt = await q.open_attempt(s, target.id)
                if attempt is not None:
                    await repo.end_attempt(
                        s, attempt, Outcome.FAILED, now=now,
                        detail="interrupted: the controller stopped during this attempt",
                    )  # fmt: skip
                log.warning(
                    "attempt %s for member %d (campaign %d) was interrupted by a restart; "
                    "retrying it, so the member may hear the bulletin twice",
                    attempt.id if attempt else "?",
                    target.member_id,
                    target.campaign_id,
                )
                await repo.reschedule_target(s, target, at=now, now=now, cause="interrupted")
        return len(stuck)

    # ---- the loop -------------------------------------------------------------------------

    async def _fill(self) -> float:
        """Start every call that may start now; return seconds until looking again."""
        async with self.db.session() as s:
            campaigns = await q.running_campaigns(s)
        live = {c.id for c in campaigns}
        for cid in [cid for cid, run in self._runs.items() if cid not in live and not run.tasks]:
            del self._runs[cid]
        wait = POLL_S
        for campaign in campaigns:
            wait = min(wait, await self._fill_campaign(campaign))
        return max(wait, 0.01)

    async def _fill_campaign(self, c: q.RunningCampaign) -> float:
        mono = self.clock.monotonic()
        run = self._runs.get(c.id)
        if run is None:
            try:
                await self.port.prepare(c.id, c.bulletin_id)
            except Exception:  # calls can still go out with the generic prompts
                log.exception("preparing campaign %d failed", c.id)
            run = self._runs[c.id] = _CampaignRun(Pacer.from_settings(c.settings, mono))
        if mono - run.last_settle >= SETTLE_EVERY_S:
            run.last_settle = mono
            async with self.db.session(write=True) as s:
                await repo.settle_opted_out_targets(s, c.id, self.clock.now())
        free = min(c.settings.concurrency - run.in_flight, self.max_concurrent - self.in_flight)
        if free <= 0:
            return POLL_S
        check = can_start(run.pacer, mono)
        if not check.allowed:
            return check.wait_s if check.wait_s is not None else POLL_S
        now = self.clock.now()
        deadline = campaign_deadline(c.started_at, c.settings)
        plans: list[AttemptPlan] = []
        async with self.db.session(write=True) as s:
            page = await q.due_with_members(s, c.id, now, min(free, self.page_size))
            for target, member in page:
                if not can_start(run.pacer, mono).allowed:
                    break
                plan = await self._step(s, c, target, member, now, deadline)
                if plan is not None:
                    run.pacer = run.pacer.started(mono)
                    plans.append(plan)
            if not page and not run.tasks and await q.is_finished(s, c.id):
                await self._complete(s, c.id, now)
                return POLL_S
            next_due = None if page else await q.next_due_at(s, c.id)
        # committed: every attempt is on disk before its call starts
        for plan in plans:
            self._launch(run, plan)
        if next_due is not None:
            return max(0.0, (next_due - self.clock.now()).total_seconds())
        return POLL_S if not plans else 0.0

    async def _step(
        self,
        s: AsyncSession,
        c: q.RunningCampaign,
        target: CampaignTarget,
        member: Member,
        now: datetime,
        deadline: datetime,
    ) -> AttemptPlan | None:
        last = await q.last_result(s, target.id) if target.attempts and now >= deadline else None
        step = when_due(
            member, now, priority=c.priority, deadline=deadline, attempts=target.attempts,
            last_result=last,
        )  # fmt: skip
        if isinstance(step, Retry):
            await repo.reschedule_target(
                s, target, at=step.at, now=now, cause="outside call window"
            )
            return None
        if isinstance(step, Final):
            await repo.finish_target(s, target, step.outcome, now=now)
            return None
        assert isinstance(step, Dial)
        if not await repo.may_dial_target(s, target):
            await repo.finish_target(s, target, Outcome.OPTED_OUT, now=now, cause="opted out")
            return None
        number = member.fax if member.channel == "fax" and member.fax else member.phone
        attempt = await repo.begin_attempt(s, target, channel_id=str(uuid.uuid4()), now=now)
        return AttemptPlan(
            attempt_id=attempt.id, channel_id=attempt.channel_id, target_id=target.id,
            campaign_id=c.id, bulletin_id=c.bulletin_id, member_id=member.id,
            member_name=member.name, group_id=target.group_id, number=number,
            channel=member.channel, priority=c.priority,
        )  # fmt: skip

    async def _complete(self, s: AsyncSession, campaign_id: int, now: datetime) -> None:
        campaign = await repo.get_campaign(s, campaign_id)
        campaign.state = CampaignState.COMPLETED
        campaign.finished_at = now
        log.info("campaign %d completed", campaign_id)

    def _launch(self, run: _CampaignRun, plan: AttemptPlan) -> None:
        assert self._tg is not None, "the engine is not running"
        run.in_flight += 1
        self.started += 1
        if self.first_call_at is None:
            self.first_call_at = self.clock.monotonic()
        task = self._tg.create_task(self._attempt(run, plan), name=f"attempt-{plan.attempt_id}")
        run.tasks.add(task)
        task.add_done_callback(run.tasks.discard)

    # ---- one attempt ------------------------------------------------------------------------

    async def _attempt(self, run: _CampaignRun, plan: AttemptPlan) -> None:
        recorder = Recorder(self, plan)
        try:
            report = await self.port.deliver(plan, recorder)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # the port must report failures; never lose the attempt
            log.exception("delivery of attempt %d failed unexpectedly", plan.attempt_id)
            report = AttemptReport(AttemptResult(Outcome.FAILED, f"{type(e).__name__}: {e}"))
        finally:
            run.in_flight -= 1
            run.pacer = run.pacer.ended()
        try:
            await self._settle(plan, report, recorder)
        finally:
            self.poke()

    async def _settle(self, plan: AttemptPlan, report: AttemptReport, recorder: Recorder) -> None:
        now = self.clock.now()
        result = report.result
        if recorder.settled is not None:
            result = AttemptResult(recorder.settled, result.cause)
        async with self.db.session(write=True) as s:
            target = await s.get(CampaignTarget, plan.target_id)
            attempt = await s.get(Attempt, plan.attempt_id)
            if target is None or attempt is None:
                return
            await repo.end_attempt(
                s, attempt, result.outcome, now=now, hangup_cause=report.hangup_cause,
                amd_status=report.amd_status, digits=report.digits or None,
                detail=report.detail or result.cause,
            )  # fmt: skip
            if target.state is TargetState.DONE:
                return  # settled during the call (confirmed / opted out)
            campaign = await repo.get_campaign(s, plan.campaign_id)
            if campaign.state is CampaignState.CANCELLED:
                await repo.finish_target(s, target, Outcome.CANCELLED, now=now)
                return
            member = await s.get(Member, plan.member_id)
            assert member is not None
            settings = repo.campaign_settings(campaign)
            deadline = campaign_deadline(campaign.started_at or campaign.created_at, settings)
            step = after_attempt(
                result.outcome, target.attempts, now, settings=settings, callee=member,
                priority=campaign.priority, deadline=deadline,
            )  # fmt: skip
            if isinstance(step, Retry):
                await repo.reschedule_target(s, target, at=step.at, now=now, cause=result.cause)
            else:
                await repo.finish_target(s, target, step.outcome, now=now, cause=result.cause)
