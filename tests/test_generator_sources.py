"""Tests of ``helhed generate`` phase 2: the other sources and their planted truths.

Every truth figure is recomputed here from the written files with the definitions in
docs/generator.md, independently of the generator's numpy code.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from helhed.generator import generate
from helhed.generator.cpr import parse_cpr

RESIDENTS, YEARS, SEED = 4000, 3, 11
END = dt.date(2025, 12, 31)
FIRST = dt.date(2023, 1, 1)
STAMP = "2025-12-31/"
OS2BOS = Path(__file__).resolve().parents[1] / "reference" / "os2bos"
DST_PLACEMENT_TYPES = {"1", "21", "22", "9", "8", "27", "11", "6"}


@pytest.fixture(scope="module")
def gen(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("gen2")
    manifest = generate(residents=RESIDENTS, years=YEARS, seed=SEED, out=out, end_date=END, show_progress=False)
    return out, manifest


def _read(out: Path, source: str, stem: str, encoding: str = "utf-8-sig") -> list[dict[str, str]]:
    path = out / "landing" / source / STAMP / f"{stem}_20251231.csv"
    raw = path.read_bytes()
    if encoding == "utf-8-sig":
        assert raw.startswith(b"\xef\xbb\xbf"), path
    else:
        assert not raw.startswith(b"\xef\xbb\xbf"), path
    text = raw.decode(encoding)
    assert "\r\n" in text
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";"))


def _iso(s: str) -> dt.date | None:
    return dt.date.fromisoformat(s) if s else None


def _dmy(s: str) -> dt.date | None:
    if not s:
        return None
    d, m, y = s.split("-")
    return dt.date(int(y), int(m), int(d))


def _num(s: str) -> float:
    assert "." not in s, s
    return float(s.replace(",", "."))


def _ore(s: str) -> int:
    whole, frac = s.split(",")
    return int(whole) * 100 + int(frac)


def _months() -> list[tuple[str, dt.date, dt.date]]:
    out, y, m = [], FIRST.year, FIRST.month
    while (y, m) <= (END.year, END.month):
        a = dt.date(y, m, 1)
        b = dt.date(y + (m == 12), m % 12 + 1, 1) - dt.timedelta(days=1)
        out.append((f"{y:04d}-{m:02d}", a, b))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _age(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


class Files:
    """All files of one generated municipality, parsed once."""

    def __init__(self, out: Path) -> None:
        self.cpr = {r["CPR-nummer"]: r for r in _read(out, "cpr", "cpr_personer")}
        self.relations = _read(out, "cpr", "cpr_relationer")
        self.ydelser = _read(out, "ydelser", "ydelsesperioder")
        self.employment = _read(out, "eindkomst", "ansaettelser")
        self.education = _read(out, "uddannelse", "uddannelsesstatus")
        self.dubu = _read(out, "dubu", "dubu_ydelser")
        self.sensum = _read(out, "sensum", "sensum_indsatser")
        self.health = _read(out, "sundhed", "sundhed_ydelser")
        self.medfin = _read(out, "sundhed", "medfinansiering")
        self.enrolments = _read(out, "helhed", "forloeb")
        self.meetings = _read(out, "helhed", "netvaerksmoeder")
        self.scores = _read(out, "helhed", "progression")
        self.survey = _read(out, "helhed", "borgersurvey")
        self.prices = _read(out, "enhedspriser", "enhedspriser")
        self.ledger = _read(out, "oekonomi", "posteringer", "cp1252")
        self.budget = _read(out, "oekonomi", "budget", "cp1252")
        self.conversations = _read(out, "jobcenter", "samtaler")
        self.offers = _read(out, "jobcenter", "tilbud")

    def resident(self, cpr: str, day: dt.date) -> bool:
        p = self.cpr[cpr]
        return (
            _iso(p["Tilflytningsdato"]) <= day  # type: ignore[operator]
            and (not p["Fraflytningsdato"] or _iso(p["Fraflytningsdato"]) >= day)  # type: ignore[operator]
            and (not p["Dødsdato"] or _iso(p["Dødsdato"]) >= day)  # type: ignore[operator]
        )

    def age(self, cpr: str, day: dt.date) -> int:
        return _age(_iso(self.cpr[cpr]["Fødselsdato"]), day)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def files(gen: tuple[Path, dict[str, Any]]) -> Files:
    return Files(gen[0])


# --- formats and invariants ----------------------------------------------------------------


def test_every_file_is_in_the_manifest(gen: tuple[Path, dict[str, Any]], files: Files) -> None:
    out, manifest = gen
    listed = {f["path"]: f["rows"] for d in manifest["deliveries"] for f in d["files"]}
    on_disk = {p.relative_to(out).as_posix() for p in (out / "landing").rglob("*.csv")}
    assert set(listed) == on_disk and len(listed) == 19  # 16 source files, the decision register and the jobcenter's two
    assert listed["landing/oekonomi/2025-12-31/posteringer_20251231.csv"] == len(files.ledger)
    assert manifest["bad_data"]["defects"] == []


def test_person_level_files_use_known_valid_cprs(files: Files) -> None:
    for rows, col in (
        (files.relations, "CPR-nummer"), (files.relations, "Relations CPR-nummer"), (files.employment, "CPR-nummer"),
        (files.education, "CPR-nummer"), (files.dubu, "CPR-nummer"), (files.sensum, "BorgerId"),
        (files.health, "Borger CPR"), (files.medfin, "CPR-nummer"), (files.enrolments, "CPR-nummer"),
        (files.conversations, "CPR-nummer"), (files.offers, "CPR-nummer"),
    ):  # fmt: skip
        for r in rows:
            assert parse_cpr(r[col]) is not None and r[col] in files.cpr, (col, r[col])
    for r in files.ledger:
        if r["Ydelsesmodtagernr."]:
            assert r["Ydelsesmodtagernr.kode"] == "01" and r["Ydelsesmodtagernr."] in files.cpr
        else:
            assert r["Ydelsesmodtagernr.kode"] == ""


def test_formats_of_dates_and_numbers(files: Files) -> None:
    for r in files.dubu:
        a, b = _dmy(r["Ydelse startdato"]), _dmy(r["Ydelse slutdato"])
        assert a is not None and (b is None or b >= a) and _dmy(r["Henvisningsdato"]) < a  # type: ignore[operator]
        if r["Pris pr dag"]:
            assert _num(r["Pris pr dag"]) > 0
    for rows, a_col, b_col in ((files.sensum, "IndsatsStartDato", "IndsatsSlutDato"), (files.health, "Startdato", "Slutdato"),
                               (files.employment, "Startdato", "Slutdato"), (files.education, "Startdato", "Slutdato")):  # fmt: skip
        for r in rows:
            a, b = _iso(r[a_col]), _iso(r[b_col])
            assert a is not None and (b is None or b >= a)
    for r in files.ledger:
        assert r["Debet/kredit"] in {"D", "K"} and _ore(r["Beløb"]) >= 0
        assert len(r["Artskonto"]) == 9 and r["Artskonto"].isdigit()
        assert _dmy(r["Ydelsesperiode fra"]) <= _dmy(r["Ydelsesperiode til"])  # type: ignore[operator]
    for r in files.prices:
        assert r["Enhed"] in {"kr. pr. dag", "kr. pr. time", "kr. pr. samtale"} and _num(r["Enhedspris"]) > 0
        assert r["Registrantbogført"] in {"Ja", "Nej"}
    for r in files.conversations:
        assert _dmy(r["Afholdelsesdato"]) is not None and r["Status"] in {"Afholdt", "Udeblevet"} and r["Sagsbehandler"].startswith("JC")
    for r in files.offers:
        a, b, ref = _dmy(r["Startdato"]), _dmy(r["Slutdato"]), _dmy(r["Henvisningsdato"])
        assert a is not None and ref is not None and ref <= a and (b is None or b >= a)
        assert r["Status"] == ("Aktiv" if b is None else r["Status"]) and r["Status"] in {"Aktiv", "Afsluttet", "Afbrudt"}
        assert bool(r["Timer pr. uge"]) == (r["Aktiveringstype"] == "Mentorstøtte")
    for r in files.scores:
        assert 1 <= int(r["Score"]) <= 10 and 1 <= int(r["Markør"]) <= 12
    assert {r["Budgettype"] for r in files.budget} == {"Oprindeligt budget", "Korrigeret budget"}


def test_service_catalogue_comes_from_os2bos(files: Files) -> None:
    keys = {r["Nøgle"] for r in csv.DictReader(io.StringIO((OS2BOS / "paragraphs.csv").read_text(encoding="utf-8")))}
    accounts = {r["Kont1"] for r in csv.DictReader(io.StringIO((OS2BOS / "activities.csv").read_text(encoding="utf-8")))}
    used = {r["Lovhjemmel"] for r in files.dubu} | {r["IndsatsParagraf"] for r in files.sensum}
    assert used and used <= keys
    placement_accounts = {r["Artskonto"] for r in files.ledger
                          if r["Artskonto"].startswith("5282") and r["Artskonto"][5] == "1" and r["Ydelsesmodtagernr."]}
    assert {"528221002", "528201003"} & placement_accounts
    assert placement_accounts - {"528231001"} <= accounts  # 5.28.23 has no OS2bos account string
    labels = defaultdict(set)
    for r in files.prices:
        labels[r["Ydelse"]].add(r["Ydelseskode"])
    assert all(len(v) == 1 for v in labels.values()), "unit price labels must identify a service"


def test_placements_and_ages(files: Files) -> None:
    placed = [r for r in files.dubu if r["Anbringelsestype"]]
    assert placed and {r["Anbringelsestype"] for r in placed} <= DST_PLACEMENT_TYPES
    for r in files.dubu:
        start = _dmy(r["Ydelse startdato"])
        assert start is not None and files.age(r["CPR-nummer"], start) <= 17
    for r in files.sensum:
        assert files.age(r["BorgerId"], _iso(r["IndsatsStartDato"])) >= 18  # type: ignore[arg-type]


def test_employment_not_during_benefits(files: Files) -> None:
    benefits: dict[str, list[tuple[dt.date, dt.date]]] = defaultdict(list)
    for r in files.ydelser:
        if r["Ydelseskode"] != "fleksjob":
            benefits[r["CPR-nummer"]].append((_dmy(r["Ydelses startdato"]), _dmy(r["Ydelses slutdato"]) or END))  # type: ignore[arg-type]
    for r in files.employment:
        if r["Ansættelsestype"] != "Ordinær":
            continue
        a, b = _iso(r["Startdato"]), _iso(r["Slutdato"]) or END
        for s, e in benefits.get(r["CPR-nummer"], []):
            assert b < s or a > e, (r, s, e)  # type: ignore[operator]


# --- truth figures recomputed from the files -------------------------------------------------


def test_education_and_employment_truth(gen: tuple[Path, dict[str, Any]], files: Files) -> None:
    truth = gen[1]["truth"]
    edu: dict[str, list[tuple[str, dt.date, dt.date]]] = defaultdict(list)
    for r in files.education:
        edu[r["CPR-nummer"]].append((r["Status"], _iso(r["Startdato"]), _iso(r["Slutdato"]) or END))  # type: ignore[arg-type]
    emp: dict[str, list[tuple[dt.date, dt.date]]] = defaultdict(list)
    for r in files.employment:
        emp[r["CPR-nummer"]].append((_iso(r["Startdato"]), _iso(r["Slutdato"]) or END))  # type: ignore[arg-type]
    for key, a, _ in _months():
        young = [c for c in files.cpr if files.resident(c, a) and 15 <= files.age(c, a) <= 24]
        in_edu = sum(1 for c in young if any(s == "I uddannelse" and x <= a <= y for s, x, y in edu.get(c, [])))
        adults = [c for c in files.cpr if files.resident(c, a) and 16 <= files.age(c, a) <= 64]
        employed = sum(1 for c in adults if any(x <= a <= y for x, y in emp.get(c, [])))
        assert truth["residents_15_24_by_month"][key] == len(young)
        assert truth["in_education_15_24_by_month"][key] == in_edu
        assert truth["employed_16_64_by_month"][key] == employed
    assert 0.55 < in_edu / len(young) < 0.95 and 0.5 < employed / len(adults) < 0.9


def test_departments_active_truth(gen: tuple[Path, dict[str, Any]], files: Files) -> None:
    truth = gen[1]["truth"]["persons_by_departments_active_month"]
    spans: list[tuple[str, str, dt.date, dt.date]] = []
    for r in files.ydelser:
        spans.append(("beskaeftigelse", r["CPR-nummer"], _dmy(r["Ydelses startdato"]), _dmy(r["Ydelses slutdato"]) or END))  # type: ignore[arg-type]
    for r in files.dubu:
        spans.append(("boern_familie", r["CPR-nummer"], _dmy(r["Ydelse startdato"]), _dmy(r["Ydelse slutdato"]) or END))  # type: ignore[arg-type]
    for r in files.sensum:
        spans.append(("voksen_social", r["BorgerId"], _iso(r["IndsatsStartDato"]), _iso(r["IndsatsSlutDato"]) or END))  # type: ignore[arg-type]
    for r in files.health:
        spans.append(("sundhed", r["Borger CPR"], _iso(r["Startdato"]), _iso(r["Slutdato"]) or END))  # type: ignore[arg-type]
    # The jobcenter's offers and conversations held count for the employment department.
    for r in files.offers:
        spans.append(("beskaeftigelse", r["CPR-nummer"], _dmy(r["Startdato"]), _dmy(r["Slutdato"]) or END))  # type: ignore[arg-type]
    for r in files.conversations:
        if r["Status"] == "Afholdt":
            day = _dmy(r["Afholdelsesdato"])
            spans.append(("beskaeftigelse", r["CPR-nummer"], day, day))  # type: ignore[arg-type]
    for key, a, b in _months():
        depts: dict[str, set[str]] = defaultdict(set)
        for dept, cpr, s, e in spans:
            if s <= b and e >= a:
                depts[cpr].add(dept)
        for k in (1, 2, 3):
            assert truth[str(k)][key] == sum(1 for v in depts.values() if len(v) >= k), (key, k)


def test_parents_employment_truth(gen: tuple[Path, dict[str, Any]], files: Files) -> None:
    truth = gen[1]["truth"]["parents_employment_by_placement_year"]
    parents: dict[str, list[str]] = defaultdict(list)
    for r in files.relations:
        parents[r["CPR-nummer"]].append(r["Relations CPR-nummer"])
    emp: dict[str, list[tuple[dt.date, dt.date]]] = defaultdict(list)
    for r in files.employment:
        emp[r["CPR-nummer"]].append((_iso(r["Startdato"]), _iso(r["Slutdato"]) or END))  # type: ignore[arg-type]
    first: dict[str, dt.date] = {}
    for r in files.dubu:
        if r["Anbringelsestype"]:
            s = _dmy(r["Ydelse startdato"])
            if r["CPR-nummer"] not in first or s < first[r["CPR-nummer"]]:  # type: ignore[operator]
                first[r["CPR-nummer"]] = s  # type: ignore[assignment]
    for year in range(FIRST.year, END.year + 1):
        kids = [c for c, s in first.items() if s.year == year]
        if not kids:
            assert str(year) not in truth
            continue
        for k in range(-5, 1):
            day = min(dt.date(year + k, 11, 30), END)
            den = num = 0
            for c in kids:
                for p in parents[c]:
                    if files.resident(p, day):
                        den += 1
                        num += any(x <= day <= y for x, y in emp.get(p, []))
            assert truth[str(year)][str(k)] == {"parents": den, "employed": num, "share": round(num / den, 4) if den else None}


def _unit_prices(files: Files) -> dict[tuple[int, str], tuple[float, str, str, bool, str]]:
    return {
        (int(r["År"]), r["Ydelse"]): (_num(r["Enhedspris"]), r["Enhed"], r["Funktion"], r["Registrantbogført"] == "Ja", r["Ydelseskode"])
        for r in files.prices
    }


DEPT = {"5.57": "beskaeftigelse", "5.58": "beskaeftigelse", "5.68": "beskaeftigelse", "5.48": "beskaeftigelse",
        "5.28": "boern_familie", "5.38": "voksen_social", "5.30": "sundhed", "4.62": "sundhed"}  # fmt: skip


def test_cost_truth(gen: tuple[Path, dict[str, Any]], files: Files) -> None:
    truth = gen[1]["truth"]
    prices = _unit_prices(files)
    for year in range(FIRST.year, END.year + 1):
        y0, y1 = dt.date(year, 1, 1), dt.date(year, 12, 31)
        direct: dict[str, int] = defaultdict(int)
        imputed: dict[str, int] = defaultdict(int)
        dept_total: dict[str, int] = defaultdict(int)
        dept_direct: dict[str, int] = defaultdict(int)
        dept_imputed: dict[str, int] = defaultdict(int)
        reg = total = 0
        by_dranst: dict[tuple[str, str, str], int] = defaultdict(int)
        for r in files.ledger:
            if _dmy(r["Ydelsesperiode fra"]).year != year:  # type: ignore[union-attr]
                continue
            amount = _ore(r["Beløb"]) * (1 if r["Debet/kredit"] == "D" else -1)
            acc = r["Artskonto"]
            dept = DEPT[f"{acc[0]}.{acc[1:3]}"]
            by_dranst[(dept, f"{acc[0]}.{acc[1:3]}.{acc[3:5]}", acc[5])] += amount
            if acc[5] != "1":
                continue  # attributed cost, registrant share and coverage are on operating postings
            dept_total[dept] += amount
            total += amount
            if r["Ydelsesmodtagernr."]:
                direct[r["Ydelsesmodtagernr."]] += amount
                dept_direct[dept] += amount
                reg += amount

        def months_overlap(a: dt.date, b: dt.date, year: int = year) -> list[int]:
            days = []
            for _, ma, mb in _months():
                if ma.year == year:
                    d = (min(b, mb) - max(a, ma)).days + 1
                    if d > 0:
                        days.append(d)
            return days

        def impute(
            cpr: str, label: str, a: dt.date, b: dt.date, hours: float | None,
            year: int = year, imputed: dict[str, int] = imputed, dept_imputed: dict[str, int] = dept_imputed,
        ) -> None:
            price, unit, function, registrant, _ = prices[(year, label)]
            if registrant:
                return
            for d in months_overlap(a, b):
                ore = round(d * hours / 7.0 * price * 100) if unit == "kr. pr. time" else round(d * price * 100)
                imputed[cpr] += ore
                dept_imputed[DEPT[function[:4]]] += ore

        for r in files.ydelser:
            impute(r["CPR-nummer"], r["Ydelseskode"], _dmy(r["Ydelses startdato"]), _dmy(r["Ydelses slutdato"]) or END, None)  # type: ignore[arg-type]
        for r in files.dubu:
            if (year, r["Ydelse"]) in prices:
                impute(r["CPR-nummer"], r["Ydelse"], _dmy(r["Ydelse startdato"]), _dmy(r["Ydelse slutdato"]) or END, None)  # type: ignore[arg-type]
        for r in files.sensum:
            h = _num(r["VisiteretTimerPrUge"]) if r["VisiteretTimerPrUge"] else None
            impute(r["BorgerId"], r["Indsats"], _iso(r["IndsatsStartDato"]), _iso(r["IndsatsSlutDato"]) or END, h)  # type: ignore[arg-type]
        for r in files.health:
            h = _num(r["Visiterede timer pr. uge"]) if r["Visiterede timer pr. uge"] else None
            impute(r["Borger CPR"], r["Ydelse"], _iso(r["Startdato"]), _iso(r["Slutdato"]) or END, h)  # type: ignore[arg-type]
        for r in files.enrolments:
            label = next(lbl for (yy, lbl), v in prices.items() if yy == year and v[4] == r["Program"])
            impute(r["CPR-nummer"], label, _dmy(r["Startdato"]), _dmy(r["Slutdato"]) or END, None)  # type: ignore[arg-type]
        for r in files.offers:
            h = _num(r["Timer pr. uge"]) if r["Timer pr. uge"] else None
            impute(r["CPR-nummer"], r["Aktiveringstype"], _dmy(r["Startdato"]), _dmy(r["Slutdato"]) or END, h)  # type: ignore[arg-type]
        for r in files.conversations:
            day = _dmy(r["Afholdelsesdato"])
            if r["Status"] == "Afholdt" and day.year == year:  # type: ignore[union-attr]
                price, unit, function, _, _ = prices[(year, "Samtale")]
                assert unit == "kr. pr. samtale"
                imputed[r["CPR-nummer"]] += round(price * 100)
                dept_imputed[DEPT[function[:4]]] += round(price * 100)
        for r in files.medfin:
            if r["Måned"].startswith(str(year)):
                imputed[r["CPR-nummer"]] += _ore(r["Beløb"])
                dept_imputed["sundhed"] += _ore(r["Beløb"])

        people = [c for c, p in files.cpr.items() if _iso(p["Tilflytningsdato"]) <= y1  # type: ignore[operator]
                  and (_iso(p["Dødsdato"] or p["Fraflytningsdato"]) or END) >= y0]  # fmt: skip
        cost = sorted((direct.get(c, 0) + imputed.get(c, 0) for c in people), reverse=True)
        conc = truth["cost_concentration_by_year"][str(year)]
        assert conc["persons"] == len(people)
        assert conc["total_cost_kr"] == round(sum(cost) / 100, 2)
        for pct in (1, 3, 5, 10):
            k = math.ceil(len(cost) * pct / 100)
            assert conc[f"top_{pct}_pct_share"] == round(sum(cost[:k]) / sum(cost), 4)
        assert truth["registrant_share_by_year"][str(year)] == round(reg / total, 4)
        for dept, v in truth["coverage_by_department_year"][str(year)].items():
            assert v["ledger_kr"] == round(dept_total[dept] / 100, 2)
            assert v["direct_kr"] == round(dept_direct[dept] / 100, 2)
            assert v["imputed_kr"] == round(dept_imputed[dept] / 100, 2)
        ledger = truth["ledger_by_department_function_year"][str(year)]
        assert {(d, f) for d, fns in ledger.items() for f in fns} == {(d, f) for d, f, _ in by_dranst}
        for dept, functions in ledger.items():
            for function, row in functions.items():
                gross, refunds, construction = (by_dranst.get((dept, function, k), 0) for k in "123")
                assert row == {"gross_operating_kr": round(gross / 100, 2), "refunds_kr": round(refunds / 100, 2),
                               "construction_kr": round(construction / 100, 2),
                               "net_operating_kr": round((gross + refunds) / 100, 2)}, (year, dept, function)
            dept_row = truth["ledger_by_department_year"][str(year)][dept]
            for key in ("gross_operating_kr", "refunds_kr", "construction_kr", "net_operating_kr"):
                assert dept_row[key] == pytest.approx(sum(r[key] for r in functions.values()), abs=0.005)
        # Refunds are credits where the law gives them; construction is posted.
        assert ledger["beskaeftigelse"]["5.57.73"]["refunds_kr"] < 0 and ledger["beskaeftigelse"]["5.57.71"]["refunds_kr"] < 0
        assert "5.57.78" not in ledger["beskaeftigelse"] or ledger["beskaeftigelse"]["5.57.78"]["refunds_kr"] == 0
        assert sum(r["refunds_kr"] for r in ledger["boern_familie"].values()) < 0
        assert sum(r["construction_kr"] for d in ledger.values() for r in d.values()) > 0
        # Planted levels (loose at this small size; see docs/generator.md for 100,000 residents).
        assert 0.2 < truth["registrant_share_by_year"][str(year)] < 0.45
        assert 0.15 < conc["top_1_pct_share"] < 0.5 and 0.3 < conc["top_3_pct_share"] < 0.65
        assert all(0.7 < v["coverage"] <= 1.0 for v in truth["coverage_by_department_year"][str(year)].values())


def test_refund_and_construction_postings(files: Files) -> None:
    """Refunds are credits on dranst 2 of an expense account; construction is dranst 3 on PSP elements."""
    from helhed.generator.profile import load_profile

    raw = load_profile("randers").raw
    operating = {r["Artskonto"] for r in files.ledger if r["Artskonto"][5] == "1"}
    refunds = [r for r in files.ledger if r["Artskonto"][5] == "2"]
    construction = [r for r in files.ledger if r["Artskonto"][5] == "3"]
    assert refunds and construction
    assert {r["Artskonto"][5] for r in files.ledger} == {"1", "2", "3"}
    for r in refunds:
        assert r["Artskonto"][:5] + "1" + r["Artskonto"][6:] in operating, r  # the refunded expense's account
        benefit = r["Artskonto"].startswith(("557", "558"))
        assert bool(r["Ydelsesmodtagernr."]) != benefit, r  # benefits settled per month, high-cost cases per person
        if benefit:
            assert r["Debet/kredit"] == "K" and r["Tekst"].startswith("Refusion ")
    assert not [r for r in refunds if r["Artskonto"].startswith(("55778", "54867"))], "co-financed benefits get no refund"
    assert sum(1 for r in refunds if r["Debet/kredit"] == "K") > 0.95 * len(refunds)
    functions = {p["function"].replace(".", "") for p in raw["construction"]}
    for r in construction:
        assert r["Debet/kredit"] == "D" and not r["Ydelsesmodtagernr."] and r["Artskonto"][:5] in functions
        assert r["PSP-element"].startswith("XA-0000730") and len(r["PSP-element"]) == 19, r["PSP-element"]
    assert {r["PSP-element"] for r in files.ledger if r["Artskonto"].startswith("5689")} >= {"XG-0000730100-00001"}
    # The staircase refunds 20-80 % of the benefits it covers, by the persons' weeks on benefits.
    for year in range(FIRST.year, END.year + 1):
        gross = sum(_ore(r["Beløb"]) * (1 if r["Debet/kredit"] == "D" else -1) for r in files.ledger
                    if r["Artskonto"].startswith("557731") and r["Ydelsesperiode fra"].endswith(str(year)))
        refunded = -sum(_ore(r["Beløb"]) * (1 if r["Debet/kredit"] == "D" else -1) for r in files.ledger
                        if r["Artskonto"].startswith("557732") and r["Ydelsesperiode fra"].endswith(str(year)))
        assert 0.2 * gross <= refunded <= 0.8 * gross, (year, gross, refunded)


def test_high_cost_refunds_follow_the_brackets(files: Files) -> None:
    """Per person and year, the CPR refunds equal the brackets applied to the year's registrant cost."""
    from helhed.generator.profile import load_profile

    raw = load_profile("randers").raw
    cfg, growth = raw["refunds"]["high_cost"], float(raw["annual_price_growth"])
    functions = {f.replace(".", "") for f in cfg["functions"]}
    cost: dict[tuple[str, int], int] = defaultdict(int)
    refund: dict[tuple[str, int], int] = defaultdict(int)
    for r in files.ledger:
        cpr, acc = r["Ydelsesmodtagernr."], r["Artskonto"]
        if not cpr or acc[:5] not in functions:
            continue
        key = (cpr, _dmy(r["Ydelsesperiode fra"]).year)  # type: ignore[union-attr]
        signed = _ore(r["Beløb"]) * (1 if r["Debet/kredit"] == "D" else -1)
        if acc[5] == "1":
            cost[key] += signed
        elif acc[5] == "2":
            refund[key] -= signed
    assert set(refund) <= set(cost)
    expected_any = 0
    for (cpr, year), c in cost.items():
        index = (1 + growth) ** (year - int(cfg["price_year"]))
        lows = [float(b["above"]) * 100 * index for b in cfg["brackets"]]
        want = 0.0
        for i, b in enumerate(cfg["brackets"]):
            upper = lows[i + 1] if i + 1 < len(lows) else math.inf
            want += float(b["share"]) * max(0.0, min(c, upper) - lows[i])
        assert abs(refund.get((cpr, year), 0) - round(want)) <= 1, (cpr, year, c, refund.get((cpr, year)), want)
        expected_any += want > 0
    assert expected_any, "some cases are expensive enough for a refund"


