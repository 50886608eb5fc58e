"""The outbox: deliver each settled report to the external backend, at least once.

A report gets its outbox row in the same transaction that settles it
(``reports_repo.settle``), so a report can never be complete and forgotten. This loop
sends due rows, signed (``ivr.reports.signing``), with the reference as Idempotency-Key:

- a 2xx answer marks the row delivered (audited);
- anything else (an error status, a refused connection, a timeout) schedules a retry by
  ``outbox_policy.after_failure``; after the last allowed attempt the row is dead-lettered
  (audited, visible in the API, sent again only when staff ask).

A crash between a 2xx and its commit sends that report again after the restart: that is
the "at least once", and why receivers must honour the Idempotency-Key. The loop wakes
when a report is filed or a transcript finishes, and otherwise every ``delivery_poll_s``.

Secrets stay out of logs: the URL is logged as scheme://host:port only, and neither the
secret nor the signature is ever formatted into a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.clock import Clock
from ivr.config import ReportsSettings
from ivr.errors import ConflictError
from ivr.reports import payload
from ivr.reports.outbox_policy import DeadLetter, RetryPolicy, after_failure
from ivr.reports.signing import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, sign
from ivr.reports.states import DeliveryState
from ivr.reports.views import AudioFor, audio_link
from ivr.store import reports_repo as repo
from ivr.store.database import Database
from ivr.store.models.reports import Report, ReportAnswer, ReportDelivery

log = logging.getLogger(__name__)

#: Deliveries sent at once.
BATCH = 8
USER_AGENT = "watchline-reports/1"


def safe_url(url: str) -> str:
    """scheme://host[:port] only: no credentials, path tokens or query in a log line."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def retry_policy(settings: ReportsSettings) -> RetryPolicy:
    return RetryPolicy(
        first_retry_s=settings.delivery_first_retry_s,
        max_retry_s=settings.delivery_max_retry_s,
        max_attempts=settings.delivery_max_attempts,
    )


@dataclass(frozen=True)
class Attempt:
    ok: bool
    status: int | None
    error: str | None


