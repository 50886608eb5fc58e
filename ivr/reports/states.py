"""The vocabularies of a report's life, and the one rule about changing its status.

Kept apart from the database models so that flows, the API and the CLI share them
without importing SQLAlchemy.
"""

from __future__ import annotations

from enum import StrEnum

from ivr.errors import ConflictError


class ReportStatus(StrEnum):
    """Where staff are with a report."""

    NEW = "new"
    TRIAGED = "triaged"
    CLOSED = "closed"


class CallState(StrEnum):
    """How the call that made the report went."""

    #: the caller is still on the line
    IN_CALL = "in_call"
    #: the report was filed and the caller was given its reference
    COMPLETED = "completed"
    #: the caller hung up before the reference (what they said is kept)
    HUNG_UP = "hung_up"
    #: an urgent report: the call went on, live, to the configured extension
    TRANSFERRED = "transferred"
    #: the controller stopped during the call; found and closed at the next start
    INTERRUPTED = "interrupted"


class AnswerKind(StrEnum):
    """Which question a recording answers."""

    CATEGORY = "category"
    WHERE = "where"
    WHAT = "what"


class DeliveryState(StrEnum):
    """A report's place in the outbox to the external backend."""

    PENDING = "pending"
    DELIVERED = "delivered"
    #: gave up after the configured number of attempts; staff can send it again
    DEAD = "dead"


#: Status changes staff may make. Closing needs no triage first; a closed report can be
#: reopened, to triaged, never back to new (it has been looked at).
ALLOWED_CHANGES: dict[ReportStatus, frozenset[ReportStatus]] = {
    ReportStatus.NEW: frozenset({ReportStatus.TRIAGED, ReportStatus.CLOSED}),
    ReportStatus.TRIAGED: frozenset({ReportStatus.NEW, ReportStatus.CLOSED}),
    ReportStatus.CLOSED: frozenset({ReportStatus.TRIAGED}),
}


def check_status_change(current: ReportStatus, wanted: ReportStatus) -> None:
    """Raise ConflictError unless staff may move a report from ``current`` to ``wanted``."""
    if wanted not in ALLOWED_CHANGES[current]:
        allowed = ", ".join(sorted(s.value for s in ALLOWED_CHANGES[current]))
        raise ConflictError(
            f"a {current.value} report cannot become {wanted.value} (allowed: {allowed})"
        )
