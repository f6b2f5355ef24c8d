"""Write source files exactly as the source systems export them.

One function per source file format. Rows are streamed in chunks with the ``csv`` module
so memory stays bounded by the column arrays, not by formatted text. Each writer returns
the row count and the SHA-256 of the bytes written, which go into the manifest.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from helhed.generator.benefits import Periods
from helhed.generator.dates import NONE, dmy, iso
from helhed.generator.lifecourse import STATES
from helhed.generator.population import Population
from helhed.generator.profile import VISITATION_CATEGORIES

CPR_HEADER = ["CPR-nummer", "Fødselsdato", "Køn", "Postnummer", "Distrikt", "Tilflytningsdato", "Fraflytningsdato", "Dødsdato"]
YDELSER_HEADER = [
    "Periode-id", "CPR-nummer", "Ydelseskode", "Ydelses startdato", "Ydelses slutdato",
    "Ydelses sats", "Ydelses beløb", "Beløbsenhed", "Visitationskategori",
]  # fmt: skip
CHUNK = 50_000


def decimal_comma(values: np.ndarray) -> list[str]:
    """Two decimals with a decimal comma and no thousands separator: ``12550,00``."""
    return [f"{v:.2f}".replace(".", ",") for v in values.tolist()]


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]], encoding: str = "utf-8-sig") -> tuple[int, str]:
    """Write ``;``-separated CSV (CRLF line ends, as Windows exports); return (rows, sha256)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh, delimiter=";", lineterminator="\r\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count, sha256_of(path)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cpr_rows(population: Population, cprs: list[str], order: np.ndarray) -> Iterable[list[str]]:
    """CPR extract rows in ``order`` (ISO dates, ``M``/``K``)."""
    for lo in range(0, len(order), CHUNK):
        idx = order[lo : lo + CHUNK]
        birth = iso(population.birth[idx])
        moved_in = iso(population.moved_in[idx])
        moved_out = iso(population.moved_out[idx])
        death = iso(population.death[idx])
        for k, p in enumerate(idx.tolist()):
            yield [
                cprs[p], birth[k], "M" if population.male[p] else "K", population.postal_code[p],
                population.district[p], moved_in[k], moved_out[k], death[k],
            ]  # fmt: skip


def ydelser_rows(periods: Periods, cprs: list[str]) -> Iterable[list[str]]:
    """Benefit-period rows (``dd-mm-yyyy`` dates, decimal comma, empty end = open)."""
    categories = ("", *VISITATION_CATEGORIES)
    for lo in range(0, len(periods), CHUNK):
        sl = slice(lo, lo + CHUNK)
        start = dmy(periods.start[sl])
        end = dmy(np.where(periods.end[sl] == NONE, NONE, periods.end[sl]))
        rate = decimal_comma(periods.rate[sl])
        amount = decimal_comma(periods.amount[sl])
        for k, (p, s, v) in enumerate(zip(periods.person[sl].tolist(), periods.state[sl].tolist(), periods.visitation[sl].tolist())):
            i = lo + k
            yield [
                periods.period_id[i], cprs[p], STATES[s], start[k], end[k], rate[k], amount[k],
                periods.unit[i], categories[v],
            ]  # fmt: skip