class Outbox:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        settings: ReportsSettings,
        *,
        data_dir: Path,
        public_base_url: Callable[[], str],
        rand: Callable[[], float] = random.random,
    ) -> None:
        if settings.backend_url is None:
            raise ValueError("the outbox needs reports.backend_url")
        self._db = db
        self._clock = clock
        self._settings = settings
        self._url = settings.backend_url
        self._data_dir = data_dir
        self._base_url = public_base_url
        self._policy = retry_policy(settings)
        self._rand = rand
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Deliver until cancelled."""
        timeout = aiohttp.ClientTimeout(total=self._settings.backend_timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            while True:
                self._wake.clear()
                try:
                    await self.deliver_due(http)
                    wait = await self._seconds_to_next()
                except Exception:  # a database hiccup must not end deliveries for good
                    log.exception("outbox pass failed; trying again shortly")
                    wait = self._settings.delivery_poll_s
                if wait > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), wait)

    async def _seconds_to_next(self) -> float:
        async with self._db.session() as session:
            nxt = await session.scalar(
                select(ReportDelivery.next_attempt_at)
                .where(ReportDelivery.state == DeliveryState.PENDING)
                .order_by(ReportDelivery.next_attempt_at)
                .limit(1)
            )
        poll = self._settings.delivery_poll_s
        if nxt is None:
            return poll
        return max(0.0, min(poll, (nxt - self._clock.now()).total_seconds()))

    async def deliver_due(self, http: aiohttp.ClientSession) -> int:
        """Send every delivery due now (in batches); returns how many were attempted."""
        async with self._db.session() as session:
            ids = list(
                await session.scalars(
                    select(ReportDelivery.id)
                    .where(ReportDelivery.state == DeliveryState.PENDING)
                    .where(ReportDelivery.next_attempt_at <= self._clock.now())
                    .order_by(ReportDelivery.next_attempt_at, ReportDelivery.id)
                    .limit(BATCH)
                )
            )
        await asyncio.gather(*(self._deliver(http, i) for i in ids))
        return len(ids)

    async def _body(self, delivery_id: int) -> tuple[str, bytes] | None:
        async with self._db.session() as session:
            delivery = await session.get(ReportDelivery, delivery_id)
            if delivery is None or delivery.state is not DeliveryState.PENDING:
                return None
            report = await session.get(Report, delivery.report_id)
            assert report is not None
            answers = await repo.answers_with_jobs(session, report.id)
        audio: AudioFor
        if self._settings.backend_audio == "inline":
            files = await asyncio.to_thread(self._read_audio, [a for a, _ in answers])
            audio = payload.inline_audio(files)
        else:
            audio = audio_link(self._base_url(), report.reference)
        document = payload.delivery_document(report, answers, audio)
        return report.reference, payload.encode(document)

    def _read_audio(self, answers: list[ReportAnswer]) -> dict[int, bytes]:
        files: dict[int, bytes] = {}
        for answer in answers:
            if answer.audio_path and answer.audio_purged_at is None:
                try:
                    files[answer.id] = (self._data_dir / answer.audio_path).read_bytes()
                except OSError as e:
                    log.warning("audio %s not readable for delivery: %s", answer.audio_path, e)
        return files

    async def _deliver(self, http: aiohttp.ClientSession, delivery_id: int) -> None:
        built = await self._body(delivery_id)
        if built is None:
            return
        reference, body = built
        attempt = await self._post(http, reference, body)
        await self._record(delivery_id, reference, attempt)

    async def _post(self, http: aiohttp.ClientSession, reference: str, body: bytes) -> Attempt:
        secret = self._settings.backend_secret.get_secret_value()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            IDEMPOTENCY_HEADER: reference,
        }
        if secret:
            headers[SIGNATURE_HEADER] = sign(secret, body, int(self._clock.now().timestamp()))
        try:
            async with http.post(self._url, data=body, headers=headers) as resp:
                await resp.read()
                if 200 <= resp.status < 300:
                    return Attempt(True, resp.status, None)
                return Attempt(
                    False, resp.status, f"HTTP {resp.status} {resp.reason or ''}".strip()
                )
        except TimeoutError:
            return Attempt(False, None, f"no answer within {self._settings.backend_timeout_s} s")
        except aiohttp.ClientError as e:
            return Attempt(False, None, f"{type(e).__name__}: {e}")

    async def _record(self, delivery_id: int, reference: str, attempt: Attempt) -> None:
        now = self._clock.now()
        async with self._db.session(write=True) as session:
            delivery = await session.get(ReportDelivery, delivery_id, with_for_update=True)
            if delivery is None or delivery.state is not DeliveryState.PENDING:
                return
            report = await session.get(Report, delivery.report_id)
            assert report is not None
            delivery.last_status = attempt.status
            if attempt.ok:
                delivery.attempts += 1
                delivery.state = DeliveryState.DELIVERED
                delivery.delivered_at = now
                delivery.last_error = None
                repo.audit(
                    session,
                    report,
                    "delivered",
                    actor="outbox",
                    now=now,
                    detail={"attempts": delivery.attempts, "status": attempt.status},
                )
                log.info(
                    "report %s delivered to %s (attempt %d)",
                    reference,
                    safe_url(self._url),
                    delivery.attempts,
                )
                return
            self._failed(session, report, delivery, attempt, now)

    def _failed(
        self,
        session: AsyncSession,
        report: Report,
        delivery: ReportDelivery,
        attempt: Attempt,
        now: datetime,
    ) -> None:
        delivery.last_error = attempt.error
        decision = after_failure(delivery.attempts, now, self._policy, self._rand())
        delivery.attempts = decision.attempts
        if isinstance(decision, DeadLetter):
            delivery.state = DeliveryState.DEAD
            repo.audit(
                session,
                report,
                "dead_lettered",
                actor="outbox",
                now=now,
                note=attempt.error,
                detail={"attempts": delivery.attempts},
            )
            log.error(
                "report %s dead-lettered after %d attempts to %s: %s",
                report.reference,
                delivery.attempts,
                safe_url(self._url),
                attempt.error,
            )
            return
        delivery.next_attempt_at = decision.at
        log.warning(
            "report %s not delivered to %s (attempt %d: %s); next try at %s",
            report.reference,
            safe_url(self._url),
            delivery.attempts,
            attempt.error,
            decision.at.isoformat(),
        )


async def requeue(db: Database, reference: str, *, actor: str, now: datetime) -> ReportDelivery:
    """Send a report again now: a dead-lettered one, or a pending one without waiting."""
    async with db.session(write=True) as session:
        report = await repo.get_report(session, reference)
        delivery = await repo.delivery_of(session, report.id)
        if delivery is None:
            raise ConflictError(
                f"report {report.reference} has no delivery "
                "(no backend was configured when it was filed)"
            )
        if delivery.state is DeliveryState.DELIVERED:
            raise ConflictError(f"report {report.reference} was already delivered")
        before = delivery.state
        delivery.state = DeliveryState.PENDING
        delivery.next_attempt_at = now
        if before is DeliveryState.DEAD:
            delivery.attempts = 0
        repo.audit(
            session, report, "delivery_requeued", actor=actor, now=now, detail={"was": before.value}
        )
        return delivery