def test_refund_staircase_rules() -> None:
    import numpy as np

    from helhed.generator.dates import NONE
    from helhed.generator.lifecourse import Spells
    from helhed.generator.refunds import staircase_fraction, staircase_offsets, with_dranst

    steps = [{"from_week": 1, "share": 0.8}, {"from_week": 5, "share": 0.4}, {"from_week": 27, "share": 0.3}, {"from_week": 53, "share": 0.2}]
    # 40 fresh days: 28 at 80 %, 12 at 40 %; 10 days from day 360: 4 at 30 %, 6 at 20 %.
    got = staircase_fraction(np.array([0, 360]), np.array([40, 10]), steps)
    assert got.tolist() == pytest.approx([(28 * 0.8 + 12 * 0.4) / 40, (4 * 0.3 + 6 * 0.2) / 10])
    # Earlier spells count until a break of a year; other persons never count.
    history = Spells(np.array([1, 1, 2]), np.array([1, 1, 1]), np.array([0, 500, 0]), np.array([99, 529, 999]))
    person, start, end = np.array([1, 1, 3]), np.array([560, 800, 0]), np.array([569, NONE, 9])
    assert staircase_offsets(person, start, end, history, 1100, 364).tolist() == [30, 40, 0]
    assert with_dranst("557731001", "2") == "557732001"


