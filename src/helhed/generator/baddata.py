"""Bad data at configurable rates, every defect tagged in the manifest.

The loader's quarantine and the quality gates need real defects to catch. Row defects
are *extra* rows inserted into a file (invalid CPR, unknown code, end before start), so
the clean rows, and therefore the truth figures, are unchanged: a correct loader
quarantines exactly the tagged rows. File defects are *extra* files next to a good one
(exact duplicate, truncated copy, copy in the wrong encoding, copy with a column missing):
a correct loader rejects or skips exactly the tagged files. All rates are 0 in the demo
profile; ``profiles/randers_bad.yaml`` turns them on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROW_KINDS = ("invalid_cpr", "unknown_code", "end_before_start")
FILE_KINDS = ("duplicated_file", "truncated_file", "wrong_encoding", "missing_columns")


@dataclass(frozen=True)
class RowSpec:
    """Where a file keeps its CPR, code and start/end columns (indexes), and its date format."""

    cpr: int | None
    code: int | None
    start: int | None
    end: int | None
    date_format: str  # "iso" or "dmy"
    key: int | None = None  # id column made unique for inserted rows


def _bad_cpr(rng: np.random.Generator) -> str:
    kind = int(rng.integers(0, 4))
    if kind == 0:
        return f"{int(rng.integers(32, 99)):02d}{int(rng.integers(1, 13)):02d}{int(rng.integers(0, 100)):02d}{int(rng.integers(0, 10000)):04d}"  # day > 31
    if kind == 1:
        return f"{int(rng.integers(10**8, 10**9))}"  # 9 digits
    if kind == 2:
        return f"0113{int(rng.integers(0, 100)):02d}{int(rng.integers(0, 10000)):04d}"  # month 13
    return f"{int(rng.integers(1, 29)):02d}{int(rng.integers(1, 13)):02d}{int(rng.integers(0, 100)):02d}-{int(rng.integers(0, 10000)):04d}"  # dash, 11 chars


def _swap_dates(start: str, end: str, fmt: str) -> tuple[str, str] | None:
    if not start or not end or start == end:
        return None
    return end, start


def inject_rows(
    rows: list[list[str]], spec: RowSpec, rates: dict[str, float], rng: np.random.Generator, source: str, file: str
) -> tuple[list[list[str]], list[dict[str, Any]]]:
    """Insert defective copies of random rows; returns the new rows and one tag per defect.

    Tags carry the 1-based line number in the written file (line 1 is the header).
    """
    if not rows or not any(rates.get(k, 0) > 0 for k in ROW_KINDS):
        return rows, []
    inserts: list[tuple[int, list[str], str]] = []
    for kind in ROW_KINDS:
        rate = float(rates.get(kind, 0.0))
        col = {"invalid_cpr": spec.cpr, "unknown_code": spec.code, "end_before_start": spec.start}[kind]
        if rate <= 0 or col is None:
            continue
        n = int(rng.binomial(len(rows), rate))
        for src in rng.integers(0, len(rows), n).tolist():
            row = list(rows[src])
            if kind == "invalid_cpr":
                row[spec.cpr] = _bad_cpr(rng)  # type: ignore[index]
            elif kind == "unknown_code":
                row[spec.code] = "UKENDT-" + str(int(rng.integers(100, 999)))  # type: ignore[index]
            else:
                assert spec.start is not None and spec.end is not None
                swapped = _swap_dates(row[spec.start], row[spec.end], spec.date_format)
                if swapped is None:
                    continue
                row[spec.start], row[spec.end] = swapped
            if spec.key is not None:
                row[spec.key] = f"{row[spec.key]}-F{len(inserts) + 1}"
            inserts.append((int(rng.integers(0, len(rows) + 1)), row, kind))
    inserts.sort(key=lambda t: t[0])
    out: list[list[str]] = []
    tags: list[dict[str, Any]] = []
    k = 0
    for pos in range(len(rows) + 1):
        while k < len(inserts) and inserts[k][0] == pos:
            out.append(inserts[k][1])
            tags.append({"kind": inserts[k][2], "source": source, "file": file, "line": len(out) + 1})
            k += 1
        if pos < len(rows):
            out.append(rows[pos])
    return out, tags


def inject_files(
    path: Path, out_root: Path, encoding: str, rates: dict[str, float], rng: np.random.Generator, source: str
) -> list[dict[str, Any]]:
    """Maybe write defective extra copies of ``path`` next to it; return their tags."""
    tags: list[dict[str, Any]] = []
    raw = path.read_bytes()
    for n, kind in enumerate(FILE_KINDS, start=2):
        if rng.random() >= float(rates.get(kind, 0.0)):
            continue
        target = path.with_name(f"{path.stem}_{n}{path.suffix}")
        if kind == "duplicated_file":
            data = raw
        elif kind == "truncated_file":
            cut = int(len(raw) * rng.uniform(0.3, 0.9))
            data = raw[:cut]
            if data.endswith(b"\n"):
                data = data[:-3]
        elif kind == "wrong_encoding":
            text = raw.decode(encoding)
            if encoding.lower().replace("_", "-") in ("cp1252", "windows-1252"):
                data = text.encode("utf-8")
            else:
                data = text.lstrip("\ufeff").encode("cp1252", errors="replace")
        else:
            text = raw.decode(encoding)
            lines = text.split("\r\n")
            header = lines[0].split(";")
            drop = int(rng.integers(1, len(header)))
            kept = [";".join(c for j, c in enumerate(line.split(";")) if j != drop) if line else line for line in lines]
            data = "\r\n".join(kept).encode(encoding)
            tags.append({"kind": kind, "source": source, "file": target.relative_to(out_root).as_posix(),
                "copy_of": path.relative_to(out_root).as_posix(), "missing_column": header[drop].lstrip("\ufeff")})
            target.write_bytes(data)
            continue
        target.write_bytes(data)
        tags.append({"kind": kind, "source": source, "file": target.relative_to(out_root).as_posix(), "copy_of": path.relative_to(out_root).as_posix()})
    return tags
