"""Tests of nightly increments (late corrections) and bad data of ``helhed generate``."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from helhed.generator import generate
from helhed.generator.cpr import parse_cpr
from helhed.generator.profile import BENEFIT_GROUPS, load_profile

END = dt.date(2025, 12, 31)
N_DAYS = 12


def _rows(path: Path, encoding: str = "utf-8-sig") -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode(encoding), newline=""), delimiter=";"))


def _dmy(s: str) -> dt.date | None:
    if not s:
        return None
    d, m, y = s.split("-")
    return dt.date(int(y), int(m), int(d))


def _iso(s: str) -> dt.date | None:
    return dt.date.fromisoformat(s) if s else None


@pytest.fixture(scope="module")
def inc(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("inc")
    m = generate(residents=5000, years=2, seed=3, out=out, end_date=END, show_progress=False, daily_increments=N_DAYS, sources=["cpr", "ydelser"])
    return out, m


def _latest(out: Path, manifest: dict[str, Any], source: str, key: str | tuple[str, ...], stem: str | None = None,
            encoding: str = "utf-8-sig") -> dict[Any, dict[str, str]]:
    """The newest version of every row of a source's files (``stem``: one kind of file), by ``key``."""
    state: dict[Any, dict[str, str]] = {}
    for d in sorted((d for d in manifest["deliveries"] if d["source"] == source), key=lambda d: d["delivery_date"]):
        for f in d["files"]:
            if stem is not None and not Path(f["path"]).name.startswith(stem + "_2"):
                continue
            for r in _rows(out / f["path"], encoding):
                state[r[key] if isinstance(key, str) else tuple(r[k] for k in key)] = r
    return state


def test_increment_folders(inc: tuple[Path, dict[str, Any]]) -> None:
    out, m = inc
    dates = sorted({d["delivery_date"] for d in m["deliveries"]})
    assert dates[0] == "2025-12-31" and len(dates) == N_DAYS + 1
    assert dates[-1] == (END + dt.timedelta(days=N_DAYS)).isoformat()
    assert m["period"]["end"] == dates[-1] and m["period"]["initial_delivery"] == "2025-12-31"
    assert [d["kind"] for d in m["deliveries"]].count("full") == 2
    for d in m["deliveries"]:
        for f in d["files"]:
            assert (out / f["path"]).exists() and f["path"].split("/")[2] == d["delivery_date"]
    assert not (out / "landing" / "dubu").exists()


def test_increments_only_carry_changes(inc: tuple[Path, dict[str, Any]]) -> None:
    out, m = inc
    seen: dict[str, dict[str, str]] = {}
    for d in sorted((d for d in m["deliveries"] if d["source"] == "ydelser"), key=lambda d: d["delivery_date"]):
        day = dt.date.fromisoformat(d["delivery_date"])
        for r in _rows(out / d["files"][0]["path"]):
            start = _dmy(r["Ydelses startdato"])
            assert start is not None and start <= day
            if d["kind"] == "increment":
                assert r["Periode-id"] not in seen or seen[r["Periode-id"]] != r, "unchanged row re-delivered"
                end = _dmy(r["Ydelses slutdato"])
                assert r["Periode-id"] not in seen or end is not None
            seen[r["Periode-id"]] = r


def test_back_dated_corrections(inc: tuple[Path, dict[str, Any]]) -> None:
    out, m = inc
    assert m["corrections"], "expected late end registrations"
    by_date = {d["delivery_date"]: d for d in m["deliveries"] if d["source"] == "ydelser"}
    initial = {r["Periode-id"]: r for r in _rows(out / by_date["2025-12-31"]["files"][0]["path"])}
    for c in (c for c in m["corrections"] if c["source"] == "ydelser"):
        assert c["kind"] == "back_dated_end" and c["days_late"] > 1
        rows = {r["Periode-id"]: r for r in _rows(out / by_date[c["delivery_date"]]["files"][0]["path"])}
        assert _dmy(rows[c["period_id"]]["Ydelses slutdato"]) == dt.date.fromisoformat(c["end_date"])
        assert dt.date.fromisoformat(c["end_date"]) < dt.date.fromisoformat(c["delivery_date"])
        if c["period_id"] in initial and dt.date.fromisoformat(c["end_date"]) <= END:
            assert initial[c["period_id"]]["Ydelses slutdato"] == "", "the initial delivery showed it open"