def test_programme_truth(gen: tuple[Path, dict[str, Any]], files: Files) -> None:
    truth = gen[1]["truth"]["programme_effect"]
    benefits: dict[str, list[tuple[dt.date, dt.date]]] = defaultdict(list)
    for r in files.ydelser:
        benefits[r["CPR-nummer"]].append((_dmy(r["Ydelses startdato"]), _dmy(r["Ydelses slutdato"]) or END))  # type: ignore[arg-type]
    for code, res in truth.items():
        rows = [r for r in files.enrolments if r["Program"] == code]
        assert res["enrolments"] == len(rows)
        for fm in (0, 6, 12, 24, 36, 48):
            k = selfs = 0
            for r in rows:
                day = _dmy(r["Startdato"]) + dt.timedelta(days=round(fm * 30.4375))  # type: ignore[operator]
                if day > END or not files.resident(r["CPR-nummer"], day):
                    continue
                a = dt.date(day.year, day.month, 1)
                b = min(dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1) - dt.timedelta(days=1), END)
                k += 1
                selfs += not any(s <= b and e >= a for s, e in benefits[r["CPR-nummer"]])
            assert res[f"month_{fm}"]["participants"] == k
            assert res[f"month_{fm}"]["self_supporting"] == selfs
        assert res["month_0"]["self_supporting"] == 0  # enrolled while on income support


