"""Tests of ``helhed generate`` phase 1: CPR extract and jobcenter benefit periods.

Every truth figure in the manifest is recomputed here independently, in plain Python,
from the written CSV files, with the definitions of docs/generator.md.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from helhed.generator import generate
from helhed.generator.cpr import parse_cpr
from helhed.generator.profile import BENEFIT_GROUPS, load_profile

REPO = Path(__file__).resolve().parents[1]

RESIDENTS, YEARS, SEED = 3000, 2, 7
END = dt.date(2025, 12, 31)
CPR_HEADER = "CPR-nummer;Fødselsdato;Køn;Postnummer;Distrikt;Tilflytningsdato;Fraflytningsdato;Dødsdato"
YD_HEADER = (
    "Periode-id;CPR-nummer;Ydelseskode;Ydelses startdato;Ydelses slutdato;Ydelses sats;"
    "Ydelses beløb;Beløbsenhed;Visitationskategori"
)
RANDERS_POSTAL = {"8900", "8920", "8930", "8940", "8950", "8960", "8970", "8981", "8870", "8983", "8990"}
VISIT_GROUPS = {"kontanthjaelp", "uddannelseshjaelp", "selvforsoergelsesydelse"}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("gen")
    manifest = generate(residents=RESIDENTS, years=YEARS, seed=SEED, out=out, end_date=END, show_progress=False)
    return out, manifest


def _files(out: Path) -> tuple[Path, Path]:
    return (
        out / "landing/cpr/2025-12-31/cpr_personer_20251231.csv",
        out / "landing/ydelser/2025-12-31/ydelsesperioder_20251231.csv",
    )


def _rows_in_manifest(manifest: dict[str, Any], path: Path, out: Path) -> int:
    rel = path.relative_to(out).as_posix()
    return next(f["rows"] for d in manifest["deliveries"] for f in d["files"] if f["path"] == rel)


def _read(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM expected"
    return list(csv.DictReader(io.StringIO(raw[3:].decode("utf-8"), newline=""), delimiter=";"))


def _iso(s: str) -> dt.date | None:
    return dt.date.fromisoformat(s) if s else None


def _dmy(s: str) -> dt.date | None:
    if not s:
        return None
    d, m, y = s.split("-")
    assert len(d) == 2 and len(m) == 2 and len(y) == 4, s
    return dt.date(int(y), int(m), int(d))


def _months(first: dt.date, last: dt.date) -> list[tuple[str, dt.date, dt.date]]:
    out, y, m = [], first.year, first.month
    while (y, m) <= (last.year, last.month):
        a = dt.date(y, m, 1)
        b = dt.date(y + (m == 12), m % 12 + 1, 1) - dt.timedelta(days=1)
        out.append((f"{y:04d}-{m:02d}", max(a, first), min(b, last)))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _quarters(first: dt.date, last: dt.date) -> list[tuple[str, dt.date, dt.date]]:
    out = []
    for y in range(first.year, last.year + 1):
        for q in range(1, 5):
            a = dt.date(y, 3 * q - 2, 1)
            b = (dt.date(y + 1, 1, 1) if q == 4 else dt.date(y, 3 * q + 1, 1)) - dt.timedelta(days=1)
            if b >= first and a <= last:
                out.append((f"{y}Q{q}", max(a, first), min(b, last)))
    return out


def _age(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


# --- format ---------------------------------------------------------------------------------


def test_cpr_file_format(run: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = run
    cpr_path, _ = _files(out)
    text = cpr_path.read_bytes()[3:].decode("utf-8")
    assert text.splitlines()[0] == CPR_HEADER
    rows = _read(cpr_path)
    assert len(rows) == _rows_in_manifest(manifest, cpr_path, out)
    seen = set()
    for r in rows:
        parsed = parse_cpr(r["CPR-nummer"])
        assert parsed is not None, r["CPR-nummer"]
        born, sex = parsed
        assert born == _iso(r["Fødselsdato"]) and sex == r["Køn"] and sex in {"M", "K"}
        assert r["Postnummer"] in RANDERS_POSTAL and r["Distrikt"]
        moved_in = _iso(r["Tilflytningsdato"])
        assert moved_in is not None and moved_in >= born
        for key in ("Fraflytningsdato", "Dødsdato"):
            d = _iso(r[key])
            assert d is None or (born <= d <= END and d >= moved_in)
        assert not (r["Fraflytningsdato"] and r["Dødsdato"])
        seen.add(r["CPR-nummer"])
    assert len(seen) == len(rows), "CPR numbers must be unique"


def test_cpr_rules() -> None:
    assert parse_cpr("0101901233") == (dt.date(1990, 1, 1), "M")
    assert parse_cpr("0101054232") == (dt.date(2005, 1, 1), "K")  # 7th digit 4, yy <= 36
    assert parse_cpr("0101584232") == (dt.date(1958, 1, 1), "K")  # 7th digit 4, yy > 36
    assert parse_cpr("0101585232") == (dt.date(1858, 1, 1), "K")
    assert parse_cpr("3102901233") is None
    assert parse_cpr("01019012") is None


def test_benefit_file_format(run: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = run
    cpr_path, yd_path = _files(out)
    text = yd_path.read_bytes()[3:].decode("utf-8")
    assert text.splitlines()[0] == YD_HEADER
    persons = {r["CPR-nummer"]: r for r in _read(cpr_path)}
    rows = _read(yd_path)
    assert len(rows) == _rows_in_manifest(manifest, yd_path, out) > 50
    ids = set()
    for r in rows:
        assert r["CPR-nummer"] in persons
        assert r["Ydelseskode"] in BENEFIT_GROUPS
        start, end = _dmy(r["Ydelses startdato"]), _dmy(r["Ydelses slutdato"])
        assert start is not None and (end is None or end >= start)
        for key in ("Ydelses sats", "Ydelses beløb"):
            whole, frac = r[key].split(",")
            assert whole.isdigit() and len(frac) == 2 and "." not in r[key]
        assert r["Beløbsenhed"] in {"kr. pr. måned", "kr. pr. uge"}
        if r["Ydelseskode"] in VISIT_GROUPS:
            assert r["Visitationskategori"] in {"jobparat", "aktivitetsparat", "uddannelsesparat"}
        else:
            assert r["Visitationskategori"] == ""
        ids.add(r["Periode-id"])
    assert len(ids) == len(rows)
    assert {r["Ydelseskode"] for r in rows} >= {"kontanthjaelp", "sygedagpenge", "foertidspension"}


# --- invariants -------------------------------------------------------------------------------


def test_life_course_invariants(run: tuple[Path, dict[str, Any]]) -> None:
    out, _ = run
    cpr_path, yd_path = _files(out)
    persons = {r["CPR-nummer"]: r for r in _read(cpr_path)}
    by_person: dict[str, list[tuple[dt.date, dt.date]]] = defaultdict(list)
    for r in _read(yd_path):
        p = persons[r["CPR-nummer"]]
        start = _dmy(r["Ydelses startdato"])
        end = _dmy(r["Ydelses slutdato"]) or END
        assert start is not None
        born = _iso(p["Fødselsdato"])
        assert born is not None and _age(born, start) >= 18 and _age(born, end) < 67
        moved_in = _iso(p["Tilflytningsdato"])
        assert moved_in is not None and start >= moved_in
        leave = _iso(p["Dødsdato"]) or _iso(p["Fraflytningsdato"])
        assert leave is None or end <= leave
        if not r["Ydelses slutdato"]:
            assert leave is None, "open period of a person who left"
        by_person[r["CPR-nummer"]].append((start, end))
    for spans in by_person.values():
        spans.sort()
        for (_a1, b1), (a2, _) in zip(spans, spans[1:]):
            assert a2 > b1, "overlapping periods"
    # Life courses, not single rows: some persons move between groups.
    assert sum(len(v) > 1 for v in by_person.values()) > 10


# --- reproducibility ---------------------------------------------------------------------------


def test_same_seed_same_bytes(run: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    out, _ = run
    generate(residents=RESIDENTS, years=YEARS, seed=SEED, out=tmp_path, end_date=END, show_progress=False)
    for a, b in zip(_files(out), _files(tmp_path)):
        assert a.read_bytes() == b.read_bytes()
    assert json.loads((out / "manifest.json").read_text())["truth"] == json.loads((tmp_path / "manifest.json").read_text())["truth"]


def test_different_seed_differs(run: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    out, _ = run
    generate(residents=RESIDENTS, years=YEARS, seed=SEED + 1, out=tmp_path, end_date=END, show_progress=False)
    for a, b in zip(_files(out), _files(tmp_path)):
        assert a.read_bytes() != b.read_bytes()


# --- truth figures, recomputed from the files --------------------------------------------------


def _recompute(out: Path, first: dt.date) -> dict[str, Any]:
    cpr_path, yd_path = _files(out)
    persons = _read(cpr_path)
    periods = []
    for r in _read(yd_path):
        periods.append(
            (r["CPR-nummer"], r["Ydelseskode"], _dmy(r["Ydelses startdato"]), _dmy(r["Ydelses slutdato"]) or END,
             int(r["Periode-id"]), r["Visitationskategori"])
        )  # fmt: skip
    res: dict[str, Any] = {
        "benefit_days_by_group_month": {g: {} for g in BENEFIT_GROUPS},
        "full_time_persons_by_group_month": {g: {} for g in BENEFIT_GROUPS},
        "persons_by_group_month": {g: {} for g in BENEFIT_GROUPS},
        "persons_by_visitation_month": {c: {} for c in ("jobparat", "aktivitetsparat", "uddannelsesparat", "ikke_visiteret")},
        "residents_16_64_by_month": {},
        "self_supporting_16_64_by_month": {},
        "benefit_days_by_group_quarter": {g: {} for g in BENEFIT_GROUPS},
        "full_time_persons_by_group_quarter": {g: {} for g in BENEFIT_GROUPS},
    }
    for key, a, b in _months(first, END):
        ndays = (b - a).days + 1
        days: dict[str, int] = defaultdict(int)
        who: dict[str, set[str]] = defaultdict(set)
        last: dict[str, tuple[dt.date, int, str]] = {}
        for cpr, g, s, e, pid, v in periods:
            ov = (min(e, b) - max(s, a)).days + 1
            if ov > 0:
                days[g] += ov
                who[g].add(cpr)
                if cpr not in last or (s, pid) > last[cpr][:2]:
                    last[cpr] = (s, pid, v)
        for g in BENEFIT_GROUPS:
            res["benefit_days_by_group_month"][g][key] = days[g]
            res["full_time_persons_by_group_month"][g][key] = round(days[g] / ndays, 4)
            res["persons_by_group_month"][g][key] = len(who[g])
        for c in res["persons_by_visitation_month"]:
            res["persons_by_visitation_month"][c][key] = sum(
                1 for _, _, v in last.values() if (v or "ikke_visiteret") == c
            )
        on_benefit = set(last)
        residents = [
            p for p in persons
            if _iso(p["Tilflytningsdato"]) <= a  # type: ignore[operator]
            and (not p["Fraflytningsdato"] or _iso(p["Fraflytningsdato"]) >= a)  # type: ignore[operator]
            and (not p["Dødsdato"] or _iso(p["Dødsdato"]) >= a)  # type: ignore[operator]
            and 16 <= _age(_iso(p["Fødselsdato"]), a) <= 64  # type: ignore[arg-type]
        ]  # fmt: skip
        res["residents_16_64_by_month"][key] = len(residents)
        res["self_supporting_16_64_by_month"][key] = sum(1 for p in residents if p["CPR-nummer"] not in on_benefit)
    for key, a, b in _quarters(first, END):
        ndays = (b - a).days + 1
        for g in BENEFIT_GROUPS:
            d = sum(max(0, (min(e, b) - max(s, a)).days + 1) for _, gg, s, e, _, _ in periods if gg == g)
            res["benefit_days_by_group_quarter"][g][key] = d
            res["full_time_persons_by_group_quarter"][g][key] = round(d / ndays, 4)
    return res


def test_truth_figures_match_files(run: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = run
    first = dt.date.fromisoformat(manifest["period"]["start"])
    assert first == dt.date(2024, 1, 1)
    expected = _recompute(out, first)
    truth = manifest["truth"]
    assert set(expected) <= set(truth)
    for name, value in expected.items():
        assert truth[name] == value, name
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8"))["truth"] == truth
    # Sanity: self-support is the large majority but not everyone.
    for key, n in truth["residents_16_64_by_month"].items():
        assert 0.5 * n < truth["self_supporting_16_64_by_month"][key] < n


def test_kontanthjaelp_calibrated_to_profile(run: tuple[Path, dict[str, Any]]) -> None:
    _, manifest = run
    profile = load_profile("randers")
    scale = RESIDENTS / profile.residents
    fte = manifest["truth"]["full_time_persons_by_group_quarter"]["kontanthjaelp"]
    assert len(fte) == 8
    for quarter, value in fte.items():
        target = profile.kontanthjaelp_target(quarter) * scale
        assert abs(value - target) <= 0.02 * target, (quarter, value, target)


def test_profile_matches_dst_reference() -> None:
    ref = REPO / "reference" / "dst" / "auk01_randers.csv"
    profile = load_profile("randers")
    table = profile.benefits["kontanthjaelp_quarterly_full_time_persons"]
    rows = list(csv.DictReader(io.StringIO(ref.read_text(encoding="utf-8-sig")), delimiter=";"))
    assert {r["TID"]: float(r["INDHOLD"]) for r in rows} == {k: float(v) for k, v in table.items()}
    folk = REPO / "reference" / "dst" / "folk1am_randers.csv"
    pop = {r["TID"]: int(r["INDHOLD"]) for r in csv.DictReader(io.StringIO(folk.read_text(encoding="utf-8-sig")), delimiter=";")}
    assert profile.residents == pop["2025M12"]


def test_other_groups_plausible(run: tuple[Path, dict[str, Any]]) -> None:
    """Model-driven groups land within 35 % of the profile's approximate volumes (small sample)."""
    _, manifest = run
    for group, v in manifest["calibration"]["approximate_full_time_persons_mean"].items():
        if v["target"] >= 20:
            assert 0.65 * v["target"] <= v["generated"] <= 1.35 * v["target"], (group, v)


