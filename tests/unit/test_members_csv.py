"""The members CSV format, pure: spreadsheet quirks are read, every problem is found with its
line before anything is written, and what we write reads back the same."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import time
from pathlib import Path

import pytest

from ivr.errors import CsvImportError
from ivr.members.csv_format import (
    COLUMNS,
    MemberRecord,
    RowProblem,
    parse_member_csv,
    record_cells,
    rejects_header,
    rejects_rows,
    write_csv,
)
from ivr.members.fields import Channel, QuietHours

FIXTURES = Path(__file__).parent.parent / "fixtures" / "csv"
GROUPS = {"Oak Lane NW", "High St Pubwatch"}


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def problems_of(name: str) -> list[tuple[int, str]]:
    with pytest.raises(CsvImportError) as caught:
        parse_member_csv(fixture(name))
    return caught.value.problems


def test_a_full_file_becomes_canonical_records() -> None:
    """E.164 numbers, lower-case channel and language, parsed quiet hours, split groups."""
    result = parse_member_csv(fixture("members_good.csv"), known_groups=GROUPS)
    assert result.problems == []
    assert result.records == [
        MemberRecord(
            2, "Smith, Ann", "+441632960001", email="ann@example.org",
            quiet_hours=QuietHours(time(21), time(8)),
        ),
        MemberRecord(3, "Siân Jones", "+441632960002", language="cy", groups=("Oak Lane NW",)),
        MemberRecord(
            4, "Rajesh Patel", "+441632960003", fax="+441632960103", email="raj@example.org",
            channel=Channel.FAX, groups=("Oak Lane NW", "High St Pubwatch"),
        ),
        MemberRecord(5, 'O\'Brien "Paddy"', "+447700900004"),
        MemberRecord(
            6, "Corner Shop Ltd", "+442079460005", email="shop@example.co.uk",
            quiet_hours=QuietHours(time(21), time(8)), groups=("High St Pubwatch",),
        ),
    ]  # fmt: skip


def test_excel_semicolon_export_with_bom_crlf_and_trailing_rows_reads_cleanly() -> None:
    """BOM, CRLF, ``;`` chosen from the header, quoted delimiters, ``;;;`` rows ignored."""
    result = parse_member_csv(fixture("members_excel_semicolon.csv"))
    assert result.problems == []
    assert [(r.line, r.name, r.phone) for r in result.records] == [
        (2, "Smith; Ann", "+441632960001"),
        (3, "Siân Jones", "+441632960002"),
        (4, "Patel, Rajesh", "+441632960003"),
    ]
    assert result.records[0].quiet_hours == QuietHours(time(21), time(8))


@pytest.mark.parametrize(
    ("name", "first_line"),
    [
        ("members_sep_hint.csv", 3),  # Excel's sep=; line comes first
        ("members_tab_delimited.csv", 2),
        ("members_cr_only.csv", 2),
    ],
)
def test_other_delimiters_and_line_ends_are_read(name: str, first_line: int) -> None:
    result = parse_member_csv(fixture(name), known_groups=GROUPS)
    assert result.problems == []
    assert result.records[0].line == first_line
    assert result.records[0].phone == "+441632960001"


def test_numbers_mangled_into_scientific_notation_are_refused_on_their_lines() -> None:
    result = parse_member_csv(fixture("members_scientific.csv"))
    assert [r.line for r in result.records] == [3]
    assert [p.line for p in result.problems] == [2, 4]
    assert all("scientific notation" in p.reason for p in result.problems)
    assert "format the column as Text" in result.problems[0].reason


def test_text_that_is_not_utf8_is_refused_naming_line_and_byte() -> None:
    """cp1252 from Excel's plain "CSV": the whole file is refused, pointing at the é."""
    [(line, reason)] = problems_of("members_cp1252.csv")
    assert line == 3
    assert "byte 0xe9 at offset 37" in reason
    assert "CSV UTF-8" in reason


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("members_unknown_column.csv", "unknown column 'mobile'"),
        ("members_missing_phone.csv", "required column 'phone' is missing"),
        ("members_duplicate_column.csv", "column 'phone' appears twice"),
        ("members_empty.csv", "the file is empty"),
    ],
)
def test_header_problems_refuse_the_whole_file(name: str, reason: str) -> None:
    problems = problems_of(name)
    assert len(problems) == 1
    assert problems[0][0] == 1
    assert reason in problems[0][1]