def test_tempo_truth(gen: tuple[Path, dict[str, Any]], files: Files) -> None:
    truth = gen[1]["truth"]["days_referral_to_start_by_source_year"]
    for source, rows, a_col, r_col, parse in (
        ("dubu", files.dubu, "Ydelse startdato", "Henvisningsdato", _dmy),
        ("sensum", files.sensum, "IndsatsStartDato", "HenvisningDato", _iso),
        ("sundhed", files.health, "Startdato", "Henvisningsdato", _iso),
        ("jobcenter", files.offers, "Startdato", "Henvisningsdato", _dmy),
    ):
        for year in range(FIRST.year, END.year + 1):
            days = [(parse(r[a_col]) - parse(r[r_col])).days for r in rows if parse(r[a_col]).year == year]  # type: ignore[operator,union-attr]
            if days:
                assert truth[source][str(year)] == round(sum(days) / len(days), 4)


def test_all_sources_reproducible(tmp_path: Path) -> None:
    kwargs: dict[str, Any] = {"residents": 1500, "years": 2, "seed": 2, "end_date": END, "show_progress": False}
    a = generate(out=tmp_path / "a", **kwargs)
    b = generate(out=tmp_path / "b", **kwargs)
    c = generate(out=tmp_path / "c", **{**kwargs, "seed": 3})
    sha = [{f["path"]: f["sha256"] for d in m["deliveries"] for f in d["files"]} for m in (a, b, c)]
    assert sha[0] == sha[1] and len(sha[0]) == 19
    # Unit prices come from the profile alone; every simulated file changes with the seed.
    assert [p for p in sha[0] if sha[0][p] == sha[2][p]] == ["landing/enhedspriser/2025-12-31/enhedspriser_20251231.csv"]
    assert (tmp_path / "a" / "manifest.json").read_bytes() == (tmp_path / "b" / "manifest.json").read_bytes()


