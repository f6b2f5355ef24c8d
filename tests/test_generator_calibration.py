"""Calibration at any size: profiles of a small, a mid-sized and a large municipality.

Each profile's population and kontanthjælp come from Statistics Denmark (FOLK1AM, AUK01,
vendored in reference/dst); its service volumes are rates per resident. Generated
municipalities must reproduce, recomputed here from the written files:

* kontanthjælp full-time persons per quarter within 2 % of the profile's AUK01 quarter
  (times ``residents / population.residents`` when generated at another size);
* person-days of every service and of placements per resident-day, and programme
  enrolments per resident-year, within 5 % of the profile's rates;
* the population on the first day of each quarter within 1 % of the profile's FOLK1AM
  curve (growth over the history, not flat).

Before the fix, volumes were scaled by ``per-100k x scale x 100,000 / residents``, which
squares the population ratio: 1.78x the services at 75,000 residents, ~2 % at 600,000.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from helhed.generator import generate
from helhed.generator.profile import load_profile

REPO = Path(__file__).resolve().parents[1]
DST = REPO / "reference" / "dst"
END = dt.date(2025, 12, 31)
#: Only the sources the checks read (the simulation is the same with every source).
SOURCES = ["cpr", "ydelser", "dubu", "sensum", "sundhed", "helhed"]
#: profile -> (residents, years). Odder and Svendborg at their DST size over the default 6
#: years. Aarhus (378,566) at one eighth of its size over 3 years: the point is that every
#: volume scales from any profile to any size, so the ratios per resident and AUK01 x 1/8 must
#: hold there too, at a cost of seconds instead of a minute.
CASES: dict[str, tuple[int | None, int]] = {"odder": (None, 6), "svendborg": (None, 6), "aarhus": (47_321, 3)}


def _dst(kind: str, municipality: str) -> dict[str, int]:
    text = (DST / f"{kind}_{municipality}.csv").read_text(encoding="utf-8-sig")
    return {r["TID"]: int(r["INDHOLD"]) for r in csv.DictReader(io.StringIO(text), delimiter=";")}


def _read(out: Path, source: str, stem: str) -> list[dict[str, str]]:
    path = out / "landing" / source / END.isoformat() / f"{stem}_{END:%Y%m%d}.csv"
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline=""), delimiter=";"))


def _iso(s: str) -> dt.date | None:
    return dt.date.fromisoformat(s) if s else None


def _dmy(s: str) -> dt.date | None:
    if not s:
        return None
    d, m, y = s.split("-")
    return dt.date(int(y), int(m), int(d))


def _overlap(a: dt.date, b: dt.date | None, lo: dt.date, hi: dt.date) -> int:
    """Days of ``[a, b]`` (``b`` None = open) inside ``[lo, hi]``."""
    return max(0, (min(b or hi, hi) - max(a, lo)).days + 1)


@pytest.fixture(scope="module", params=sorted(CASES))
def municipality(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, dict[str, Any]]:
    name = request.param
    residents, years = CASES[name]
    out = tmp_path_factory.mktemp(f"cal_{name}")
    manifest = generate(profile=name, residents=residents, years=years, seed=4, out=out, end_date=END,
                        show_progress=False, sources=SOURCES)
    return name, out, manifest


@pytest.mark.parametrize("name", ["randers", "odder", "svendborg", "aarhus"])
def test_profile_tables_are_the_dst_tables(name: str) -> None:
    profile = load_profile(name)
    folk = _dst("folk1am", name)
    assert profile.residents == folk["2025M12"]
    quarterly = {k: v for k, v in folk.items() if k[5:] in {"01", "04", "07", "10"}}
    assert {k: int(v) for k, v in profile.population["quarterly_residents"].items()} == quarterly
    auk = profile.benefits["kontanthjaelp_quarterly_full_time_persons"]
    assert {k: int(v) for k, v in auk.items()} == _dst("auk01", name)
    raw = yaml.safe_load((REPO / "profiles" / f"{name}.yaml").read_text(encoding="utf-8"))
    assert raw["municipality_code"] == profile.municipality_code and len(profile.municipality_code) == 3
    # Provider names are the municipality's own, not Randers' inherited ones.
    providers = {p for spec in profile.raw["services"].values() for p in spec["providers"]}
    assert not any("{" in p for p in providers)
    if name != "randers":
        assert not any("Randers" in p for p in providers)


def test_kontanthjaelp_per_quarter_is_auk01(municipality: tuple[str, Path, dict[str, Any]]) -> None:
    name, out, manifest = municipality
    profile = load_profile(name)
    scale = manifest["residents"] / profile.residents
    auk = _dst("auk01", name)
    first = dt.date.fromisoformat(manifest["period"]["start"])
    periods = [(_dmy(r["Ydelses startdato"]), _dmy(r["Ydelses slutdato"]))
               for r in _read(out, "ydelser", "ydelsesperioder") if r["Ydelseskode"] == "kontanthjaelp"]
    quarters = 0
    for year in range(first.year, END.year + 1):
        for q in range(1, 5):
            lo = dt.date(year, 3 * q - 2, 1)
            hi = (dt.date(year + 1, 1, 1) if q == 4 else dt.date(year, 3 * q + 1, 1)) - dt.timedelta(days=1)
            days = sum(_overlap(a, b, lo, hi) for a, b in periods)  # type: ignore[arg-type]
            fte = days / ((hi - lo).days + 1)
            target = auk[f"{year}Q{q}"] * scale
            assert fte == pytest.approx(target, rel=0.02), (name, f"{year}Q{q}", fte, target)
            quarters += 1
    assert quarters == 4 * CASES[name][1]


def _resident_days(out: Path, lo: dt.date, hi: dt.date) -> int:
    total = 0
    for r in _read(out, "cpr", "cpr_personer"):
        leave = _iso(r["Dødsdato"]) or _iso(r["Fraflytningsdato"])
        total += _overlap(_iso(r["Tilflytningsdato"]), leave, lo, hi)  # type: ignore[arg-type]
    return total


def test_service_volumes_per_resident_are_the_profile_rates(municipality: tuple[str, Path, dict[str, Any]]) -> None:
    name, out, manifest = municipality
    raw = load_profile(name).raw
    lo = dt.date.fromisoformat(manifest["period"]["start"])
    resident_days = _resident_days(out, lo, END)
    person_days: dict[str, int] = defaultdict(int)
    by_label = {spec["label"]: code for code, spec in raw["services"].items()}
    for r in _read(out, "dubu", "dubu_ydelser"):
        key = "placements" if r["Anbringelsestype"] else by_label[r["Ydelse"]]
        person_days[key] += _overlap(_dmy(r["Ydelse startdato"]), _dmy(r["Ydelse slutdato"]), lo, END)  # type: ignore[arg-type]
    for r in _read(out, "sensum", "sensum_indsatser"):
        person_days[by_label[r["Indsats"]]] += _overlap(_iso(r["IndsatsStartDato"]), _iso(r["IndsatsSlutDato"]), lo, END)  # type: ignore[arg-type]
    for r in _read(out, "sundhed", "sundhed_ydelser"):
        person_days[by_label[r["Ydelse"]]] += _overlap(_iso(r["Startdato"]), _iso(r["Slutdato"]), lo, END)  # type: ignore[arg-type]
    rates = {code: float(spec["stock_per_100k"]) for code, spec in raw["services"].items()}
    rates["placements"] = float(raw["placements"]["stock_per_100k"])
    assert set(person_days) == set(rates)
    for code, per_100k in rates.items():
        got = person_days[code] / resident_days * 1e5
        assert got == pytest.approx(per_100k, rel=0.05), (name, code, got, per_100k)
    enrolments = _read(out, "helhed", "forloeb")
    for prog in raw["programmes"]:
        n = sum(1 for r in enrolments if r["Program"] == prog["code"])
        got = n / (resident_days / 365.25) * 1e5
        assert got == pytest.approx(float(prog["enrolments_per_year_per_100k"]), rel=0.05), (name, prog["code"], got)


def test_population_follows_folk1am(municipality: tuple[str, Path, dict[str, Any]]) -> None:
    name, out, manifest = municipality
    profile = load_profile(name)
    scale = manifest["residents"] / profile.residents
    folk = _dst("folk1am", name)
    persons = [(_iso(r["Tilflytningsdato"]), _iso(r["Dødsdato"]) or _iso(r["Fraflytningsdato"]))
               for r in _read(out, "cpr", "cpr_personer")]
    start = dt.date.fromisoformat(manifest["period"]["start"])
    generated: dict[str, int] = {}
    for key, value in folk.items():
        day = dt.date(int(key[:4]), int(key[5:]), 1)
        if not start <= day <= END or key[5:] not in {"01", "04", "07", "10"}:
            continue
        generated[key] = sum(1 for a, b in persons if a <= day and (b is None or b >= day))  # type: ignore[operator]
        assert generated[key] == pytest.approx(value * scale, rel=0.01), (name, key)
    assert len(generated) >= min(4 * CASES[name][1], 17) - 1  # FOLK1AM starts 2021M10
    # Growth, not flat: the generated population grows as much as DST's over the checked quarters.
    first, last = min(generated), max(generated)
    assert generated[last] / generated[first] - folk[last] / folk[first] == pytest.approx(0, abs=0.01), (first, last)
    assert folk[last] / folk[first] > 1.01  # every profile's municipality grew over these quarters


def test_municipality_code_is_used(tmp_path: Path) -> None:
    manifest = generate(profile="odder", residents=1500, years=1, seed=2, out=tmp_path, end_date=END, show_progress=False,
                        sources=["cpr", "ydelser", "oekonomi"])
    assert (manifest["municipality_code"], manifest["municipality"]) == ("727", "Odder Kommune")
    path = tmp_path / "landing" / "oekonomi" / END.isoformat() / f"posteringer_{END:%Y%m%d}.csv"
    rows = list(csv.DictReader(io.StringIO(path.read_bytes().decode("cp1252"), newline=""), delimiter=";"))
    psp = {r["PSP-element"] for r in rows if r["PSP-element"]}
    assert psp and all(p[3:10] == "0000727" for p in psp), psp
    postal = {r["Postnummer"] for r in _read(tmp_path, "cpr", "cpr_personer")}
    assert postal <= {"8300", "8350", "8799"}


@pytest.mark.parametrize(
    ("section", "text", "message"),
    [
        ("benefits", "benefits: {approximate_full_time_persons: {a_dagpenge: 10}}", "approximate_full_time_persons_per_100k"),
        ("overheads", 'overheads: [{label: x, account: "568901002", function: "5.68.90", cost_centre: "1", amount: 5}]', "amount_per_resident"),
        ("code", 'municipality_code: "73"', "3-digit"),
        ("population", "population: {quarterly_residents: {'2021-10': 5}}", "DST month"),
    ],
)
def test_absolute_amounts_are_rejected(tmp_path: Path, section: str, text: str, message: str) -> None:
    path = tmp_path / f"{section}.yaml"
    path.write_text(f"base: randers\nname: broken\n{text}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_profile(path)
