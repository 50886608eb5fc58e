"""What the dashboard pages show, built from service and store results (pure, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from ivr.campaigns.service import CampaignSummary, ReportRow
from ivr.reports.categories import Category
from ivr.reports.states import AnswerKind, CallState, ReportStatus
from ivr.store.models.auth import Role
from ivr.store.models.reports import Report, ReportAnswer, ReportEvent
from ivr.store.models.transcription import JobState, TranscriptionJobRow
from ivr.web.dashboard.campaign_views import (
    actions_for,
    campaign_view,
    defuse_cell,
    local_time,
    member_row,
    rows_page,
    segments,
)
from ivr.web.dashboard.report_views import list_page, report_view, transcript_view

LONDON = ZoneInfo("Europe/London")
T0 = datetime(2025, 7, 1, 13, 5, tzinfo=UTC)


def _summary(state: str = "running", **counts: int) -> CampaignSummary:
    return CampaignSummary(
        id=4, state=state, bulletin_id=9, bulletin_title="Garden sheds", priority="normal",
        groups=["Riverside"], created_at=T0, started_at=T0, finished_at=None, counts=counts,
    )  # fmt: skip


def test_the_bar_has_a_segment_per_outcome_in_a_fixed_order_that_adds_up() -> None:
    bar = segments({"pending": 2, "busy": 1, "confirmed": 5, "opted_out": 0, "mystery": 2})
    assert [s.key for s in bar] == ["confirmed", "busy", "pending", "mystery"]
    assert [s.percent for s in bar] == [50.0, 10.0, 20.0, 20.0]
    assert [s.offset for s in bar] == [0.0, 50.0, 60.0, 80.0]
    assert bar[-1].label == "Mystery"  # an outcome added later still shows, plainly named
    assert segments({}) == []


def test_progress_counts_settled_members_and_leaves_those_still_to_call() -> None:
    view = campaign_view(
        _summary(confirmed=3, voicemail=1, pending=4, dialling=2), Role.COORDINATOR, LONDON
    )
    assert (view.total, view.settled, view.settled_percent) == (10, 4, 40)
    assert view.state_label == "Sending" and not view.final
    assert view.created_at == "1 Jul 2025, 14:05 BST"


def test_a_finished_or_cancelled_campaign_stops_refreshing() -> None:
    assert campaign_view(_summary("completed"), Role.STAFF, LONDON).final
    assert campaign_view(_summary("cancelled"), Role.STAFF, LONDON).final
    assert campaign_view(_summary("paused"), Role.STAFF, LONDON).final is False


def test_only_coordinators_and_admins_get_buttons_and_only_those_the_state_allows() -> None:
    assert [a for a, _ in actions_for("running", Role.COORDINATOR)] == ["pause", "cancel"]
    assert [a for a, _ in actions_for("paused", Role.ADMIN)] == ["resume", "cancel"]
    assert [a for a, _ in actions_for("draft", Role.COORDINATOR)] == ["start", "cancel"]
    assert actions_for("completed", Role.COORDINATOR) == []
    assert actions_for("running", Role.STAFF) == []


def test_a_member_row_reads_in_plain_words_with_the_cause() -> None:
    row = ReportRow(
        member_id=3, name="Ann", phone="+441632960001", channel="voice", group="Riverside",
        state="done", outcome="busy", attempts=2, last_cause="busy", last_attempt_at=T0,
        hangup_cause=17,
    )  # fmt: skip
    shown = member_row(row, LONDON)
    assert (shown.outcome, shown.detail, shown.attempts) == ("Line busy", "busy (cause 17)", 2)
    waiting = member_row(
        ReportRow(3, "Bo", "+44", "voice", None, "pending", None, 0, None, None, None), LONDON
    )
    assert (waiting.outcome, waiting.detail, waiting.last_attempt_at) == (
        "Waiting to be called", "", "",
    )  # fmt: skip


def test_a_page_of_members_knows_where_the_next_one_starts() -> None:
    waiting = [
        ReportRow(i, "m", "p", "voice", None, "pending", None, 0, None, None, None)
        for i in (5, 8, 9)
    ]
    rows = [member_row(r, LONDON) for r in waiting]
    assert rows_page(rows, 2).next_after == 8 and len(rows_page(rows, 2).rows) == 2
    assert rows_page(rows, 3).next_after is None


def test_spreadsheet_formulas_are_defused_but_phone_numbers_are_not() -> None:
    assert defuse_cell('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert defuse_cell("@SUM(A1)") == "'@SUM(A1)"
    assert defuse_cell("+441632960001") == "+441632960001"
    assert defuse_cell("+1+1") == "'+1+1"
    assert defuse_cell(-3) == -3 and defuse_cell("Ann") == "Ann"


def test_times_are_shown_in_the_schemes_zone_with_its_name() -> None:
    assert local_time(datetime(2025, 1, 3, 9, 0, tzinfo=UTC), LONDON) == "3 Jan 2025, 09:00 GMT"
    assert local_time(None, LONDON) is None


def _job(text: str, confidence: float, *, state: JobState = JobState.DONE) -> TranscriptionJobRow:
    return TranscriptionJobRow(
        id=1, subject="s", audio_path="a.wav", state=state, created_at=T0, text=text,
        engine="whisper", confidence=confidence, no_speech=False, error="model gone",
    )  # fmt: skip


def test_a_transcript_shows_its_confidence_and_warns_when_it_is_low() -> None:
    sure = transcript_view(_job("a bike was taken", 0.91))
    assert (sure.state, sure.confidence, sure.low_confidence) == ("done", 91, False)
    unsure = transcript_view(_job("a bike was taken", 0.42))
    assert unsure.low_confidence
    failed = transcript_view(_job("", 0, state=JobState.FAILED))
    assert (failed.state, failed.error) == ("failed", "model gone")
    assert transcript_view(None).state == "missing"


def _report(**kw: object) -> Report:
    fields: dict[str, object] = dict(
        id=1, reference="4071229833", channel_id="c", caller_number=None,
        category=Category.THEFT, category_by="key", callback_requested=True,
        callback_number="+441632960123", callback_source="keyed", call_state=CallState.COMPLETED,
        status=ReportStatus.NEW, urgent=True, urgent_phrases=["knife"], no_speech=False,
        transcription_failed=False, created_at=T0, ended_at=T0, transcribed_at=T0, updated_at=T0,
    )  # fmt: skip
    fields.update(kw)
    return Report(**fields)


def test_a_report_page_has_the_callers_words_audio_links_and_the_allowed_statuses() -> None:
    answer = ReportAnswer(
        id=11, report_id=1, kind=AnswerKind.WHAT, take=1, superseded=False,
        audio_path="reports/4071229833/what-1.wav", audio_bytes=100, duration_s=4.2,
        ended_by="silence", recorded_at=T0,
    )  # fmt: skip
    event = ReportEvent(
        id=1, report_id=1, at=T0, actor="token:3 pat", action="status_changed",
        from_status="new", to_status="triaged", note="PCSO informed",
    )  # fmt: skip
    view = report_view(_report(), [(answer, _job("he had a knife", 0.8))], [event], None, LONDON)
    assert view.row.reference_display == "4071 229 833"
    assert view.row.caller == "Withheld" and view.row.urgent
    assert view.callback == "+441632960123 (keyed in by the caller)"
    assert view.description == "he had a knife"
    (shown,) = view.answers
    assert shown.audio_url == "/dashboard/reports/4071229833/answers/11/audio"
    assert shown.duration == "4 s"
    assert [s for s, _ in view.next_statuses] == ["triaged", "closed"]
    (audit,) = view.events
    assert (audit.action, audit.change, audit.note) == (
        "Status changed", "New → Triaged", "PCSO informed",
    )  # fmt: skip
    closed = report_view(_report(status=ReportStatus.CLOSED), [], [], None, LONDON)
    assert [s for s, _ in closed.next_statuses] == ["triaged"]


def test_purged_or_missing_audio_says_why_instead_of_offering_a_player() -> None:
    purged = ReportAnswer(
        id=12, report_id=1, kind=AnswerKind.WHERE, take=1, superseded=False,
        audio_path="x.wav", audio_bytes=1, ended_by="key", recorded_at=T0, audio_purged_at=T0,
    )  # fmt: skip
    lost = ReportAnswer(
        id=13, report_id=1, kind=AnswerKind.WHERE, take=2, superseded=False, audio_path=None,
        audio_bytes=0, ended_by="failed", recorded_at=T0, fetch_error="ARI 404",
    )  # fmt: skip
    view = report_view(_report(), [(purged, None), (lost, None)], [], None, LONDON)
    assert [a.audio_url for a in view.answers] == [None, None]
    assert "retention" in view.answers[0].no_audio
    assert "ARI 404" in view.answers[1].no_audio


def test_the_list_pages_forward_and_back() -> None:
    first = list_page(0, 50, 120)
    assert (first.first, first.last, first.newer_offset, first.older_offset) == (1, 50, None, 50)
    last = list_page(100, 20, 120)
    assert (last.first, last.last, last.newer_offset, last.older_offset) == (101, 120, 50, None)
    assert list_page(0, 0, 0).first == 0
