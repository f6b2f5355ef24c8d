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
- ``unreadable_archive``: a ``.gz`` delivery that does not decompress (damaged or not gzip).

The same read also finds CPR-like values (:mod:`helhed.redaction`) outside the declared CPR
columns (:attr:`FileScan.cpr_like`), so that only a file that holds one pays for masking them in
SQL, and control characters (NUL and the other C0/C1 controls but tab), whose rows the loader
quarantines (``control_character``) instead of failing on them.

Row rules (a bad row is quarantined, the rest of the file loads): ``control_character`` and
``unreadable_row`` (a line the CSV reader cannot split, e.g. a lone carriage return), ``wrong_field_count``,
``missing_value``, ``invalid_cpr``, ``invalid_date``/``invalid_decimal``/``invalid_integer``,
``end_before_start`` and ``unknown_code`` (a value outside the column's code list, see
:func:`entity_rules`), ``cpr_like_value`` (a CPR-like value in a key or number column, which
cannot be masked). ``duplicate_key`` is checked by the loader.

The code lists and the per-entity rules live in ``config/sources.yaml`` next to the formats:
a top-level ``code_lists:`` section (values, a dbt seed or reference file column, or a regular
expression), and per entity ``codes: {column: code_list}``, optional ``date_order`` pairs and the
gate thresholds (``max_quarantine_rate``, ``volume``, ``drift``, ``coverage``) that
:mod:`helhed.gates` reads. The file is read once, by :func:`helhed.sources.specification`.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from helhed.config import REPO_ROOT
from helhed.pseudonymise import cpr_birth_date
from helhed.redaction import CPR_LIKE, redact
from helhed.sources import CodeList as CodeList  # re-exported: the loader and the oracle use it from here
from helhed.sources import Entity, specification
from helhed.sources import code_lists as code_lists  # re-exported

#: The repository's specification (read through :func:`helhed.sources.specification`, the one
#: reader; ``$HELHED_SOURCES_FILE`` points elsewhere). Kept for the loader's change stamp.
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
class EntityRules:
    """Per-entity rules and thresholds from ``config/sources.yaml`` (beyond the file format)."""

    codes: tuple[tuple[str, CodeList], ...] = ()
    date_order: tuple[tuple[str, str], ...] = ()
    max_quarantine_rate: float | None = None
    volume: dict[str, Any] = field(default_factory=dict)
    drift: dict[str, Any] = field(default_factory=dict)
    coverage: tuple[dict[str, Any], ...] = ()


def entity_rules(entity: Entity, path: Path | None = None) -> EntityRules:
    """The code-list, date-order and gate settings of ``entity`` (entity settings override its source's)."""
    declared = specification(path)
    source_spec = declared.source_spec(entity.source)
    spec = declared.entity_spec(entity.source, entity.name)
    names = {c.name for c in entity.columns}
    lists = declared.code_lists
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
    drift = {**(source_spec.get("drift") or {}), **(spec.get("drift") or {})}
    coverage = tuple(dict(rule) for rule in (spec.get("coverage", source_spec.get("coverage")) or ()))
    return EntityRules(codes=tuple(codes), date_order=order,
                       max_quarantine_rate=float(rate) if rate is not None else None, volume=volume,
                       drift=drift, coverage=coverage)


# --------------------------------------------------------------------------- values

def _safe(value: object) -> str:
    """A value for a quarantine detail, with every CPR-like value masked (:func:`helhed.redaction.redact`)
    and control characters escaped: details outlive the raw line (which the purge removes), so
    they must never hold a CPR, and PostgreSQL text cannot hold a NUL."""
    return escape_controls(redact(value))


#: Control characters a delivered field may not hold: C0 and C1 controls but tab (CR and LF end lines).
CONTROL_CHARACTER = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_ESCAPED = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def escape_controls(text: str) -> str:
    """``text`` with every control character but tab shown as ``\\xNN``: how a quarantined raw line
    or a rejection reason keeps them (PostgreSQL text cannot hold a NUL, and a stray carriage
    return would be invisible)."""
    return _ESCAPED.sub(lambda m: f"\\x{ord(m.group()):02x}", text)



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


def is_gzip(path: Path) -> bool:
    """A gzip-compressed delivery (``.gz``, any case): loaded as the file it holds."""
    return path.name.lower().endswith(".gz")


def open_content(path: Path) -> BinaryIO:
    """The delivered file's content as a binary stream, decompressed when it is a ``.gz``."""
    return gzip.open(path, "rb") if is_gzip(path) else path.open("rb")   # type: ignore[return-value]


#: What a damaged gzip raises while it is read.
ARCHIVE_ERRORS = (OSError, EOFError, zlib.error)


