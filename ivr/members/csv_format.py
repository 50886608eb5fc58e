"""The members CSV format, read and written without I/O: bytes in, records and problems out.

Columns (header row required; names are case-insensitive, spaces and hyphens read as ``_``)::

    name, phone, fax, email, channel, language, quiet_hours, groups

``name`` and ``phone`` are required; the others may be left out of the header. ``groups`` holds
extra group names separated by ``;`` (the group named on the command line is always added).
Columns called ``line`` and ``reason`` are ignored, so a corrected rejects file imports as is.

Spreadsheet exports are read as they come: a UTF-8 BOM, CRLF or CR line ends, ``,`` ``;`` or
tab delimiters (chosen from the header line, or Excel's ``sep=;`` first line), quoted fields
with delimiters or line breaks inside, empty rows anywhere (Excel's trailing ``,,,,``), short
rows (missing trailing fields are empty), columns with an empty name and no values. Refused,
with the line and a reason: text that is not UTF-8 (the byte offset is given; Excel's
"CSV UTF-8" fixes it), an unknown or repeated column, numbers a spreadsheet turned into
scientific notation (``4.41632E+11``), a row with more fields than the header (an unquoted
delimiter), and the same phone number on two rows (the first one is kept).

Text cells that a spreadsheet would run as a formula (starting ``= + - @``) are written with a
leading ``'`` and read back without it, so an export is safe to open and still round-trips.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TextIO, TypeVar

from ivr.errors import CsvImportError, InputError
from ivr.members.fields import (
    DEFAULT_REGION,
    Channel,
    QuietHours,
    normalise_phone,
    parse_channel,
    parse_email,
    parse_language,
    parse_quiet_hours,
)

COLUMNS = ("name", "phone", "fax", "email", "channel", "language", "quiet_hours", "groups")
REQUIRED = frozenset({"name", "phone"})
IGNORED = frozenset({"line", "reason"})
GROUP_SEPARATOR = ";"
MAX_NAME = 200

_DELIMITERS = (",", ";", "\t")
_SEP_LINE = re.compile(r"sep=(.)")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NEWLINE = re.compile(rb"\r\n|\r|\n")

T = TypeVar("T")


@dataclass(frozen=True)
class MemberRecord:
    """One valid row, in canonical form; ``line`` is where it starts in the file."""

    line: int
    name: str
    phone: str
    fax: str | None = None
    email: str | None = None
    channel: Channel = Channel.VOICE
    language: str = "en"
    quiet_hours: QuietHours | None = None
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class RowProblem:
    """A refused row: its line, why, and its raw fields by column (for the rejects file)."""

    line: int
    reason: str
    fields: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Table:
    """The file split into cells: normalised header names and (line, cells) rows."""

    header: tuple[str, ...]
    header_line: int
    rows: tuple[tuple[int, tuple[str, ...]], ...]


@dataclass(frozen=True)
class Validation:
    header: tuple[str, ...]
    records: list[MemberRecord]
    problems: list[RowProblem]


def decode_csv(data: bytes) -> str:
    """Strict UTF-8 (a BOM is dropped); on failure, CsvImportError naming line and byte."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        reason = "UTF-16 text (Excel's 'Unicode Text'); save the file as 'CSV UTF-8'"
        raise CsvImportError([(1, reason)])
    if (nul := data.find(b"\x00")) >= 0:
        # csv accepts NUL since 3.11, but in a member file it only ever means binary junk.
        line = len(_NEWLINE.findall(data, 0, nul)) + 1
        raise CsvImportError([(line, f"a NUL byte at offset {nul}: not a text file?")])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = len(_NEWLINE.findall(data, 0, e.start)) + 1
        raise CsvImportError(
            [
                (
                    line,
                    f"not UTF-8 text (byte {data[e.start]:#04x} at offset {e.start}); "
                    "save the file as 'CSV UTF-8' and try again",
                )
            ]
        ) from None


def _header_name(cell: str) -> str:
    return re.sub(r"[\s\-]+", "_", cell.strip().lower())


def _pick_delimiter(header_line: str) -> str:
    """The delimiter that splits the header into the most known column names."""

    def known(delimiter: str) -> int:
        names = {_header_name(c) for c in header_line.split(delimiter)}
        return len(names & (set(COLUMNS) | IGNORED))

    return max(_DELIMITERS, key=known)


def read_table(text: str) -> Table:
    """Split CSV text into a header and rows; CsvImportError if it is not a table at all."""
    # Only CR and LF end lines, as for the csv module (str.splitlines also splits on \f, U+2028...).
    lines = io.StringIO(text, newline="").readlines()
    skip = 0
    delimiter = None
    if lines and (m := _SEP_LINE.fullmatch(lines[0].strip())):
        delimiter, skip = m.group(1), 1
    first = next((i for i in range(skip, len(lines)) if lines[i].strip()), None)
    if first is None:
        raise CsvImportError([(1, "the file is empty; expected a header row")])
    delimiter = delimiter or _pick_delimiter(lines[first])
    reader = csv.reader(io.StringIO("".join(lines[first:]), newline=""), delimiter=delimiter)
    rows: list[tuple[int, tuple[str, ...]]] = []
    try:
        while True:
            line = first + reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                break
            if any(c.strip() for c in cells):
                rows.append((line, tuple(cells)))
    except csv.Error as e:
        raise CsvImportError([(first + reader.line_num, f"unreadable CSV: {e}")]) from None
    if not rows:
        raise CsvImportError([(first + 1, "no header row: the file holds only empty cells")])
    header_line, header = rows[0]
    return Table(tuple(_header_name(c) for c in header), header_line, tuple(rows[1:]))


def check_header(table: Table) -> None:
    """Refuse unknown, repeated or missing columns (whole-file problems: nothing imports)."""
    problems = []
    known = set(COLUMNS) | IGNORED
    seen: set[str] = set()
    for name in table.header:
        if name in seen and name:
            problems.append(f"column {name!r} appears twice")
        elif name and name not in known:
            problems.append(f"unknown column {name!r} (expected: {', '.join(COLUMNS)})")
        seen.add(name)
    for name in sorted(REQUIRED - seen):
        problems.append(f"required column {name!r} is missing")
    if problems:
        raise CsvImportError([(table.header_line, p) for p in problems])


def _unescape(text: str) -> str:
    if text.startswith("'") and text[1:].startswith(_FORMULA_START):
        return text[1:]
    return text


def _split_groups(cell: str) -> tuple[str, ...]:
    return tuple(
        dict.fromkeys(g.strip() for g in _unescape(cell).split(GROUP_SEPARATOR) if g.strip())
    )


def group_names(table: Table) -> set[str]:
    """Every group named in the ``groups`` column, to look up before validating."""
    if "groups" not in table.header:
        return set()
    at = table.header.index("groups")
    return {g for _, cells in table.rows if len(cells) > at for g in _split_groups(cells[at])}


def _record(
    line: int, cells: Mapping[str, str], region: str, known_groups: Collection[str] | None
) -> MemberRecord:
    """Build one record or raise InputError listing every problem in the row."""
    reasons: list[str] = []

    def check(label: str, parse: Callable[[], T], default: T) -> T:
        # Collect every problem in the row, so one pass over the file finds them all.
        try:
            return parse()
        except InputError as e:
            reasons.append(f"{label}: {getattr(e, 'reason', None) or e}")
            return default

    name = " ".join(_unescape(cells.get("name", "")).split())
    if not name:
        reasons.append("name: missing")
    elif len(name) > MAX_NAME:
        reasons.append(f"name: longer than {MAX_NAME} characters")
    phone = check("phone", lambda: normalise_phone(cells.get("phone", ""), region), "")
    fax_text = cells.get("fax", "").strip()
    fax = check("fax", lambda: normalise_phone(fax_text, region), None) if fax_text else None
    channel = check("channel", lambda: parse_channel(cells.get("channel", "")), Channel.VOICE)
    if channel is Channel.FAX and not fax_text:
        reasons.append("channel: fax, but no fax number given")
    email = check("email", lambda: parse_email(_unescape(cells.get("email", ""))), None)
    language = check("language", lambda: parse_language(cells.get("language", "")), "en")
    quiet = check("quiet_hours", lambda: parse_quiet_hours(cells.get("quiet_hours", "")), None)
    groups = _split_groups(cells.get("groups", ""))
    unknown = [g for g in groups if known_groups is not None and g not in known_groups]
    if unknown:
        # Not created on the fly: a typo would make a group that no bulletin is ever sent to.
        names = ", ".join(repr(g) for g in unknown)
        reasons.append(f"groups: no group called {names} (create it first)")
    if reasons:
        raise InputError("; ".join(reasons))
    return MemberRecord(
        line=line,
        name=name,
        phone=phone,
        fax=fax,
        email=email,
        channel=channel,
        language=language,
        quiet_hours=quiet,
        groups=groups,
    )


def validate_rows(
    table: Table,
    *,
    default_region: str = DEFAULT_REGION,
    known_groups: Collection[str] | None = None,
) -> Validation:
    """Every row checked, none written: (valid records, problems) in file order.

    ``known_groups``: the groups that exist; a row naming another is a problem. None: unchecked.
    """
    width = len(table.header)
    records: list[MemberRecord] = []
    problems: list[RowProblem] = []
    first_line_of: dict[str, int] = {}
    for line, cells in table.rows:
        named = {h: c.strip() for h, c in zip(table.header, cells, strict=False) if h}
        if len(cells) > width:
            # Spreadsheets write every row as wide as the header, so this is a shifted row.
            reason = (
                f"{len(cells)} fields for {width} columns: a comma or semicolon inside "
                f"a field that is not quoted? (fields: {' | '.join(cells)})"
            )
            problems.append(RowProblem(line, reason, named))
            continue
        unnamed = [c for h, c in zip(table.header, cells, strict=False) if not h and c.strip()]
        if unnamed:
            spill = ", ".join(repr(c) for c in unnamed)
            problems.append(RowProblem(line, f"values under a column with no name: {spill}", named))
            continue
        try:
            record = _record(line, named, default_region, known_groups)
        except InputError as e:
            problems.append(RowProblem(line, str(e), named))
            continue
        if record.phone in first_line_of:
            reason = f"phone {record.phone} already on line {first_line_of[record.phone]}"
            problems.append(RowProblem(line, reason, named))
            continue
        first_line_of[record.phone] = line
        records.append(record)
    return Validation(table.header, records, problems)


def read_member_table(data: bytes) -> Table:
    """Decode, split and check the header; whole-file problems raise CsvImportError."""
    table = read_table(decode_csv(data))
    check_header(table)
    return table


def parse_member_csv(
    data: bytes,
    *,
    default_region: str = DEFAULT_REGION,
    known_groups: Collection[str] | None = None,
) -> Validation:
    """The whole pure pipeline: bytes to (records, row problems)."""
    table = read_member_table(data)
    return validate_rows(table, default_region=default_region, known_groups=known_groups)


def _escape(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_START) else text


def record_cells(record: MemberRecord) -> dict[str, str]:
    """A record as the export's cells, text cells escaped against formula injection."""
    return {
        "name": _escape(record.name),
        "phone": record.phone,
        "fax": record.fax or "",
        "email": _escape(record.email or ""),
        "channel": record.channel.value,
        "language": record.language,
        "quiet_hours": str(record.quiet_hours) if record.quiet_hours else "",
        "groups": _escape(GROUP_SEPARATOR.join(record.groups)),
    }


def write_csv(out: TextIO, header: Sequence[str], rows: Iterable[Mapping[str, str]]) -> None:
    """CSV with CRLF line ends (RFC 4180, what spreadsheets expect); missing cells are empty."""
    writer = csv.DictWriter(out, fieldnames=list(header), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)


def rejects_rows(header: Sequence[str], problems: Iterable[RowProblem]) -> list[dict[str, str]]:
    """Rows for the rejects file: the original cells plus ``line`` and ``reason``."""
    columns = [h for h in header if h and h not in IGNORED]
    return [
        {**{h: p.fields.get(h, "") for h in columns}, "line": str(p.line), "reason": p.reason}
        for p in problems
    ]


def rejects_header(header: Sequence[str]) -> list[str]:
    return [*(h for h in header if h and h not in IGNORED), "line", "reason"]
