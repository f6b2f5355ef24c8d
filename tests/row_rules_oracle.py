"""The row rules of helhed.parsing, row by row in Python: the oracle the set-based SQL is tested against.

The loader checks rows in SQL (:mod:`helhed.rowsql`). This module keeps the straightforward
per-line reading of the same rules (what the loader did before it went set-based) so that
``tests/test_loading.py`` can compare the two on edge cases line by line. It is test code:
nothing in ``src/`` uses it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import InvalidOperation
from pathlib import Path

from helhed.parsing import (
    _BOM,
    EntityRules,
    FileRejected,
    _looks_like_utf8,
    code_detail,
    entity_rules,
    header_problem,
    order_detail,
    parse_value,
    value_detail,
)
from helhed.sources import Entity


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



def read_text(path: Path, source: Entity) -> str:
    raw = path.read_bytes()
    encoding = source.encoding.lower().replace("_", "-")
    if encoding in ("utf-8-sig", "utf8-sig"):
        if raw and not raw.startswith(_BOM):
            raise FileRejected(path, "wrong_encoding", "expected UTF-8 with a byte-order mark, the file has none")
    elif encoding not in ("utf-8", "utf8") and _looks_like_utf8(raw):
        raise FileRejected(path, "wrong_encoding", f"the file is UTF-8, expected {source.encoding}")
    try:
        text = raw.decode(source.encoding)
    except UnicodeDecodeError as exc:
        raise FileRejected(path, "wrong_encoding", f"not valid {source.encoding} at byte {exc.start}") from exc
    if text and not text.endswith(("\n", "\r")):
        raise FileRejected(path, "truncated_file", "the last line has no line break: the file was cut off")
    return text


def parse_file(path: Path, source: Entity) -> Iterator[ParsedRow | BadRow]:
    """Yield a ParsedRow or a BadRow for every data line of ``path``.

    Raises :class:`FileRejected` before the first row when the file as a whole is unusable.
    """
    text = read_text(path, source)
    lines = text.splitlines()
    if not lines:
        raise FileRejected(path, "empty_file", "the file has no header line")
    problem = header_problem(lines[0], source)
    if problem:
        raise FileRejected(path, *problem)
    return _rows(text, source)


def _rows(text: str, source: Entity) -> Iterator[ParsedRow | BadRow]:
    width = len(source.columns)
    reader = csv.reader(io.StringIO(text), delimiter=source.delimiter)
    next(reader)
    kinds = [(c.type, c.required, c.header) for c in source.columns]
    date_format = source.date_format
    for fields in reader:
        line_no = reader.line_num
        if not any(f.strip() for f in fields):
            continue
        if len(fields) != width:
            yield BadRow(line_no, "wrong_field_count", f"expected {width} fields, got {len(fields)}",
                         source.delimiter.join(fields))
            continue
        values: list[object] = []
        bad: BadRow | None = None
        for (kind, required, header), field_text in zip(kinds, fields):
            text_value = field_text.strip()
            if not text_value:
                if required:
                    bad = BadRow(line_no, "missing_value", f"{header} is empty", source.delimiter.join(fields))
                    break
                values.append(None)
                continue
            if kind == "text":
                values.append(text_value)
                continue
            try:
                values.append(parse_value(kind, text_value, date_format))
            except (ValueError, InvalidOperation):
                bad = BadRow(line_no, *value_detail(kind, header, text_value, date_format), source.delimiter.join(fields))
                break
        if bad:
            yield bad
        else:
            yield ParsedRow(line_no, fields, values)


def check_row_rules(source: Entity, row: ParsedRow, rules: EntityRules | None = None) -> BadRow | None:
    """Cross-field and code-list rules: an end date is not before its start; codes are known."""
    rules = rules if rules is not None else entity_rules(source)
    named = dict(zip((c.name for c in source.columns), row.values))
    for start, end in rules.date_order:
        s, e = named.get(start), named.get(end)
        if isinstance(s, date) and isinstance(e, date) and e < s:
            return BadRow(row.line_no, "end_before_start", order_detail(start, end, s, e),
                          source.delimiter.join(row.raw_values))
    for column, code_list in rules.codes:
        value = named.get(column)
        if value is not None and not code_list.allows(value):
            header = next(c.header for c in source.columns if c.name == column)
            return BadRow(row.line_no, "unknown_code", code_detail(header, value, code_list),
                          source.delimiter.join(row.raw_values))
    return None