def test_benefit_functions_match_dbt_seed() -> None:
    """The ledger posts each benefit group on the function the warehouse's seed says."""
    from helhed.generator.profile import load_profile

    seed = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds" / "benefit_groups.csv"
    want = {r["benefit_group"]: r["kontoplan_function"] for r in csv.DictReader(io.StringIO(seed.read_text(encoding="utf-8")))}
    ledger = load_profile("randers").raw["benefit_ledger"]
    assert {g: v["function"] for g, v in ledger.items()} == want
    assert all(v["account"].startswith(v["function"].replace(".", "")) for v in ledger.values())


# --- the jobcenter ------------------------------------------------------------------------------


def _periods_by_person(files: Files) -> dict[str, list[tuple[dt.date, dt.date, str, str, str]]]:
    """Benefit periods per CPR: (start, effective end, group, period id, visitation), sorted by start."""
    out: dict[str, list[tuple[dt.date, dt.date, str, str, str]]] = defaultdict(list)
    for r in files.ydelser:
        out[r["CPR-nummer"]].append((_dmy(r["Ydelses startdato"]), _dmy(r["Ydelses slutdato"]) or END, r["Ydelseskode"],  # type: ignore[arg-type]
                                     r["Periode-id"], r["Visitationskategori"]))
    for v in out.values():
        v.sort(key=lambda p: (p[0], p[1], p[3]))
    return out