def test_every_row_problem_is_reported_with_its_line_in_one_pass() -> None:
    """All problems at once, in file order; a quoted line break does not upset line numbers."""
    result = parse_member_csv(fixture("members_mixed_problems.csv"), known_groups=GROUPS)
    assert [(r.line, r.name) for r in result.records] == [
        (2, "Ann Smith"),
        (5, "Cat Green (Flat 2)"),
        (15, "Kim Teal"),
    ]
    assert [(p.line, p.reason.split(":")[0]) for p in result.problems] == [
        (3, "name"),
        (4, "channel"),
        (7, "phone"),
        (8, "phone"),
        (9, "phone +441632960001 already on line 2"),
        (10, "9 fields for 8 columns"),
        (11, "quiet_hours"),
        (12, "channel"),
        (13, "email"),
        (14, "groups"),
    ]
    assert "fax, but no fax number" in result.problems[7].reason
    assert "no group called 'Nowhere NW' (create it first)" in result.problems[9].reason


def test_a_file_of_empty_cells_has_no_header() -> None:
    with pytest.raises(CsvImportError, match="no header row"):
        parse_member_csv(b",,,\r\n,,,\r\n")


def test_several_problems_in_one_row_are_all_named() -> None:
    data = b"name,phone,channel\n,12,sms\n"
    [problem] = parse_member_csv(data).problems
    assert problem.reason == (
        "name: missing; phone: too short; channel: unknown channel 'sms' (expected voice, fax)"
    )


def test_group_names_are_not_checked_unless_known_groups_are_given() -> None:
    data = b"name,phone,groups\nAnn,01632 960001, Oak Lane NW ; ;Elsewhere;Oak Lane NW\n"
    [record] = parse_member_csv(data).records
    assert record.groups == ("Oak Lane NW", "Elsewhere")


@pytest.mark.parametrize(
    ("data", "line", "reason"),
    [
        (b"name,phone\nAnn\x00,01632 960001\n", 2, "NUL byte at offset 14"),
        ("name\tphone\n".encode("utf-16"), 1, "UTF-16"),
    ],
)
def test_binary_or_utf16_files_are_refused_whole(data: bytes, line: int, reason: str) -> None:
    """Excel's "Unicode Text" is UTF-16; a NUL byte means the file is not text at all."""
    with pytest.raises(CsvImportError) as caught:
        parse_member_csv(data)
    [(at, why)] = caught.value.problems
    assert at == line
    assert reason in why


def test_short_rows_and_empty_unnamed_columns_are_accepted() -> None:
    """Missing trailing cells are empty; a nameless column with no values is ignored."""
    data = b"name,phone,email,\nAnn,01632 960001\nBob,01632 960002,,\nCy,01632 960003,,x\n"
    result = parse_member_csv(data)
    assert [r.name for r in result.records] == ["Ann", "Bob"]
    assert result.problems[0].line == 4
    assert "no name" in result.problems[0].reason


def test_written_records_read_back_identical_and_formulas_are_defused() -> None:
    """Text that Excel would run as a formula is written with a leading ' and read back bare."""
    records = [
        MemberRecord(2, "=HYPERLINK(\"http://x\")", "+441632960001", email="-a@example.org",
                     groups=("@Oak Lane NW",)),
        MemberRecord(3, "Siân, Jones", "+441632960002", fax="+441632960102", channel=Channel.FAX,
                     language="cy", quiet_hours=QuietHours(time(21, 30), time(7)),
                     groups=("Oak Lane NW", "High St Pubwatch")),
    ]  # fmt: skip
    out = io.StringIO()
    write_csv(out, COLUMNS, [record_cells(r) for r in records])
    text = out.getvalue()
    assert "'=HYPERLINK" in text
    assert text.splitlines()[0] == ",".join(COLUMNS)
    assert parse_member_csv(text.encode()).records == records


def test_rejects_keep_the_original_cells_and_say_why() -> None:
    """The rejects file has the row as it was, plus line and reason, and can be fixed and
    imported as is (its line and reason columns are ignored)."""
    result = parse_member_csv(fixture("members_mixed_problems.csv"), known_groups=GROUPS)
    out = io.StringIO()
    write_csv(out, rejects_header(result.header), rejects_rows(result.header, result.problems))
    again = parse_member_csv(out.getvalue().encode(), known_groups=GROUPS)
    assert again.header == (*COLUMNS, "line", "reason")

    # The same rows fail for the same reasons, except two: the duplicate of line 2 is alone
    # in this file, and the shifted row's spill-over is quoted in its reason instead.
    def kept(problems: list[RowProblem], line_of: Callable[[RowProblem], str]) -> list[str]:
        return [p.reason for p in problems if "already on" not in p.reason and line_of(p) != "10"]

    assert kept(again.problems, lambda p: p.fields["line"]) == kept(
        result.problems, lambda p: str(p.line)
    )
    shifted = next(p for p in result.problems if p.line == 10)
    assert "(fields: Smith |  John | 01632 960009 | " in shifted.reason
    first = rejects_rows(result.header, result.problems)[0]
    assert first == {**{c: "" for c in COLUMNS}, "phone": "01632 960002", "line": "3",
                     "reason": "name: missing"}  # fmt: skip