def test_population_size_and_scaling(run: tuple[Path, dict[str, Any]]) -> None:
    _, manifest = run
    assert abs(manifest["residents_at_end"] - RESIDENTS) <= 0.05 * RESIDENTS
    assert manifest["residents"] == RESIDENTS and manifest["seed"] == SEED and manifest["profile"] == "randers"


def test_command_help() -> None:
    import typer
    from typer.testing import CliRunner

    from helhed.generator.command import generate_command

    app = typer.Typer()
    app.command()(generate_command)
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for opt in ("--profile", "--residents", "--years", "--seed", "--out", "--end-date"):
        assert opt in result.output


def test_treated_jobcenter_records_are_the_untreated_cut_at_the_exit() -> None:
    """The programme's treated course shares the jobcenter's draws with the untreated one: a
    participant's conversations on/after the exit and offers starting on/after it disappear, an
    offer running across it ends the day before as cut short (Afbrudt); other persons' records
    and the records before the exit are unchanged; the kept periods map the treated rows back."""
    import numpy as np

    from helhed.generator.benefits import Periods
    from helhed.generator.dates import NONE
    from helhed.generator.effects import jobcenter_records, kept_periods, treat_conversations, treat_offers, treat_periods
    from helhed.generator.jobcenter import OFFER_INTERRUPTED, Conversations, Offers
    from helhed.generator.services import Activities

    i64 = lambda *xs: np.array(xs, dtype=np.int64)  # noqa: E731
    exit_day = i64(100, NONE)  # person 0 exits on day 100, person 1 never
    conv = Conversations(i64(0, 0, 0, 1), i64(50, 100, 130, 130), i64(7, 7, 7, 7), i64(0, 1, 1, 0), i64(1, 2, 3, 4),
                         np.array([False, False, False, True]), ["SA1", "SA2", "SA3", "SA4"])
    treated = treat_conversations(conv, exit_day)
    assert treated.conversation_id == ["SA1", "SA4"] and treated.no_show.tolist() == [False, True]
    n = 5
    act = Activities(i64(0, 0, 0, 0, 1), ["tilbud_praktik", "tilbud_mentor", "tilbud_vejledning", "tilbud_praktik", "tilbud_praktik"],
                     i64(10, 60, 90, 100, 90), i64(40, NONE, 150, 120, 150), i64(5, 50, 80, 90, 80), np.array([0, 3.0, 0, 0, 0]),
                     np.zeros(n), ["x"] * n, [""] * n, ["TB1", "TB2", "TB3", "TB4", "TB5"], ["JC0001"] * n)  # fmt: skip
    offers = Offers(act, np.array([False, False, False, False, False]))
    t = treat_offers(offers, exit_day, end=500)
    assert t.act.activity_id == ["TB1", "TB2", "TB3", "TB5"]
    assert t.act.end.tolist() == [40, 99, 99, 150]
    assert t.status(t.act.end) == ["Afsluttet", OFFER_INTERRUPTED, OFFER_INTERRUPTED, "Afsluttet"]
    assert t.act.hours.tolist() == [0, 3.0, 0, 0]
    # An exit after the last simulated day cuts nothing of an open offer.
    assert treat_offers(offers, i64(600, NONE), end=500).act.end.tolist() == act.end.tolist()
    # As known on day 95: offers started by then (open if they end later), conversations held by then.
    known = jobcenter_records(offers, conv, 95, "samtale", "Jobcenter")
    assert known["jobcenter"].activity_id == ["TB1", "TB2", "TB3", "TB5"] and known["jobcenter"].end.tolist() == [40, NONE, NONE, NONE]
    assert known["samtaler"].activity_id == ["SA1"] and known["samtaler"].service == ["samtale"]
    periods = Periods(i64(0, 0, 1), i64(1, 1, 1), i64(10, 120, 10), i64(NONE, NONE, 40), i64(1, 1, 1), np.zeros(3), np.zeros(3),
                      ["kr. pr. måned"] * 3, ["P1", "P2", "P3"])  # fmt: skip
    kept = kept_periods(periods, exit_day)
    treated_periods = treat_periods(periods, exit_day)
    assert kept.tolist() == [0, 2] and [periods.period_id[i] for i in kept] == treated_periods.period_id
    assert treated_periods.end.tolist() == [99, 40]
