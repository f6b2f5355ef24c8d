"""Parse a delivered file in its source's real format and check each row.

Returns typed rows for the good lines and a quarantine entry (line, rule, raw line) for each bad
one, so that a file is never half-loaded silently: delivered = loaded + quarantined.

The loader runs these row rules as set-based SQL (:mod:`helhed.rowsql`) and uses this module for
the whole-file checks (:func:`scan_file`, streamed), the code lists and the wording of quarantine
details; ``tests/row_rules_oracle.py`` keeps the row-by-row reading the SQL is tested against.

Whole-file checks (before any row is read) reject a file that is not what its source exports:

- ``wrong_encoding``: the bytes are not the source's encoding. ``utf-8-sig`` means UTF-8 *with*
  a byte-order mark (what the source systems export); a single-byte encoding such as ``cp1252``
  rejects a file that is really UTF-8 (it would otherwise load as mojibake).
- ``truncated_file``: the last line has no line break. Every source ends every line with one,
  so a file cut off in transfer is recognised even when the cut falls on a field boundary.
- ``missing_columns`` / ``wrong_header``: the header is not exactly the declared one.
- ``empty_file``: not even a header line.

Row rules (a bad row is quarantined, the rest of the file loads): ``wrong_field_count``,
``missing_value``, ``invalid_cpr``, ``invalid_date``/``invalid_decimal``/``invalid_integer``,
``end_before_start`` and ``unknown_code`` (a value outside the column's code list, see
:func:`entity_rules`). ``duplicate_key`` is checked by the loader.

The code lists and the per-entity rules live in ``config/sources.yaml`` next to the formats:
a top-level ``code_lists:`` section (values, a dbt seed or reference file column, or a regular
expression), and per entity ``codes: {column: code_list}``, optional ``date_order`` pairs and the
gate thresholds (``max_quarantine_rate``, ``volume``) that :mod:`helhed.gates` reads.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from helhed.config import REPO_ROOT
from helhed.pseudonymise import cpr_birth_date
from helhed.sources import Entity

SOURCES_FILE = REPO_ROOT / "config" / "sources.yaml"

#: Date pairs checked for order when both columns exist in an entity (unless it sets ``date_order``).
DEFAULT_DATE_ORDER = (("start_date", "end_date"), ("moved_in", "moved_out"), ("period_from", "period_to"))

_BOM = b"\xef\xbb\xbf"


class FileRejected(Exception):
    """The whole file is unusable (wrong encoding, wrong header); nothing of it is loaded."""

    def __init__(self, path: Path, rule: str, detail: str) -> None:
        super().__init__(f"{path}: {rule}: {detail}")
        self.path, self.rule, self.detail = path, rule, detail


# --------------------------------------------------------------------------- code lists and rules


@dataclass(frozen=True)
class CodeList:
    """A named list of allowed codes: fixed values and/or a seed column, or a regular expression."""

    name: str
    values: frozenset[str] | None = None
    pattern: str | None = None
    origin: str = ""

    def allows(self, value: object) -> bool:
        text = str(value)
        if self.values is not None and text in self.values:
            return True
        if self.pattern is not None and re.fullmatch(self.pattern, text):
            return True
        return False

    def describe(self) -> str:
        if self.values is not None:
            return f"code list {self.name!r} ({len(self.values)} codes from {self.origin})"
        return f"code list {self.name!r} (pattern {self.pattern})"


@dataclass(frozen=True)
class EntityRules:
    """Per-entity rules and thresholds from ``config/sources.yaml`` (beyond the file format)."""

    codes: tuple[tuple[str, CodeList], ...] = ()
    date_order: tuple[tuple[str, str], ...] = ()
    max_quarantine_rate: float | None = None
    volume: dict[str, Any] = field(default_factory=dict)


def _read_seed_column(path: Path, column: str) -> list[str]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        if column not in (reader.fieldnames or []):
            raise ValueError(f"{path}: no column {column!r} (columns: {reader.fieldnames})")
        return [row[column].strip() for row in reader if (row[column] or "").strip()]


def _code_list(name: str, spec: dict[str, Any], base: Path) -> CodeList:
    if not isinstance(spec, dict) or not ({"values", "seed", "pattern"} & set(spec)):
        raise ValueError(f"code list {name!r} needs 'values', 'seed' (with 'column') or 'pattern'")
    values: set[str] | None = None
    origins = []
    if "seed" in spec:
        seed = base / spec["seed"]
        values = set(_read_seed_column(seed, spec.get("column", name)))
        origins.append(f"{spec['seed']}:{spec.get('column', name)}")
    if "values" in spec:
        values = (values or set()) | {str(v) for v in spec["values"]}
        origins.append("config/sources.yaml")
    return CodeList(name=name, values=frozenset(values) if values is not None else None,
                    pattern=spec.get("pattern"), origin=" + ".join(origins))


_CACHE: dict[tuple[str, float], dict[str, Any]] = {}


def _config(path: Path | None = None) -> dict[str, Any]:
    """The parsed sources file with its code lists resolved (cached by path and mtime)."""
    path = Path(path) if path else SOURCES_FILE
    key = (str(path), path.stat().st_mtime)
    if key not in _CACHE:
        # libyaml's loader when present: the pure-Python one takes a tenth of a second for this file
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
        base = path.resolve().parents[1] if path.resolve().parent.name == "config" else REPO_ROOT
        lists = {name: _code_list(name, spec, base) for name, spec in (raw.get("code_lists") or {}).items()}
        _CACHE.clear()
        _CACHE[key] = {"raw": raw, "code_lists": lists}
    return _CACHE[key]


def code_lists(path: Path | None = None) -> dict[str, CodeList]:
    """Every code list declared under ``code_lists:`` in ``config/sources.yaml``."""
    return _config(path)["code_lists"]


def entity_rules(entity: Entity, path: Path | None = None) -> EntityRules:
    """The code-list, date-order and gate settings of ``entity`` (entity settings override its source's)."""
    config = _config(path)
    source_spec = (config["raw"].get("sources") or {}).get(entity.source) or {}
    spec = (source_spec.get("entities") or {}).get(entity.name) or {}
    names = {c.name for c in entity.columns}
    lists = config["code_lists"]
    codes = []
    for column, list_name in (spec.get("codes") or {}).items():
        if column not in names:
            raise ValueError(f"{entity.id}: codes refers to unknown column {column!r}")
        if list_name not in lists:
            raise ValueError(f"{entity.id}: column {column!r} refers to unknown code list {list_name!r}")
        codes.append((column, lists[list_name]))
    if "date_order" in spec:
        order = tuple((str(a), str(b)) for a, b in spec["date_order"])
        unknown = [c for pair in order for c in pair if c not in names]
        if unknown:
            raise ValueError(f"{entity.id}: date_order refers to unknown columns {unknown}")
    else:
        order = tuple(p for p in DEFAULT_DATE_ORDER if p[0] in names and p[1] in names)
    rate = spec.get("max_quarantine_rate", source_spec.get("max_quarantine_rate"))
    volume = {**(source_spec.get("volume") or {}), **(spec.get("volume") or {})}
    return EntityRules(codes=tuple(codes), date_order=order,
                       max_quarantine_rate=float(rate) if rate is not None else None, volume=volume)


# --------------------------------------------------------------------------- values

_CPR_LIKE = re.compile(r"\d{6}-?\d{4}")


def _safe(value: object) -> str:
    """A value for a quarantine detail, with anything shaped like a CPR number masked: details
    outlive the raw line (which the purge removes), so they must never hold a CPR."""
    return _CPR_LIKE.sub("<cpr-like value>", str(value))



def value_detail(kind: str, header: str, text: str, date_format: str) -> tuple[str, str]:
    """Rule and detail for a field that is not a valid ``kind`` (one wording for both load paths)."""
    if kind == "cpr":  # never echo a CPR-like value outside the raw line
        return "invalid_cpr", f"{header} is not a valid CPR number"
    expected = f"date ({date_format})" if kind == "date" else kind
    return f"invalid_{kind}", f"{header}={_safe(text)!r} is not a valid {expected}"


def order_detail(start: str, end: str, s: object, e: object) -> str:
    return f"{end}={e} is before {start}={s}"


def code_detail(header: str, value: object, code_list: CodeList) -> str:
    return f"{header}={_safe(value)!r} is not in the {code_list.describe()}"


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
        if not is_delivered_cpr(text):
            raise ValueError("not a valid CPR number")
        return text
    return text


def is_delivered_cpr(text: str) -> bool:
    """A CPR number as the source systems deliver it: ten ASCII digits that encode a real birth
    date (:func:`helhed.pseudonymise.cpr_birth_date`). A dash, a short number or another script's
    digits mean a damaged value (``invalid_cpr``)."""
    return len(text) == 10 and text.isascii() and text.isdigit() and cpr_birth_date(text) is not None


# --------------------------------------------------------------------------- files


def _looks_like_utf8(raw: bytes) -> bool:
    if raw.startswith(_BOM):
        return True
    if raw.isascii():
        return False
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def count_data_lines(path: Path) -> int:
    """The number of non-empty lines after the header, readable in any encoding (for rejected files)."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    lines = text.splitlines()
    return sum(1 for line in lines[1:] if line.strip("\x00 \t\ufeff"))


#: What ``str.strip()`` strips, but line breaks (they end lines, they do not pad fields).
_WHITESPACE = "".join(c for c in map(chr, range(0x3001)) if c.isspace() and c not in "\r\n")   # U+3000 is the last

CHUNK = 1 << 20   # bytes read at a time: the loader's memory does not grow with the file


@dataclass
class FileScan:
    """What one streamed read of a file found: its digest, and whether it is usable.

    ``rejection`` is the first whole-file check that failed (encoding, truncation, header, in the
    order of the row-by-row reading in ``tests/row_rules_oracle.py``). ``padded`` is False when no
    whitespace touches a delimiter or a line break, so no field needs ``str.strip()`` (a few
    substring searches, not a regex per line). ``plain`` says the loader may split lines itself:
    no quote character
    (so no quoted delimiters or line breaks), no carriage return outside a CRLF, no NUL and no
    \\x01 (the COPY delimiter). Other files are split by :mod:`csv`, as before.
    """

    sha256: str
    size: int
    rejection: tuple[str, str] | None = None
    plain: bool = True
    padded: bool = False      # some field may start or end with whitespace (then fields are trimmed)


def decoded_chunks(path: Path, encoding: str) -> Iterator[str]:
    """The file's text in chunks (a byte-order mark dropped for ``utf-8-sig``); raises UnicodeDecodeError."""
    decoder = codecs.getincrementaldecoder(encoding)()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            yield decoder.decode(chunk)
    yield decoder.decode(b"", final=True)


def scan_file(path: Path, source: Entity) -> FileScan:
    """Hash the file and run the whole-file checks in one read, without holding the file."""
    digest = hashlib.sha256()
    encoding = source.encoding.lower().replace("_", "-")
    sig = encoding in ("utf-8-sig", "utf8-sig")
    single_byte = not sig and encoding not in ("utf-8", "utf8")
    decoder = codecs.getincrementaldecoder(source.encoding)()
    utf8 = codecs.getincrementaldecoder("utf-8")()
    size, starts_with_bom, ascii_only, valid_utf8 = 0, False, True, True
    bad_byte: int | None = None
    head, last, carry, plain, padded, has_text = "", "", "", True, False, False
    edges = [(a, b) for a in (source.delimiter, "\n") for b in (source.delimiter, "\r", "\n")]
    last_seen = ""
    with path.open("rb") as fh:
        for raw in itertools.chain(iter(lambda: fh.read(CHUNK), b""), [None]):
            final = raw is None
            raw = raw or b""
            digest.update(raw)
            if size == 0 and raw:
                starts_with_bom = raw.startswith(_BOM)
            if single_byte and valid_utf8:
                ascii_only = ascii_only and raw.isascii()
                try:
                    utf8.decode(raw, final)
                except UnicodeDecodeError:
                    valid_utf8 = False
            if bad_byte is None:
                try:
                    text = decoder.decode(raw, final)
                except UnicodeDecodeError as exc:
                    bad_byte = size + exc.start
                    text = ""
                if text:
                    has_text, last = True, text[-1]
                    if "\n" not in head and len(head) < 1 << 22:   # a header line is short
                        head += text
                    text, carry = carry + text, ""
                    if text.endswith("\r") and not final:   # a CRLF may straddle two chunks
                        text, carry = text[:-1], "\r"
                    plain = plain and not ('"' in text or "\x00" in text or "\x01" in text
                                           or "\r" in text.replace("\r\n", ""))
                    if not padded:   # whitespace after a delimiter/line break or before one
                        seam = last_seen + text
                        padded = any(f"{a}{w}" in seam or f"{w}{b}" in seam
                                     for w in _WHITESPACE if w in seam for a, b in edges)
                    last_seen = text[-1:]
            size += len(raw)
    if carry:
        plain = False
    result = FileScan(digest.hexdigest(), size, plain=plain, padded=padded or not plain)
    if sig and size and not starts_with_bom:
        result.rejection = ("wrong_encoding", "expected UTF-8 with a byte-order mark, the file has none")
    elif single_byte and size and (starts_with_bom or (not ascii_only and valid_utf8)):
        result.rejection = ("wrong_encoding", f"the file is UTF-8, expected {source.encoding}")
    elif bad_byte is not None:
        result.rejection = ("wrong_encoding", f"not valid {source.encoding} at byte {bad_byte}")
    elif has_text and last not in "\n\r":
        result.rejection = ("truncated_file", "the last line has no line break: the file was cut off")
    elif not has_text:
        result.rejection = ("empty_file", "the file has no header line")
    else:
        result.rejection = header_problem(head.splitlines()[0], source)
    return result


def header_problem(line: str, source: Entity) -> tuple[str, str] | None:
    """``missing_columns`` or ``wrong_header`` when the header line is not exactly the declared one."""
    header = next(csv.reader([line], delimiter=source.delimiter), [])
    if header == source.headers:
        return None
    missing = [h for h in source.headers if h not in header]
    extra = [h for h in header if h not in source.headers]
    if missing:
        return "missing_columns", f"missing columns {missing}; got {header}"
    return "wrong_header", f"unexpected columns {extra} or order; got {header}"
