"""Parse a delivered file in its source's real format and check each row.

Returns typed rows for the good lines and a quarantine entry (line, rule, raw line) for each bad
one, so that a file is never half-loaded silently: delivered = loaded + quarantined.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from helhed.pseudonymise import is_valid_cpr, normalise_cpr
from helhed.sources import Entity


class FileRejected(Exception):
    """The whole file is unusable (wrong encoding, wrong header); nothing of it is loaded."""

    def __init__(self, path: Path, rule: str, detail: str) -> None:
        super().__init__(f"{path}: {rule}: {detail}")
        self.path, self.rule, self.detail = path, rule, detail


@dataclass
class ParsedRow:
    line_no: int
    raw_values: list[str]          # as delivered, for landing (contains raw CPR)
    values: list[object]           # typed; CPR normalised but not yet pseudonymised


@dataclass
class BadRow:
    line_no: int
    rule: str
    detail: str
    raw_line: str


def _parse_decimal(text: str) -> Decimal:
    """Danish decimal comma with optional thousands dots: ``1.234,50`` -> 1234.50."""
    return Decimal(text.replace(".", "").replace(",", ".")) if "," in text else Decimal(text)


def parse_value(kind: str, text: str, date_format: str) -> object:
    if kind == "date":
        return datetime.strptime(text, date_format).date()
    if kind == "decimal":
        return _parse_decimal(text)
    if kind == "integer":
        return int(text)
    if kind == "cpr":
        if not is_valid_cpr(text):
            raise ValueError("not a valid CPR number")
        return normalise_cpr(text)
    return text


def read_text(path: Path, source: Entity) -> str:
    try:
        return path.read_bytes().decode(source.encoding)
    except UnicodeDecodeError as exc:
        raise FileRejected(path, "wrong_encoding", f"not valid {source.encoding} at byte {exc.start}") from exc


def parse_file(path: Path, source: Entity) -> Iterator[ParsedRow | BadRow]:
    """Yield a ParsedRow or a BadRow for every data line of ``path``."""
    text = read_text(path, source)
    lines = text.splitlines()
    if not lines:
        raise FileRejected(path, "empty_file", "the file has no header line")
    header = next(csv.reader([lines[0]], delimiter=source.delimiter))
    if header != source.headers:
        missing = [h for h in source.headers if h not in header]
        raise FileRejected(path, "wrong_header", f"missing columns {missing}; got {header}")
    width = len(source.columns)
    reader = csv.reader(io.StringIO(text), delimiter=source.delimiter)
    next(reader)
    for fields in reader:
        line_no = reader.line_num
        raw_line = source.delimiter.join(fields)
        if not any(f.strip() for f in fields):
            continue
        if len(fields) != width:
            yield BadRow(line_no, "wrong_field_count", f"expected {width} fields, got {len(fields)}", raw_line)
            continue
        values: list[object] = []
        bad: BadRow | None = None
        for col, field in zip(source.columns, fields):
            text_value = field.strip()
            if not text_value:
                if col.required:
                    bad = BadRow(line_no, "missing_value", f"{col.header} is empty", raw_line)
                    break
                values.append(None)
                continue
            try:
                values.append(parse_value(col.type, text_value, source.date_format))
            except (ValueError, InvalidOperation) as exc:
                if col.type == "cpr":  # never echo a CPR-like value outside the raw line
                    bad = BadRow(line_no, "invalid_cpr", f"{col.header} is not a valid CPR number", raw_line)
                else:
                    bad = BadRow(line_no, f"invalid_{col.type}", f"{col.header}={text_value!r}: {exc}", raw_line)
                break
        if bad:
            yield bad
        else:
            yield ParsedRow(line_no, fields, values)


def check_row_rules(source: Entity, row: ParsedRow) -> BadRow | None:
    """Cross-field rules that hold for every source: an end date is not before its start."""
    named = dict(zip((c.name for c in source.columns), row.values))
    for start, end in (("start_date", "end_date"), ("moved_in", "moved_out")):
        s, e = named.get(start), named.get(end)
        if isinstance(s, date) and isinstance(e, date) and e < s:
            return BadRow(row.line_no, "end_before_start", f"{end}={e} is before {start}={s}",
                          source.delimiter.join(row.raw_values))
    return None