def test_jobcenter_truth(gen: tuple[Path, dict[str, Any]], files: Files) -> None:
    """Conversations held per full-time person by the group of the benefit period covering the day (the
    latest start), and persons with both a mentor and an SEL § 99 contact person per month."""
    truth = gen[1]["truth"]
    periods = _periods_by_person(files)
    per_year = truth["conversations_by_group_year"]
    for year in range(FIRST.year, END.year + 1):
        a, b = dt.date(year, 1, 1), dt.date(year, 12, 31)
        count: dict[str, int] = defaultdict(int)
        for r in files.conversations:
            day = _dmy(r["Afholdelsesdato"])
            if r["Status"] != "Afholdt" or not a <= day <= b:  # type: ignore[operator]
                continue
            covering = [p for p in periods.get(r["CPR-nummer"], []) if p[0] <= day <= p[1]]  # type: ignore[operator]
            if covering:
                count[covering[-1][2]] += 1
        days: dict[str, int] = defaultdict(int)
        for rows in periods.values():
            for s, e, group, _, _ in rows:
                days[group] += max(0, (min(e, b) - max(s, a)).days + 1)
        for group, row in per_year.items():
            got = row[str(year)]
            assert (got["conversations"], got["benefit_days"], got["days"]) == (count[group], days[group], (b - a).days + 1), (group, year)
            want = round(count[group] / (days[group] / ((b - a).days + 1)), 4) if days[group] else None
            assert got["per_full_time_person"] == want, (group, year)
    assert sum(r[str(END.year)]["conversations"] for r in per_year.values()) > 0
    mentors = [(r["CPR-nummer"], _dmy(r["Startdato"]), _dmy(r["Slutdato"]) or END) for r in files.offers if r["Aktiveringstype"] == "Mentorstøtte"]
    contact = [(r["BorgerId"], _iso(r["IndsatsStartDato"]), _iso(r["IndsatsSlutDato"]) or END) for r in files.sensum
               if r["IndsatsParagraf"] == "SEL-99"]  # fmt: skip
    for key, a, b in _months():
        with_mentor = {c for c, s, e in mentors if s <= b and e >= a}  # type: ignore[operator]
        with_contact = {c for c, s, e in contact if s <= b and e >= a}  # type: ignore[operator]
        assert truth["mentor_and_contact_person_by_month"][key] == len(with_mentor & with_contact), key
    assert sum(truth["mentor_and_contact_person_by_month"].values()) > 0, "some mentors run beside a contact person"


