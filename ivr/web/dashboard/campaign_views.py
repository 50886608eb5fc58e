"""What the campaign pages show, built from the campaign service's results. Pure.

Coordinators are volunteers, not telephony people: every outcome and state has a plain
English label, outcomes are grouped (reached, not reached, still to do) in a fixed order so
the bar and the table read the same way every time, and each bar segment's colour is
backed by a count in text (colour is never the only signal).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo

from ivr.campaigns.service import CampaignSummary, ReportRow
from ivr.store.models.auth import Role

#: (key, label, group) in display order; keys are outcomes, or target states while pending.
OUTCOMES: tuple[tuple[str, str, str], ...] = (
    ("confirmed", "Confirmed (pressed 1)", "reached"),
    ("heard_no_confirm", "Heard, did not press 1", "reached"),
    ("voicemail", "Left on an answering machine", "reached"),
    ("fax_sent", "Fax sent", "reached"),
    ("fax_partial", "Fax partly sent", "not_reached"),
    ("opted_out", "Asked to stop (pressed 9)", "stopped"),
    ("busy", "Line busy", "not_reached"),
    ("no_answer", "No answer", "not_reached"),
    ("failed", "Call failed", "not_reached"),
    ("fax_failed", "Fax failed", "not_reached"),
    ("invalid_number", "Number not valid", "not_reached"),
    ("outside_window", "Not reached in time", "not_reached"),
    ("cancelled", "Cancelled", "stopped"),
    ("dialling", "Being called now", "to_do"),
    ("pending", "Waiting to be called", "to_do"),
)
_LABELS = {key: label for key, label, _ in OUTCOMES}
_ORDER = {key: i for i, (key, _, _) in enumerate(OUTCOMES)}
#: What still has to happen: everything else is settled.
TO_DO = frozenset({"pending", "dialling"})

STATE_LABELS = {
    "draft": "Not started",
    "running": "Sending",
    "paused": "Paused",
    "completed": "Finished",
    "cancelled": "Cancelled",
}
#: What a coordinator may do in each state, in button order.
_ACTIONS = {
    "draft": ("start", "cancel"),
    "running": ("pause", "cancel"),
    "paused": ("resume", "cancel"),
}
ACTION_LABELS = {
    "start": "Start sending",
    "pause": "Pause campaign",
    "resume": "Resume campaign",
    "cancel": "Cancel campaign…",
}
#: Messages shown after an action (the redirect names one by key; no free text is reflected).
DONE_MESSAGES = {
    "start": "The campaign has started.",
    "pause": "The campaign is paused. No new calls will be made until you resume it.",
    "resume": "The campaign is sending again.",
    "cancel": "The campaign is cancelled. Members not yet called will not be called.",
}


def outcome_label(key: str | None) -> str:
    if key is None:
        return "Not settled yet"
    return _LABELS.get(key, key.replace("_", " ").capitalize())


@dataclass(frozen=True)
class Segment:
    key: str
    label: str
    count: int
    #: share of all targets, 0-100, for the bar (the text shows the count)
    percent: float
    #: where the segment starts along the bar, 0-100
    offset: float


@dataclass(frozen=True)
class CampaignView:
    id: int
    title: str
    state: str
    state_label: str
    priority: str
    groups: list[str]
    total: int
    settled: int
    segments: list[Segment]
    actions: list[tuple[str, str]]
    created_at: str
    started_at: str | None
    finished_at: str | None
    #: True once nothing can change any more: the page stops refreshing itself
    final: bool

    @property
    def settled_percent(self) -> int:
        return round(100 * self.settled / self.total) if self.total else 0


def local_time(t: datetime | None, zone: tzinfo) -> str | None:
    """``3 Mar 2025, 14:05 GMT``: the scheme's local time, as coordinators read it."""
    if t is None:
        return None
    local = t.astimezone(zone)
    return f"{local.day} {local:%b %Y, %H:%M} {local.tzname() or ''}".rstrip()


def segments(counts: Mapping[str, int]) -> list[Segment]:
    """The bar: one segment per non-zero count, in the fixed display order."""
    total = sum(counts.values())
    if total == 0:
        return []
    found: list[Segment] = []
    offset = 0.0
    for key in sorted(counts, key=lambda k: (_ORDER.get(k, len(_ORDER)), k)):
        count = counts[key]
        if count <= 0:
            continue
        percent = 100.0 * count / total
        found.append(Segment(key, outcome_label(key), count, round(percent, 2), round(offset, 2)))
        offset += percent
    return found


def actions_for(state: str, role: Role) -> list[tuple[str, str]]:
    """(action, label) a person may take: coordinators and admins; staff only watch."""
    if role not in (Role.COORDINATOR, Role.ADMIN):
        return []
    return [(a, ACTION_LABELS[a]) for a in _ACTIONS.get(state, ())]


def campaign_view(summary: CampaignSummary, role: Role, zone: tzinfo) -> CampaignView:
    settled = sum(n for k, n in summary.counts.items() if k not in TO_DO)
    return CampaignView(
        id=summary.id,
        title=summary.bulletin_title or f"Bulletin {summary.bulletin_id}",
        state=summary.state,
        state_label=STATE_LABELS.get(summary.state, summary.state),
        priority=summary.priority,
        groups=summary.groups,
        total=summary.total,
        settled=settled,
        segments=segments(summary.counts),
        actions=actions_for(summary.state, role),
        created_at=local_time(summary.created_at, zone) or "",
        started_at=local_time(summary.started_at, zone),
        finished_at=local_time(summary.finished_at, zone),
        final=summary.state in ("completed", "cancelled"),
    )


@dataclass(frozen=True)
class MemberRow:
    member_id: int
    name: str
    phone: str
    channel: str
    group: str
    outcome: str
    outcome_key: str
    attempts: int
    detail: str
    last_attempt_at: str


def member_row(row: ReportRow, zone: tzinfo) -> MemberRow:
    key = row.outcome or row.state
    detail = row.last_cause or ""
    if row.hangup_cause is not None and f"cause {row.hangup_cause}" not in detail:
        detail = f"{detail} (cause {row.hangup_cause})".strip()
    return MemberRow(
        member_id=row.member_id,
        name=row.name,
        phone=row.phone,
        channel=row.channel,
        group=row.group or "",
        outcome=outcome_label(key),
        outcome_key=key,
        attempts=row.attempts,
        detail=detail,
        last_attempt_at=local_time(row.last_attempt_at, zone) or "",
    )


@dataclass(frozen=True)
class RowsPage:
    rows: list[MemberRow]
    #: the member id to continue after, when there are more rows
    next_after: int | None


def rows_page(rows: list[MemberRow], page_size: int) -> RowsPage:
    """Given up to ``page_size + 1`` rows: the page, and whether another follows."""
    if len(rows) > page_size:
        return RowsPage(rows[:page_size], rows[page_size - 1].member_id)
    return RowsPage(rows, None)


def defuse_cell(value: object) -> object:
    """A CSV cell starting with = + - @ is run as a formula by spreadsheets: defuse it.

    Member names come from spreadsheets a coordinator imported, so one could be crafted.
    Numbers (E.164 ``+44...``) are exempt: a leading + followed by digits is not a formula.
    """
    if not isinstance(value, str) or value[:1] not in ("=", "+", "-", "@"):
        return value
    if value[:1] == "+" and value[1:].isdigit():
        return value
    return "'" + value