def test_truth_is_latest_delivery_state(inc: tuple[Path, dict[str, Any]]) -> None:
    out, m = inc
    last = dt.date.fromisoformat(m["period"]["end"])
    first = dt.date.fromisoformat(m["period"]["start"])
    periods = list(_latest(out, m, "ydelser", "Periode-id").values())
    persons = _latest(out, m, "cpr", "CPR-nummer")
    truth = m["truth"]
    y, mo = first.year, first.month
    while (y, mo) <= (last.year, last.month):
        a = dt.date(y, mo, 1)
        b = min(dt.date(y + (mo == 12), mo % 12 + 1, 1) - dt.timedelta(days=1), last)
        key = f"{y:04d}-{mo:02d}"
        days: dict[str, int] = defaultdict(int)
        on: set[str] = set()
        for r in periods:
            s, e = _dmy(r["Ydelses startdato"]), _dmy(r["Ydelses slutdato"]) or last
            ov = (min(e, b) - max(s, a)).days + 1  # type: ignore[type-var,operator]
            if ov > 0:
                days[r["Ydelseskode"]] += ov
                on.add(r["CPR-nummer"])
        for g in BENEFIT_GROUPS:
            assert truth["benefit_days_by_group_month"][g][key] == days[g], (g, key)
        res = [
            c for c, p in persons.items()
            if _iso(p["Tilflytningsdato"]) <= a  # type: ignore[operator]
            and (not p["Fraflytningsdato"] or _iso(p["Fraflytningsdato"]) >= a)  # type: ignore[operator]
            and (not p["Dødsdato"] or _iso(p["Dødsdato"]) >= a)  # type: ignore[operator]
            and 16 <= a.year - int(p["Fødselsdato"][:4]) - ((a.month, a.day) < (int(p["Fødselsdato"][5:7]), int(p["Fødselsdato"][8:10]))) <= 64
        ]  # fmt: skip
        assert truth["residents_16_64_by_month"][key] == len(res)
        assert truth["self_supporting_16_64_by_month"][key] == sum(1 for c in res if c not in on)
        y, mo = (y + 1, 1) if mo == 12 else (y, mo + 1)