def test_jobcenter_follows_the_life_courses(files: Files) -> None:
    """Conversations and offers lie inside benefit periods; the aktivitetsparat get more offers than the
    jobparat, the young more mentors; sickness benefit has follow-up conversations; the first
    conversation of a period is held in person."""
    periods = _periods_by_person(files)

    def period_of(cpr: str, a: dt.date, b: dt.date) -> tuple[dt.date, dt.date, str, str, str]:
        hits = [p for p in periods.get(cpr, []) if p[0] <= a and b <= p[1]]
        assert hits, (cpr, a, b)
        return hits[-1]

    offer_days: dict[str, int] = defaultdict(int)
    mentors_by_age: dict[bool, list[bool]] = defaultdict(list)
    for r in files.offers:
        a, b = _dmy(r["Startdato"]), _dmy(r["Slutdato"]) or END
        p = period_of(r["CPR-nummer"], a, b)  # type: ignore[arg-type]
        if p[2] in {"kontanthjaelp", "uddannelseshjaelp"}:
            offer_days[p[4]] += (min(b, END) - max(a, FIRST)).days + 1  # type: ignore[type-var,operator]
        mentors_by_age[files.age(r["CPR-nummer"], a) < 30].append(r["Aktiveringstype"] == "Mentorstøtte")  # type: ignore[arg-type]
    benefit_days: dict[str, int] = defaultdict(int)
    for rows in periods.values():
        for s, e, group, _, visit in rows:
            if group in {"kontanthjaelp", "uddannelseshjaelp"}:
                benefit_days[visit] += max(0, (min(e, END) - max(s, FIRST)).days + 1)
    rate = {v: offer_days[v] / benefit_days[v] for v in ("jobparat", "aktivitetsparat")}
    assert rate["aktivitetsparat"] > rate["jobparat"] > 0, rate
    young, old = (sum(v) / len(v) for v in (mentors_by_age[True], mentors_by_age[False]))
    assert young > old, (young, old)
    first_seen: set[str] = set()
    types: dict[str, set[str]] = defaultdict(set)
    for r in sorted(files.conversations, key=lambda r: (r["CPR-nummer"], _dmy(r["Afholdelsesdato"]))):  # type: ignore[arg-type,return-value]
        day = _dmy(r["Afholdelsesdato"])
        p = period_of(r["CPR-nummer"], day, day)  # type: ignore[arg-type]
        types[p[2]].add(r["Samtaletype"])
        if p[3] not in first_seen:
            first_seen.add(p[3])
            if p[0] >= FIRST:
                assert r["Samtaleform"] == "Personligt fremmøde", r
    assert types["sygedagpenge"] == {"Opfølgningssamtale"}
    assert "Jobsamtale" in types["kontanthjaelp"] and not types.get("foertidspension") and not types.get("fleksjob")
