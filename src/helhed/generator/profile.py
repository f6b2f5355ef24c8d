"""Calibration profiles: the YAML that says what kind of municipality to generate.

A profile is data, not code, so a BI team can add "a municipality like ours" without
touching the generator. This module finds a profile by name or path, validates the parts
the generator relies on, and exposes them as plain typed values.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from helhed.config import REPO_ROOT
from helhed.generator.dates import to_day
from helhed.sources import read_seed_column

SEEDS_DIR = REPO_ROOT / "dbt_project" / "seeds"
#: Benefit groups in the seed's order (index + 1 is the state number in the simulation; state 0
#: means "no benefit"), and the visitation categories: read from the dbt seeds, the code lists
#: dbt, the loader (config/sources.yaml) and the gates use too.
BENEFIT_GROUPS: tuple[str, ...] = tuple(read_seed_column(SEEDS_DIR / "benefit_groups.csv", "benefit_group"))
VISITATION_CATEGORIES: tuple[str, ...] = tuple(read_seed_column(SEEDS_DIR / "visitation_categories.csv",
                                                                "visitation_category"))
PROFILES_DIR = REPO_ROOT / "profiles"
#: Kinds of bad data a profile can turn on (row rates per row, file rates per file).
BAD_DATA_KINDS: tuple[str, ...] = (
    "invalid_cpr", "unknown_code", "end_before_start",
    "duplicated_file", "truncated_file", "wrong_encoding", "missing_columns",
)  # fmt: skip


#: Placeholders in any string of a profile, replaced by the profile's top-level key of that
#: name: provider names such as "Familiehuset {town}" then fit every municipality that
#: inherits the catalogue with ``base:``.
PLACEHOLDERS: tuple[str, ...] = ("town", "region")


def parse_band(band: str) -> tuple[int, int]:
    """``"18-29"`` -> ``(18, 29)`` (inclusive ages)."""
    lo, hi = band.split("-")
    return int(lo), int(hi)


@dataclass(frozen=True)
class Profile:
    """A loaded calibration profile (the raw mapping plus validated accessors)."""

    name: str
    path: Path
    raw: dict[str, Any]

    @property
    def residents(self) -> int:
        return int(self.raw["population"]["residents"])

    @property
    def municipality(self) -> str:
        return str(self.raw.get("municipality", self.name))

    @property
    def municipality_code(self) -> str:
        """The DST/CPR municipality code (3 digits, e.g. ``"730"`` for Randers)."""
        return str(self.raw["municipality_code"])

    @property
    def population(self) -> dict[str, Any]:
        return self.raw["population"]

    def population_curve(self, days: np.ndarray) -> np.ndarray:
        """The profile's population (DST FOLK1AM level) on each day number in ``days``.

        ``population.quarterly_residents`` holds FOLK1AM's population on the first day of a
        month (keys ``"YYYYMmm"``, quarter months). Between two of them the curve is linear;
        before the first and after the last it grows at the table's constant annual rate
        (fitted from its first to its last value), so any history window has a population.
        """
        table = sorted((_month_day(k), float(v)) for k, v in self.population["quarterly_residents"].items())
        x = np.array([d for d, _ in table], dtype=float)
        y = np.array([v for _, v in table])
        d = np.asarray(days, dtype=float)
        rate = np.log(y[-1] / y[0]) / (x[-1] - x[0]) if len(x) > 1 and x[-1] > x[0] else 0.0
        inside = np.interp(d, x, y)
        before = y[0] * np.exp(rate * (d - x[0]))
        after = y[-1] * np.exp(rate * (d - x[-1]))
        return np.where(d < x[0], before, np.where(d > x[-1], after, inside))

    @property
    def geography(self) -> list[dict[str, Any]]:
        return self.raw["geography"]["postal_codes"]

    @property
    def benefits(self) -> dict[str, Any]:
        return self.raw["benefits"]

    @property
    def lifecourse(self) -> dict[str, Any]:
        return self.raw["lifecourse"]

    @property
    def bad_data(self) -> dict[str, float]:
        return {str(k): float(v) for k, v in (self.raw.get("bad_data") or {}).items()}

    def kontanthjaelp_target(self, quarter: str) -> float:
        """Profile full-time persons on kontanthjælp for ``"YYYYQn"`` (nearest quarter if outside)."""
        table = {str(k): float(v) for k, v in self.benefits["kontanthjaelp_quarterly_full_time_persons"].items()}
        if quarter in table:
            return table[quarter]
        keys = sorted(table)
        return table[keys[0]] if quarter < keys[0] else table[keys[-1]]


def _month_day(key: str) -> int:
    """``"2021M10"`` -> day number of 1 October 2021 (FOLK1AM counts on the month's first day)."""
    year, month = key.split("M")
    return to_day(dt.date(int(year), int(month), 1))


def _fill_placeholders(value: Any, names: dict[str, str]) -> Any:
    """Replace ``{town}``/``{region}`` in every string of a profile (recursively)."""
    if isinstance(value, str):
        for key, name in names.items():
            value = value.replace("{" + key + "}", name)
        return value
    if isinstance(value, list):
        return [_fill_placeholders(v, names) for v in value]
    if isinstance(value, dict):
        return {k: _fill_placeholders(v, names) for k, v in value.items()}
    return value


#: Mappings a profile replaces as a whole instead of merging key by key: a municipality's own
#: DST tables must not keep another municipality's quarters.
REPLACED_MAPPINGS: frozenset[str] = frozenset({"bad_data", "quarterly_residents", "kontanthjaelp_quarterly_full_time_persons"})


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``override`` into ``base`` (mappings merge, everything else replaces)."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key not in REPLACED_MAPPINGS:
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def resolve_profile_path(profile: str | Path) -> Path:
    """A path to an existing file, or a name looked up as ``profiles/<name>.yaml``."""
    candidate = Path(profile)
    if candidate.suffix in {".yaml", ".yml"} and candidate.exists():
        return candidate
    named = PROFILES_DIR / f"{profile}.yaml"
    if named.exists():
        return named
    raise FileNotFoundError(f"profile {profile!r} not found (looked for {candidate} and {named})")


def load_profile(profile: str | Path = "randers") -> Profile:
    """Load and check a profile; raises ``ValueError`` with the offending key if malformed."""
    path = resolve_profile_path(profile)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    seen = {path.resolve()}
    while "base" in raw:  # a profile may extend another and override some keys
        base_path = resolve_profile_path(raw.pop("base"))
        if base_path.resolve() in seen:
            raise ValueError(f"{path}: circular profile base {base_path}")
        seen.add(base_path.resolve())
        raw = _merge(yaml.safe_load(base_path.read_text(encoding="utf-8")), raw)
    for key in ("name", "municipality_code", "population", "geography", "benefits", "lifecourse"):
        if key not in raw:
            raise ValueError(f"{path}: missing top-level key {key!r}")
    _check_scaling(path, raw)
    missing = [key for key in PLACEHOLDERS if key not in raw]
    if missing:
        raise ValueError(f"{path}: missing top-level key(s) {missing} (names that fill {{town}}/{{region}} in the catalogue)")
    raw = _fill_placeholders(raw, {key: str(raw[key]) for key in PLACEHOLDERS})
    lc = raw["lifecourse"]
    for table in ("entry", "entry_young", "transitions"):
        for origin, row in lc[table].items():
            total = sum(float(v) for v in row.values())
            if abs(total - 1.0) > 1e-6:
                raise ValueError(f"{path}: lifecourse.{table}.{origin} sums to {total}, not 1")
            for dest in row:
                if dest != "none" and dest not in BENEFIT_GROUPS:
                    raise ValueError(f"{path}: unknown benefit group {dest!r} in lifecourse.{table}.{origin}")
    for group in BENEFIT_GROUPS:
        if group not in lc["duration"] or group not in raw["benefits"]["rates"]:
            raise ValueError(f"{path}: benefit group {group!r} needs lifecourse.duration and benefits.rates")
    for kind, rate in (raw.get("bad_data") or {}).items():
        if kind not in BAD_DATA_KINDS:
            raise ValueError(f"{path}: unknown bad_data kind {kind!r}; choose from {', '.join(BAD_DATA_KINDS)}")
        if not 0.0 <= float(rate) <= 1.0:
            raise ValueError(f"{path}: bad_data.{kind} must be a rate between 0 and 1")
    return Profile(name=str(raw["name"]), path=path, raw=raw)


def _check_scaling(path: Path, raw: dict[str, Any]) -> None:
    """The keys the generator scales by: a municipality code, a DST population curve, and
    volumes per resident instead of absolute amounts (which would not fit another size)."""
    code = str(raw["municipality_code"])
    if not (code.isdigit() and len(code) == 3):
        raise ValueError(f"{path}: municipality_code must be the 3-digit DST municipality code, not {code!r}")
    pop = raw["population"]
    table = pop.get("quarterly_residents")
    if not table:
        raise ValueError(f"{path}: population.quarterly_residents (DST FOLK1AM, 'YYYYMmm': residents) is required")
    for key, value in table.items():
        if not (isinstance(key, str) and len(key) == 7 and key[4] == "M" and key[:4].isdigit() and key[5:].isdigit()):
            raise ValueError(f"{path}: population.quarterly_residents key {key!r} is not a DST month like '2021M10'")
        if not float(value) > 0:
            raise ValueError(f"{path}: population.quarterly_residents[{key!r}] must be positive")
    if "approximate_full_time_persons" in raw["benefits"]:
        raise ValueError(f"{path}: benefits.approximate_full_time_persons is absolute; give approximate_full_time_persons_per_100k")
    for item in raw.get("overheads", []):
        if "amount" in item:
            raise ValueError(f"{path}: overhead {item.get('label')!r} has an absolute amount; give amount_per_resident (kr. per resident per year)")
    for prog in raw.get("programmes", []):
        if "coordinators" in prog:
            raise ValueError(f"{path}: programme {prog.get('code')!r}: give coordinators_per_100k, not an absolute number")
