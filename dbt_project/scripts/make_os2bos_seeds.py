"""Copy the OS2bos service catalogue into two dbt seeds with clean, English, snake_case headers.

    python dbt_project/scripts/make_os2bos_seeds.py [../shared/reference/os2bos]

Input: ``paragraphs.csv`` and ``activities.csv`` of OS2bos (Magenta ApS for Danish
municipalities, MPL-2.0; the commit is in ``SOURCE_COMMIT``). Output:
``dbt_project/seeds/os2bos_paragraphs.csv`` (one row per paragraph key) and
``dbt_project/seeds/os2bos_activities.csv`` (one row per activity and paragraph it is granted
under or is a follow-up expense of, with the ledger account). Values are copied verbatim
(trimmed); rows without a paragraph key are left out; exact duplicates are dropped. The
output is sorted, so re-running gives the same bytes.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEEDS = HERE.parent / "seeds"
DEFAULT_SOURCE = HERE.parents[2] / "shared" / "reference" / "os2bos"


def clean(value: str | None) -> str:
    return " ".join((value or "").split())


def paragraphs(source: Path) -> list[dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    with (source / "paragraphs.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            key = clean(row["Nøgle"])
            if not key or key in out:
                continue
            out[key] = {
                "paragraph_key": key,
                "law": clean(row["Lgl"]),
                "paragraph": clean(row["Paragraf"]),
                "subsection": clean(row["Stykke"]),
                "paragraph_title": clean(row["B&V-tekst"]),
                "kle_number": clean(row["KLE nr."]),
                "section": clean(row["Afsnit"]),
                "intervention_steps": clean(row["Indsatstrappen"]),
                "target_group": clean(row["Målgruppe"]),
            }
    return [out[k] for k in sorted(out)]


def activities(source: Path) -> list[dict[str, str]]:
    seen: set[tuple[str, ...]] = set()
    rows: list[dict[str, str]] = []
    with (source / "activities.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            main_of, follow_of = clean(row["Hovedaktivitet på"]), clean(row["Følgeudgift på "])
            paragraph_key = main_of or follow_of
            if not paragraph_key:
                continue
            account = clean(row["Kont1"]) or clean(row["Konto2"])
            if not (len(account) == 9 and account.isdigit()):
                account = ""  # free-text notes such as "PPR betaler" are not accounts
            out = {
                "activity_code": clean(row["Aktivitet"]),
                "activity_name": clean(row["Aktivitetnavn"]),
                "paragraph_key": paragraph_key,
                "activity_kind": "main" if main_of else "follow_up_expense",
                "main_activity_code": clean(row["Hovedaktivitet"]),
                "account": account,
                "kontoplan_function": f"{account[0]}.{account[1:3]}.{account[3:5]}" if account else "",
                "kle_number": clean(row["Kle nr."]),
            }
            key = tuple(out.values())
            if key not in seen:
                seen.add(key)
                rows.append(out)
    return sorted(rows, key=lambda r: (r["activity_code"], r["paragraph_key"], r["activity_kind"], r["account"]))


def write(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str]) -> None:
    source = Path(argv[1]) if len(argv) > 1 else DEFAULT_SOURCE
    write(SEEDS / "os2bos_paragraphs.csv", paragraphs(source))
    write(SEEDS / "os2bos_activities.csv", activities(source))


if __name__ == "__main__":
    main(sys.argv)
