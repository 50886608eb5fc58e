"""The delivery report's CSV: spreadsheet formulas in member data stay text."""

from __future__ import annotations

import csv
import io

from ivr.campaigns.report import COLUMNS, csv_header, csv_row
from ivr.campaigns.service import ReportRow


def _row(name: str) -> ReportRow:
    return ReportRow(member_id=1, name=name, phone="+441632960100", channel="voice",
                     group="north", state="done", outcome="confirmed", attempts=1,
                     last_cause="pressed 1", last_attempt_at=None, hangup_cause=None)  # fmt: skip


def test_a_formula_in_a_name_is_defused() -> None:
    text = csv_header() + csv_row(_row('=HYPERLINK("http://evil","click")')) + csv_row(_row("Ann"))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == COLUMNS
    assert rows[0]["name"].startswith("'=")
    assert rows[1]["name"] == "Ann"


def test_phone_numbers_starting_with_plus_are_kept_readable() -> None:
    """A leading + would be read as a formula too; E.164 numbers keep their + but are
    quoted so spreadsheets show them as text."""
    rows = list(csv.DictReader(io.StringIO(csv_header() + csv_row(_row("Bob")))))
    assert rows[0]["phone"].lstrip("'") == "+441632960100"