def count_data_lines(path: Path) -> int:
    """The number of non-empty lines after the header, readable in any encoding (for rejected
    files); of a damaged ``.gz``, the lines that could be decompressed."""
    data = bytearray()
    try:
        with open_content(path) as fh:
            for chunk in iter(lambda: fh.read(CHUNK), b""):
                data += chunk
    except ARCHIVE_ERRORS:
        if not is_gzip(path):
            raise
    text = bytes(data).decode("utf-8", errors="replace")
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
    no quote character (so no quoted delimiters or line breaks), no carriage return outside a
    CRLF and no control character (NUL, \\x01 the COPY delimiter, ...). Other files are split by
    :mod:`csv`, where rows with control characters are quarantined.

    ``cpr_like`` counts the CPR-like values outside the declared CPR columns; ``cpr_like_exact``
    says the count is exact (a plain file in an ASCII-compatible encoding). When it is not, the
    count is of every value shaped like one (in any column), so a file is masked whenever it may
    hold one: a false alarm costs masking time, a miss would leak a person.
    """

    sha256: str
    size: int
    rejection: tuple[str, str] | None = None
    plain: bool = True
    padded: bool = False      # some field may start or end with whitespace (then fields are trimmed)
    controls: bool = False    # some line holds a control character (rows quarantined)
    cpr_like: int = 0
    cpr_like_exact: bool = True

    @property
    def needs_masking(self) -> bool:
        """Whether a field outside the CPR columns may hold a CPR-like value."""
        return self.cpr_like > 0


def decoded_chunks(path: Path, encoding: str) -> Iterator[str]:
    """The file's text in chunks (a byte-order mark dropped for ``utf-8-sig``; a ``.gz``
    decompressed); raises UnicodeDecodeError."""
    decoder = codecs.getincrementaldecoder(encoding)()
    with open_content(path) as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            yield decoder.decode(chunk)
    yield decoder.decode(b"", final=True)


def _ascii_compatible(encoding: str, delimiter: str) -> bool:
    """Digits, hyphen, line break and the delimiter are single ASCII bytes in ``encoding``, so the
    CPR-like scan may work on bytes (UTF-8, Windows-1252, Latin-1 do; UTF-16 does not)."""
    probe = "0123456789-\n" + delimiter
    try:
        encoded = codecs.getincrementalencoder(encoding)().encode(probe)
    except (LookupError, UnicodeEncodeError):
        return False
    return len(delimiter) == 1 and encoded.removeprefix(codecs.BOM_UTF8) == probe.encode("ascii")


def cpr_like_outside(block: bytes, delimiter: int, cpr_fields: tuple[int, ...]) -> tuple[int, int]:
    """Values shaped like a CPR number in ``block`` (whole lines of a file's bytes): how many in
    all, and how many of them are CPR-like by :data:`helhed.redaction.CPR_LIKE` and lie outside
    the CPR columns (field indexes ``cpr_fields``).

    numpy finds every digit run that could be CPR-like (exactly ten digits, or six, a hyphen and
    four, starting with a day 01-31 and a month 01-12: a superset of the rule) and the field it
    starts in (delimiters since its line's start), a few passes over the bytes; the one rule of
    :mod:`helhed.redaction` then decides on the few that lie outside the CPR columns. A regular expression over every character of every file
    cost twice as much (0.5 s for the 19 MB of a 20,000-resident delivery).
    """
    a = np.frombuffer(block, np.uint8)
    digit = (a - np.uint8(48)) < 10   # uint8 wraps around: one comparison for '0'..'9'
    edge = np.diff(digit.view(np.int8), prepend=np.int8(0), append=np.int8(0))
    edges = np.flatnonzero(edge)   # runs of digits: start, end, start, end, ...
    starts, ends = edges[0::2], edges[1::2]
    length = ends - starts
    six = np.flatnonzero(length[:-1] == 6)
    six = six[(starts[six + 1] == ends[six] + 1) & (length[six + 1] == 4)]
    six = six[a[ends[six]] == ord("-")]
    candidates = np.concatenate((starts[length == 10], starts[six]))
    # ... whose first four digits could be a day and a month (a voucher number 1900000001 is not)
    day = (a[candidates] - 48).astype(np.int16) * 10 + (a[candidates + 1] - 48)
    month = (a[candidates + 2] - 48).astype(np.int16) * 10 + (a[candidates + 3] - 48)
    candidates = candidates[(day >= 1) & (day <= 31) & (month >= 1) & (month <= 12)]
    found = len(candidates)
    if 0 in cpr_fields:   # most CPR columns come first: a value right after a line break is in one
        candidates = candidates[(candidates > 0) & (a[candidates - 1] != 10)]
    if not len(candidates):
        return found, 0
    line_starts = np.concatenate(([0], np.flatnonzero(a == 10) + 1))
    delimiters = np.flatnonzero(a == delimiter)
    line_start = line_starts[np.searchsorted(line_starts, candidates, side="right") - 1]
    field_index = np.searchsorted(delimiters, candidates) - np.searchsorted(delimiters, line_start)
    outside = candidates[~np.isin(field_index, cpr_fields)].tolist()
    confirmed = sum(len(CPR_LIKE.findall(block[max(s - 1, 0):s + 12].decode("latin-1"))) for s in outside)
    return found, confirmed


#: Bytes that are never (part of) a control character in an ASCII-compatible encoding.
_ORDINARY_BYTES = bytes(b for b in range(0x20, 0x7f)) + b"\t\r\n"
_CONTROL_BYTES = re.compile(b"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\xc2[\x80-\x9f]")


def may_hold_control(raw: bytes, c1_bytes: bool) -> bool:
    """Whether bytes of an ASCII-compatible encoding may hold a control character: a C0 byte
    but tab, CR, LF; DEL; a UTF-8 C1 control; or (``c1_bytes``, e.g. Latin-1) a byte 0x80-0x9f.
    Printable ASCII is deleted first (one C pass), so the expression runs on the few bytes left."""
    rest = raw.translate(None, _ORDINARY_BYTES)
    if not rest:
        return False
    return _CONTROL_BYTES.search(rest) is not None or (c1_bytes and any(0x80 <= b <= 0x9f for b in rest))


def _content_chunks(path: Path, digest: Any) -> Iterator[bytes]:
    """The file's content in chunks; ``digest`` gets the delivered bytes (of a ``.gz``, the
    compressed file, read once more: a damaged archive still has a digest)."""
    if is_gzip(path):
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(CHUNK), b""):
                digest.update(chunk)
        with gzip.open(path, "rb") as gz:
            yield from iter(lambda: gz.read(CHUNK), b"")
        return
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
            yield chunk


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
    head, last, carry, plain, padded, has_text, controls = "", "", "", True, False, False, False
    edges = [(a, b) for a in (source.delimiter, "\n") for b in (source.delimiter, "\r", "\n")]
    last_seen = ""
    by_bytes = _ascii_compatible(source.encoding, source.delimiter)
    # In UTF-8 a C1 control is two bytes (caught as such); Windows-1252 has none (0x80-0x9f are
    # letters there, or undecodable); other single-byte encodings (Latin-1) have them as bytes.
    c1_bytes = single_byte and codecs.lookup(source.encoding).name != "cp1252"
    cpr_fields = tuple(i for i, c in enumerate(source.columns) if c.type == "cpr")
    delimiter_byte = ord(source.delimiter[0])
    shaped, outside, pending = 0, 0, b""
    archive_error: str | None = None
    chunks = _content_chunks(path, digest)
    while True:
        try:
            raw: bytes | None = next(chunks, None)
        except ARCHIVE_ERRORS as exc:   # a damaged .gz
            archive_error, raw = f"{type(exc).__name__}: {exc}", None
        final = raw is None
        raw = raw or b""
        if size == 0 and raw:
            starts_with_bom = raw.startswith(_BOM)
        if by_bytes:   # CPR-like values, on whole lines of bytes (digit runs never cross a line break)
            block = pending + raw
            cut = len(block) if final else block.rfind(b"\n") + 1
            if cut:
                found, confirmed = cpr_like_outside(block[:cut], delimiter_byte, cpr_fields)
                shaped, outside = shaped + found, outside + confirmed
            pending = block[cut:]
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
                if not by_bytes:   # every value shaped like a CPR number counts
                    shaped += len(CPR_LIKE.findall(text))
                text, carry = carry + text, ""
                if text.endswith("\r") and not final:   # a CRLF may straddle two chunks
                    text, carry = text[:-1], "\r"
                if not controls:
                    controls = (may_hold_control(raw, c1_bytes) if by_bytes
                                else CONTROL_CHARACTER.search(text) is not None)
                plain = plain and not ('"' in text or controls or "\x01" in text
                                       or "\r" in text.replace("\r\n", ""))
                if not padded:   # whitespace after a delimiter/line break or before one
                    seam = last_seen + text
                    padded = any(f"{a}{w}" in seam or f"{w}{b}" in seam
                                 for w in _WHITESPACE if w in seam for a, b in edges)
                last_seen = text[-1:]
        size += len(raw)
        if final:
            break
    if carry:
        plain = False
    exact = by_bytes and plain
    result = FileScan(digest.hexdigest(), path.stat().st_size, plain=plain, padded=padded or not plain,
                      controls=controls, cpr_like=outside if exact else shaped, cpr_like_exact=exact)
    if archive_error is not None:
        result.rejection = ("unreadable_archive", f"the gzip file cannot be decompressed ({archive_error})")
    elif sig and size and not starts_with_bom:
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