def test_increments_are_reproducible(inc: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    out, m = inc
    m2 = generate(residents=5000, years=2, seed=3, out=tmp_path, end_date=END, show_progress=False, daily_increments=N_DAYS, sources=["cpr", "ydelser"])
    assert [f["sha256"] for d in m["deliveries"] for f in d["files"]] == [f["sha256"] for d in m2["deliveries"] for f in d["files"]]


# --- bad data ---------------------------------------------------------------------------------

BAD_RATES = {
    "invalid_cpr": 0.01, "unknown_code": 0.01, "end_before_start": 0.01,
    "duplicated_file": 1.0, "truncated_file": 1.0, "wrong_encoding": 1.0, "missing_columns": 1.0,
}  # fmt: skip


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    root = tmp_path_factory.mktemp("bad")
    prof = root / "bad.yaml"
    prof.write_text("base: randers\nname: bad_test\nbad_data: " + json.dumps(BAD_RATES) + "\n", encoding="utf-8")
    kwargs: dict[str, Any] = {"residents": 2500, "years": 2, "seed": 5, "end_date": END, "show_progress": False, "daily_increments": 3}
    m_bad = generate(profile=prof, out=root / "bad", **kwargs)
    m_clean = generate(out=root / "clean", **kwargs)
    return root / "bad", m_bad, m_clean


def test_demo_profile_has_no_bad_data() -> None:
    assert load_profile("randers").bad_data == {}
    assert all(v > 0 for v in load_profile("randers_bad").bad_data.values())


def test_bad_data_does_not_change_truth(bad: tuple[Path, dict[str, Any], dict[str, Any]]) -> None:
    _, m_bad, m_clean = bad
    assert m_bad["truth"] == m_clean["truth"]
    kinds = {d["kind"] for d in m_bad["bad_data"]["defects"]}
    assert kinds == set(BAD_RATES)


def test_tagged_rows_are_defective_and_others_clean(bad: tuple[Path, dict[str, Any], dict[str, Any]]) -> None:
    out, m, _ = bad
    tags: dict[str, dict[int, str]] = defaultdict(dict)
    for d in m["bad_data"]["defects"]:
        if "line" in d:
            tags[d["file"]][d["line"]] = d["kind"]
    codes = set(BENEFIT_GROUPS)
    path = "landing/ydelser/2025-12-31/ydelsesperioder_20251231.csv"
    rows = _rows(out / path)
    assert tags[path]
    for line, r in enumerate(rows, start=2):
        kind = tags[path].get(line)
        cpr_ok = parse_cpr(r["CPR-nummer"]) is not None
        code_ok = r["Ydelseskode"] in codes
        s, e = _dmy(r["Ydelses startdato"]), _dmy(r["Ydelses slutdato"])
        order_ok = e is None or e >= s  # type: ignore[operator]
        assert (cpr_ok, code_ok, order_ok) == (kind != "invalid_cpr", kind != "unknown_code", kind != "end_before_start"), (line, kind, r)
    clean_rows = next(f["rows"] for d in m["deliveries"] for f in d["files"] if f["path"] == path)
    assert len(rows) == clean_rows + len(tags[path])


def test_tagged_files(bad: tuple[Path, dict[str, Any], dict[str, Any]]) -> None:
    out, m, _ = bad
    files = [d for d in m["bad_data"]["defects"] if "copy_of" in d]
    assert files
    for d in files:
        copy, orig = (out / d["file"]).read_bytes(), (out / d["copy_of"]).read_bytes()
        ledger = "/oekonomi/" in d["file"]
        if d["kind"] == "duplicated_file":
            assert copy == orig
        elif d["kind"] == "truncated_file":
            assert len(copy) < len(orig) and orig.startswith(copy) and not copy.endswith(b"\n")
        elif d["kind"] == "wrong_encoding":
            assert copy != orig
            if ledger:
                assert copy.decode("utf-8") == orig.decode("cp1252")
            else:
                assert not copy.startswith(b"\xef\xbb\xbf")
        else:
            header = copy.decode("cp1252" if ledger else "utf-8-sig").split("\r\n")[0].split(";")
            assert d["missing_column"] not in header


def test_defects_hit_the_nightly_files_too(bad: tuple[Path, dict[str, Any], dict[str, Any]]) -> None:
    """The nightly increments of every source, the new jobcenter files included, can carry defects."""
    out, m, _ = bad
    nightly = [d for d in m["bad_data"]["defects"] if d["file"].split("/")[2] > END.isoformat()]
    assert {"jobcenter", "dubu", "sensum", "sundhed", "uddannelse", "eindkomst", "helhed", "oekonomi"} <= {d["source"] for d in nightly}
    rows = [d for d in nightly if "line" in d]
    assert rows and {d["source"] for d in rows} - {"cpr", "ydelser"}, "row defects in the phase-2 nightly files"
    for d in rows:
        assert (out / d["file"]).exists()


# --- all sources with nightly increments ----------------------------------------------------

NIGHTS_ALL = 20


@pytest.fixture(scope="module")
def inc_all(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("inc_all")
    m = generate(residents=6000, years=2, seed=8, out=out, end_date=END, show_progress=False, daily_increments=NIGHTS_ALL)
    return out, m


def test_relations_name_only_delivered_persons(inc_all: tuple[Path, dict[str, Any]]) -> None:
    """Each night's CPR relations name only persons of that night's or an earlier CPR extract."""
    out, m = inc_all
    known: set[str] = set()
    linked_later = 0
    for d in sorted((d for d in m["deliveries"] if d["source"] == "cpr"), key=lambda d: d["delivery_date"]):
        files = {Path(f["path"]).name.split("_2")[0]: out / f["path"] for f in d["files"]}
        known |= {r["CPR-nummer"] for r in _rows(files["cpr_personer"])}
        relations = _rows(files["cpr_relationer"])
        for r in relations:
            assert r["CPR-nummer"] in known and r["Relations CPR-nummer"] in known, (d["delivery_date"], r)
        if d["kind"] == "increment":
            linked_later += len(relations)
    assert linked_later, "some links only become deliverable on a later night (a birth or a family moving in)"


def test_cost_truth_sees_the_back_dated_ends(inc_all: tuple[Path, dict[str, Any]]) -> None:
    """Imputed cost of benefits billed in aggregate is priced on the periods as the last night left them."""
    out, m = inc_all
    initial = dt.date.fromisoformat(m["period"]["initial_delivery"])
    first = dt.date.fromisoformat(m["period"]["start"])
    prices = {(int(r["År"]), r["Ydelseskode"]): (float(r["Enhedspris"].replace(",", ".")), r["Funktion"])
              for r in _rows(out / f"landing/enhedspriser/{initial}/enhedspriser_{initial:%Y%m%d}.csv")
              if r["Registrantbogført"] == "Nej"}
    by_label = {(int(r["År"]), r["Ydelse"]): (float(r["Enhedspris"].replace(",", ".")), r["Enhed"])
                for r in _rows(out / f"landing/enhedspriser/{initial}/enhedspriser_{initial:%Y%m%d}.csv")}
    final = list(_latest(out, m, "ydelser", "Periode-id").values())
    initial_rows = _rows(out / f"landing/ydelser/{initial}/ydelsesperioder_{initial:%Y%m%d}.csv")
    enrolments = list(_latest(out, m, "helhed", "Forløbs-id", "forloeb").values())
    offers = list(_latest(out, m, "jobcenter", "Tilbuds-id", "tilbud").values())
    held = [r for r in _latest(out, m, "jobcenter", "Samtale-id", "samtaler").values() if r["Status"] == "Afholdt"]

    def imputed(periods: list[dict[str, str]], year: int) -> int:
        """Imputed cost of the employment department: benefits billed in aggregate and programmes (by
        code), the jobcenter's offers (by label, per day or hour) and conversations held (per conversation)."""
        total = 0
        spans = [(s, e, code, None) for s, e, code in
                 [(_dmy(r["Ydelses startdato"]), _dmy(r["Ydelses slutdato"]), r["Ydelseskode"]) for r in periods]
                 + [(_dmy(r["Startdato"]), _dmy(r["Slutdato"]), r["Program"]) for r in enrolments]]
        for mo in range(1, 13):
            a = max(dt.date(year, mo, 1), first)
            b = min(dt.date(year + (mo == 12), mo % 12 + 1, 1) - dt.timedelta(days=1), initial)
            for s, e, code, _ in spans:
                price = prices.get((year, code))
                if price is None or not price[1].startswith(("5.57", "5.58", "5.68", "5.48")):
                    continue
                days = (min(e or b, b) - max(s, a)).days + 1  # type: ignore[operator,type-var]
                if days > 0:
                    total += round(days * price[0] * 100)
            for r in offers:
                days = (min(_dmy(r["Slutdato"]) or b, b) - max(_dmy(r["Startdato"]), a)).days + 1  # type: ignore[operator,type-var]
                up, unit = by_label[(year, r["Aktiveringstype"])]
                if days > 0:
                    hours = float(r["Timer pr. uge"].replace(",", ".")) if unit == "kr. pr. time" else 7.0
                    total += round(days * hours / 7.0 * up * 100) if unit == "kr. pr. time" else round(days * up * 100)
            conv_price = by_label[(year, "Samtale")][0]
            total += sum(round(conv_price * 100) for r in held if a <= _dmy(r["Afholdelsesdato"]) <= b)  # type: ignore[operator]
        return total

    differs = False
    for year, departments in m["truth"]["coverage_by_department_year"].items():
        want = imputed(final, int(year))
        assert departments["beskaeftigelse"]["imputed_kr"] == round(want / 100, 2), year
        differs |= want != imputed(initial_rows, int(year))
    assert differs, "some a-dagpenge or førtidspension end was registered late, after the initial delivery"


def test_every_source_delivers_nightly_corrections(inc_all: tuple[Path, dict[str, Any]]) -> None:
    """Every source that changes delivers nightly increments, and each kind of late correction occurs."""
    out, m = inc_all
    nightly_rows: dict[str, int] = defaultdict(int)
    for d in m["deliveries"]:
        if d["kind"] == "increment":
            nightly_rows[d["source"]] += sum(f["rows"] for f in d["files"])
    once = {"enhedspriser", "beslutninger"}  # unit prices are set once a year, decisions at the budget reviews
    assert {s for s, n in nightly_rows.items() if n} == set(m["sources"]) - once
    kinds = {(c["source"], c["kind"]) for c in m["corrections"]}
    assert {
        ("ydelser", "back_dated_end"), ("dubu", "back_dated_end"), ("sensum", "back_dated_end"), ("sundhed", "back_dated_end"),
        ("sundhed", "late_record"), ("sundhed", "corrected_amount"), ("uddannelse", "late_record"), ("eindkomst", "late_record"),
        ("helhed", "corrected_row"), ("oekonomi", "reversal"), ("jobcenter", "late_record"), ("jobcenter", "back_dated_end"),
        ("jobcenter", "status_change"),
    } <= kinds, kinds
    for c in m["corrections"]:
        if c["kind"] in {"back_dated_end", "late_record"}:
            assert c["days_late"] > 1, c


def _versions(out: Path, m: dict[str, Any], source: str, stem: str, key: str) -> dict[str, list[tuple[str, dict[str, str]]]]:
    """Every delivered version of every row, by key: [(delivery date, row), ...] oldest first."""
    versions: dict[str, list[tuple[str, dict[str, str]]]] = defaultdict(list)
    for d in sorted((d for d in m["deliveries"] if d["source"] == source), key=lambda d: d["delivery_date"]):
        for f in d["files"]:
            if Path(f["path"]).name.startswith(stem + "_2"):
                for r in _rows(out / f["path"]):
                    versions[r[key]].append((d["delivery_date"], r))
    return versions


def test_nightly_corrections_re_deliver_rows_by_their_ids(inc_all: tuple[Path, dict[str, Any]]) -> None:
    """A back-dated end, a status change or a corrected row comes again under the same id."""
    out, m = inc_all
    sensum = _versions(out, m, "sensum", "sensum_indsatser", "IndsatsId")
    changed = [v for v in sensum.values() if len(v) > 1]
    assert changed
    for v in changed:
        (_, old), (day, new) = v[0], v[-1]
        assert (old["IndsatsStatus"], old["IndsatsSlutDato"]) == ("Aktiv", "") and new["IndsatsStatus"] == "Afsluttet"
        assert _iso(new["IndsatsSlutDato"]) < dt.date.fromisoformat(day) - dt.timedelta(days=1)  # type: ignore[operator]
    dubu = [v for v in _versions(out, m, "dubu", "dubu_ydelser", "Ydelses-id").values() if len(v) > 1]
    assert dubu and all(v[0][1]["Ydelse slutdato"] == "" and v[-1][1]["Ydelse slutdato"] for v in dubu)
    enrolments = [v for v in _versions(out, m, "helhed", "forloeb", "Forløbs-id").values() if len(v) > 1]
    corrected = [v for v in enrolments if any(v[0][1][c] != v[-1][1][c] and v[0][1][c] for c in ("Koordinator", "Plandato"))]
    assert corrected, "a coordinator or plan date corrected under the same enrolment id"
    for v in corrected:
        assert v[0][1]["Startdato"] == v[-1][1]["Startdato"] and v[0][1]["CPR-nummer"] == v[-1][1]["CPR-nummer"]
    conv = [v for v in _versions(out, m, "jobcenter", "samtaler", "Samtale-id").values() if len(v) > 1]
    assert conv and all((v[0][1]["Status"], v[-1][1]["Status"]) == ("Afholdt", "Udeblevet") for v in conv)
    offers = [v for v in _versions(out, m, "jobcenter", "tilbud", "Tilbuds-id").values() if len(v) > 1]
    assert offers and all(v[0][1]["Status"] == "Aktiv" and v[-1][1]["Status"] in {"Afsluttet", "Afbrudt"} for v in offers)


def test_ledger_corrections_are_reversals_on_new_vouchers(inc_all: tuple[Path, dict[str, Any]]) -> None:
    """A night's postings never reuse a voucher; each reversal (K) mirrors a posting delivered before it,
    and a re-posting (D) with a corrected amount follows it."""
    out, m = inc_all
    seen: dict[tuple[str, str], dict[str, str]] = {}
    by_content: dict[tuple[str, ...], int] = defaultdict(int)
    nights = 0
    for d in sorted((d for d in m["deliveries"] if d["source"] == "oekonomi"), key=lambda d: d["delivery_date"]):
        for f in d["files"]:
            if not Path(f["path"]).name.startswith("posteringer_2"):
                continue
            rows = _rows(out / f["path"], "cp1252")
            if d["kind"] == "increment":
                nights += bool(rows)
                reversed_, reposted = Counter(), Counter()
                for r in rows:
                    content = (r["Artskonto"], r["Ydelsesmodtagernr."], r["Ydelsesperiode fra"], r["Ydelsesperiode til"], r["Beløb"])
                    if r["Debet/kredit"] == "K":
                        assert r["Tekst"].startswith("Tilbageført: ") and r["Ydelsesmodtagernr."]
                        assert by_content[content] > 0, "a reversal mirrors an earlier posting"
                        by_content[content] -= 1
                        reversed_[content[:4]] += 1
                    else:
                        assert r["Tekst"].startswith("Korrigeret: ")
                        reposted[content[:4]] += 1
                assert reversed_ == reposted, "every reversal is re-posted (same account, CPR and period)"
            for r in rows:
                key = (r["Bilagsnummer"], r["Bilagslinje"])
                assert key not in seen, f"voucher line {key} delivered twice"
                seen[key] = r
                if r["Debet/kredit"] == "D" and r["Ydelsesmodtagernr."]:
                    by_content[(r["Artskonto"], r["Ydelsesmodtagernr."], r["Ydelsesperiode fra"], r["Ydelsesperiode til"], r["Beløb"])] += 1
    assert nights >= NIGHTS_ALL // 2


def test_phase2_truth_is_the_state_after_the_last_night(inc_all: tuple[Path, dict[str, Any]]) -> None:
    """Departments active and the mentor-and-contact-person group, recomputed from the newest version of
    every row of every delivery, equal the truth: the manifest describes the state after the last night."""
    out, m = inc_all
    initial = dt.date.fromisoformat(m["period"]["initial_delivery"])
    last = dt.date.fromisoformat(m["period"]["end"])
    first = dt.date.fromisoformat(m["period"]["start"])
    spans: list[tuple[str, str, dt.date, dt.date]] = []
    for r in _latest(out, m, "ydelser", "Periode-id").values():
        spans.append(("beskaeftigelse", r["CPR-nummer"], _dmy(r["Ydelses startdato"]), _dmy(r["Ydelses slutdato"]) or last))  # type: ignore[arg-type]
    for r in _latest(out, m, "jobcenter", "Tilbuds-id", "tilbud").values():
        spans.append(("beskaeftigelse", r["CPR-nummer"], _dmy(r["Startdato"]), _dmy(r["Slutdato"]) or last))  # type: ignore[arg-type]
    held = [r for r in _latest(out, m, "jobcenter", "Samtale-id", "samtaler").values() if r["Status"] == "Afholdt"]
    spans += [("beskaeftigelse", r["CPR-nummer"], _dmy(r["Afholdelsesdato"]), _dmy(r["Afholdelsesdato"])) for r in held]  # type: ignore[misc]
    for r in _latest(out, m, "dubu", "Ydelses-id").values():
        spans.append(("boern_familie", r["CPR-nummer"], _dmy(r["Ydelse startdato"]), _dmy(r["Ydelse slutdato"]) or last))  # type: ignore[arg-type]
    sensum = list(_latest(out, m, "sensum", "IndsatsId").values())
    for r in sensum:
        spans.append(("voksen_social", r["BorgerId"], _iso(r["IndsatsStartDato"]), _iso(r["IndsatsSlutDato"]) or last))  # type: ignore[arg-type]
    for r in _latest(out, m, "sundhed", "Forløbs-id", "sundhed_ydelser").values():
        spans.append(("sundhed", r["Borger CPR"], _iso(r["Startdato"]), _iso(r["Slutdato"]) or last))  # type: ignore[arg-type]
    truth = m["truth"]["persons_by_departments_active_month"]
    y, mo = first.year, first.month
    while (y, mo) <= (initial.year, initial.month):
        a, b = dt.date(y, mo, 1), dt.date(y + (mo == 12), mo % 12 + 1, 1) - dt.timedelta(days=1)
        depts: dict[str, set[str]] = defaultdict(set)
        for dept, cpr, s, e in spans:
            if s <= b and e >= a:
                depts[cpr].add(dept)
        for k in (1, 2, 3):
            assert truth[str(k)][f"{y:04d}-{mo:02d}"] == sum(1 for v in depts.values() if len(v) >= k), (y, mo, k)
        y, mo = (y + 1, 1) if mo == 12 else (y, mo + 1)
    mentors = [(r["CPR-nummer"], _dmy(r["Startdato"]), _dmy(r["Slutdato"]) or last)
               for r in _latest(out, m, "jobcenter", "Tilbuds-id", "tilbud").values() if r["Aktiveringstype"] == "Mentorstøtte"]
    contact = [(r["BorgerId"], _iso(r["IndsatsStartDato"]), _iso(r["IndsatsSlutDato"]) or last) for r in sensum if r["IndsatsParagraf"] == "SEL-99"]
    for key, count in m["truth"]["mentor_and_contact_person_by_month"].items():
        a = dt.date(int(key[:4]), int(key[5:]), 1)
        b = min(dt.date(a.year + (a.month == 12), a.month % 12 + 1, 1) - dt.timedelta(days=1), last)
        both = {c for c, s, e in mentors if s <= b and e >= a} & {c for c, s, e in contact if s <= b and e >= a}  # type: ignore[operator]
        assert count == len(both), key
    assert list(m["truth"]["mentor_and_contact_person_by_month"])[-1] == f"{last:%Y-%m}"
