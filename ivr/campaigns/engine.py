"""The campaign engine: who to ring next, when, and what became of each call.

One loop serves every running campaign:

1. fetch a page of due targets (by index, never the whole campaign);
2. for each target, ask the pure policy: dial now, wait for the member's call window, or
   settle it (outside_window);
3. persist the attempt (target -> dialling) *before* ringing;
4. hand the attempt to the :class:`~ivr.campaigns.ports.DeliveryPort` in an owned task;
5. when it ends, persist the result and the next step (retry at, or final outcome).

Steps 1-3 are one transaction, a plain function (:func:`_fill_transaction`) that
``Database.run_write`` runs whole, off the event loop on SQLite. The settles of step 5 are
group-committed, and ride in the next fill's transaction when one is about to commit.

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
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy.engine import Connection

from ivr.campaigns import engine_queries as q
from ivr.campaigns import hot_path as hot
from ivr.campaigns.outcomes import AttemptResult, Outcome
from ivr.campaigns.policy import (
    Dial,
    Final,
    Pacer,
    Retry,
    after_attempt,
    campaign_deadline,
    can_start,
    may_dial,
    when_due,
)
from ivr.campaigns.ports import AttemptPlan, AttemptReport, DeliveryPort
from ivr.clock import Clock
from ivr.members.fields import Channel
from ivr.store import campaigns_repo as repo
from ivr.store import members_repo
from ivr.store.database import Database
from ivr.store.group_commit import Batch, GroupCommitWriter, execute_batch
from ivr.store.models import CampaignTarget

log = logging.getLogger(__name__)

#: How often a member held back (a fax waiting for approved text) is looked at again.
WAIT_RECHECK_S = 30.0

#: How often the engine looks again when nothing woke it (state changes made elsewhere).
POLL_S = 1.0


@dataclass
class _CampaignRun:
    pacer: Pacer
    in_flight: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


class _WaitReasonsNeeded(Exception):
    """A due member is not on the voice channel, and the fill was run without knowing
    whether such members must wait (asking needs the event loop); rolled back, run again."""


@dataclass(frozen=True)
class _Filled:
    plans: list[AttemptPlan]
    completed: bool
    next_due: datetime | None


def _fill_transaction(
    conn: Connection,
    *,
    c: q.RunningCampaign,
    now: datetime,
    limit: int,
    allowed: int,
    idle: bool,
    settles: Batch,
    waits: Mapping[Channel, str | None] | None,
) -> _Filled:
    """One fill, as one transaction (run whole by Database.run_write, off the event loop):
    the waiting settles first, then a page of due targets, each dialled (at most
    ``allowed``), rescheduled or settled."""
    execute_batch(conn, settles)
    deadline = campaign_deadline(c.started_at, c.settings)
    page = hot.due_page(conn, c.id, now, limit)
    dial: list[hot.DueRow] = []
    for row in page:
        if len(dial) >= allowed:
            break
        if _step(conn, c, row, now, deadline, waits):
            dial.append(row)
    plans = _begin(conn, c, dial, now) if dial else []
    if not page and idle and hot.is_finished(conn, c.id):
        hot.complete_campaign(conn, c.id, now)
        return _Filled([], completed=True, next_due=None)
    next_due = None if page else hot.next_due_at(conn, c.id)
    return _Filled(plans, completed=False, next_due=next_due)


def _step(
    conn: Connection,
    c: q.RunningCampaign,
    row: hot.DueRow,
    now: datetime,
    deadline: datetime,
    waits: Mapping[Channel, str | None] | None,
) -> bool:
    """True to dial the target now; otherwise it is rescheduled or settled here."""
    last = hot.last_result(conn, row.target_id) if row.attempts and now >= deadline else None
    step = when_due(
        row.schedule, now, priority=c.priority, deadline=deadline, attempts=row.attempts,
        last_result=last,
    )  # fmt: skip
    if isinstance(step, Retry):
        hot.reschedule(conn, row.target_id, at=step.at, cause="outside call window", now=now)
        return False
    if isinstance(step, Final):
        cause = "outside call window" if step.outcome is Outcome.OUTSIDE_WINDOW else "gave up"
        hot.finish(conn, row.target_id, step.outcome, cause=cause, now=now)
        return False
    assert isinstance(step, Dial)
    if not may_dial(row.status, row.group_opted_out):
        hot.finish(conn, row.target_id, Outcome.OPTED_OUT, cause="opted out", now=now)
        return False
    if row.channel is not Channel.VOICE:
        if waits is None:
            raise _WaitReasonsNeeded
        reason = waits.get(row.channel)
        if reason is not None:
            later = now + timedelta(seconds=WAIT_RECHECK_S)
            hot.reschedule(conn, row.target_id, at=later, cause=reason, now=now)
            return False
    return True


def _begin(
    conn: Connection, c: q.RunningCampaign, dial: list[hot.DueRow], now: datetime
) -> list[AttemptPlan]:
    """Persist one attempt per target to dial (two statements for the whole page)."""
    starts = [(r.target_id, r.attempts + 1, str(uuid.uuid4())) for r in dial]
    attempt_ids = hot.begin_attempts(conn, starts, now)
    return [
        AttemptPlan(
            attempt_id=attempt_ids[row.target_id],
            channel_id=channel_id,
            target_id=row.target_id,
            campaign_id=c.id,
            bulletin_id=c.bulletin_id,
            member_id=row.member_id,
            member_name=row.name,
            group_id=row.group_id,
            number=row.number,
            channel=row.channel,
            priority=c.priority,
            attempt_number=attempt_number,
            schedule=row.schedule,
        )
        for row, (_, attempt_number, channel_id) in zip(dial, starts, strict=True)
    ]


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
        #: running campaigns, re-read when a campaign's state changes or every POLL_S
        self._running: list[q.RunningCampaign] = []
        self._running_at = float("-inf")
        #: every campaign seen; settings never change once a campaign exists
        self._known: dict[int, q.RunningCampaign] = {}
        self._wake = asyncio.Event()
        self._tg: asyncio.TaskGroup | None = None
        self._writes = GroupCommitWriter(db)
        #: attempts started since this engine began (benchmarks read it)
        self.started = 0
        self.first_call_at: float | None = None

    @property
    def in_flight(self) -> int:
        return sum(r.in_flight for r in self._runs.values())

    def poke(self, *, campaigns_changed: bool = False) -> None:
        """Look again now: a call ended, or (``campaigns_changed``) a campaign was started,
        paused, resumed or cancelled."""
        if campaigns_changed:
            self._running_at = float("-inf")
        self._wake.set()

    async def run(self) -> None:
        """Serve until cancelled; cancelling hangs up nothing (Asterisk keeps its calls,
        and the next start-up reconciles them)."""
        await self.recover()
        async with asyncio.TaskGroup() as tg:
            self._tg = tg
            tg.create_task(self._writes.run(), name="campaign-writes")
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
        if self.clock.monotonic() - self._running_at >= POLL_S:
            ids = await self.db.run_read(q.running_campaign_ids)
            # a campaign's settings, bulletin and start never change once it runs, so only
            # a campaign not seen before is read whole
            unknown = [i for i in ids if i not in self._known]
            if unknown:
                async with self.db.session() as s:
                    self._known.update((c.id, c) for c in await q.running_campaigns(s, unknown))
            self._running = [self._known[i] for i in ids if i in self._known]
            self._running_at = self.clock.monotonic()
        campaigns = self._running
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
        free = min(c.settings.concurrency - run.in_flight, self.max_concurrent - self.in_flight)
        if free <= 0:
            return POLL_S
        check = can_start(run.pacer, mono)
        if not check.allowed:
            return check.wait_s if check.wait_s is not None else POLL_S
        # how many calls pacing lets start now (a target settled instead uses no start)
        allowed, pacer = 0, run.pacer
        while allowed < free and can_start(pacer, mono).allowed:
            allowed, pacer = allowed + 1, pacer.started(mono)
        fill = partial(
            _fill_transaction, c=c, now=self.clock.now(), limit=min(free, self.page_size),
            allowed=allowed, idle=not run.tasks,
        )  # fmt: skip
        # the settles of calls that just ended commit in this transaction too
        settles = self._writes.take()
        try:
            try:
                filled = await self.db.run_write(partial(fill, settles=settles, waits=None))
            except _WaitReasonsNeeded:
                # a fax member is due: ask the port (it reads the bulletin) and go again
                waits = {
                    channel: await self.port.wait_reason(c.bulletin_id, channel)
                    for channel in Channel
                    if channel is not Channel.VOICE
                }
                filled = await self.db.run_write(partial(fill, settles=settles, waits=waits))
        except Exception:
            self._writes.give_back(settles)  # rolled back: the writer commits them instead
            raise
        self._writes.committed(settles)
        if filled.completed:
            log.info("campaign %d completed", c.id)
            return POLL_S
        # committed: every attempt is on disk before its call starts
        for plan in filled.plans:
            run.pacer = run.pacer.started(mono)
            self._launch(run, plan)
        if filled.next_due is not None:
            return max(0.0, (filled.next_due - self.clock.now()).total_seconds())
        return POLL_S if not filled.plans else 0.0

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
            # refill the slot now; settling this attempt must not hold up the next call
            self.poke()
        try:
            await self._settle(plan, report, recorder)
        finally:
            # cheap when no slot is free; lets the loop notice a campaign that has finished
            self.poke()

    async def _settle(self, plan: AttemptPlan, report: AttemptReport, recorder: Recorder) -> None:
        """Persist the attempt's end and the target's next step: two statements, decided
        here from what the plan carries (no reads on the hot path)."""
        now = self.clock.now()
        result = report.result
        if recorder.settled is not None:
            result = AttemptResult(recorder.settled, result.cause)
        campaign = await self._campaign(plan.campaign_id)
        step: Retry | Final | None = None
        if recorder.settled is None:
            step = after_attempt(
                result.outcome, plan.attempt_number, now, settings=campaign.settings,
                callee=plan.schedule, priority=campaign.priority,
                deadline=campaign_deadline(campaign.started_at, campaign.settings),
            )  # fmt: skip

        writes = hot.settle_writes(
            attempt_id=plan.attempt_id, target_id=plan.target_id, campaign_id=plan.campaign_id,
            result=result.outcome, hangup_cause=report.hangup_cause,
            amd_status=report.amd_status, digits=report.digits or None,
            detail=report.detail or result.cause,
            step_outcome=step.outcome if isinstance(step, Final) else None,
            retry_at=step.at if isinstance(step, Retry) else None,
            settle=step is not None, cause=result.cause, now=now,
        )  # fmt: skip
        # batched with the other calls ending now (one executemany per statement); returns
        # once committed
        await self._writes.write(writes)

    async def _campaign(self, campaign_id: int) -> q.RunningCampaign:
        known = self._known.get(campaign_id)
        if known is None:
            async with self.db.session() as s:
                c = await repo.get_campaign(s, campaign_id)
                known = q.RunningCampaign(
                    id=c.id, bulletin_id=c.bulletin_id, priority=c.priority,
                    settings=repo.campaign_settings(c), started_at=c.started_at or c.created_at,
                )  # fmt: skip
            self._known[campaign_id] = known
        return known
