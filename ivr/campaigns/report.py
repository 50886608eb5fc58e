"""The delivery report as CSV or JSON: pure formatting of rows from the service."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Any

from ivr.campaigns.service import CampaignSummary, ReportRow

COLUMNS = [
    "member_id", "name", "phone", "channel", "group", "outcome", "state", "attempts",
    "last_cause", "hangup_cause", "last_attempt_at",
]  # fmt: skip


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def row_dict(row: ReportRow) -> dict[str, Any]:
    return {k: _plain(v) for k, v in asdict(row).items()}


def summary_dict(summary: CampaignSummary) -> dict[str, Any]:
    data = {k: _plain(v) for k, v in asdict(summary).items()}
    data["total"] = summary.total
    return data


def csv_header() -> str:
    return _csv_line(COLUMNS)


def csv_row(row: ReportRow) -> str:
    d = row_dict(row)
    return _csv_line([_cell(d[c]) for c in COLUMNS])


def _cell(value: Any) -> Any:
    """Spreadsheets run a cell starting with = + - @ as a formula: a member named
    ``=HYPERLINK(...)`` must stay text when staff open the report (OWASP CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _csv_line(values: list[Any]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(values)
    return out.getvalue()


def counts_line(counts: Mapping[str, int]) -> str:
    """``confirmed 38, voicemail 4, busy 3`` (largest first)."""
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
