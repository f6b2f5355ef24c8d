"""Calibration profiles: the YAML that says what kind of municipality to generate.

A profile is data, not code, so a BI team can add "a municipality like ours" without
touching the generator. This module finds a profile by name or path, validates the parts
the generator relies on, and exposes them as plain typed values.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from helhed.config import REPO_ROOT

#: Benefit groups in a fixed order (index + 1 is the state number in the simulation;
#: state 0 means "no benefit"). Same codes as dbt_project/seeds/benefit_groups.csv.
BENEFIT_GROUPS: tuple[str, ...] = (
    "a_dagpenge",
    "kontanthjaelp",
    "uddannelseshjaelp",
    "selvforsoergelsesydelse",
    "sygedagpenge",
    "jobafklaringsforloeb",
    "ressourceforloeb",
    "revalidering",
    "ledighedsydelse",
    "fleksjob",
    "foertidspension",
)
VISITATION_CATEGORIES: tuple[str, ...] = ("jobparat", "aktivitetsparat", "uddannelsesparat")
PROFILES_DIR = REPO_ROOT / "profiles"
#: Kinds of bad data a profile can turn on (row rates per row, file rates per file).
BAD_DATA_KINDS: tuple[str, ...] = (
    "invalid_cpr", "unknown_code", "end_before_start",
    "duplicated_file", "truncated_file", "wrong_encoding", "missing_columns",
)  # fmt: skip


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
    def population(self) -> dict[str, Any]:
        return self.raw["population"]

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


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``override`` into ``base`` (mappings merge, everything else replaces)."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key != "bad_data":
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
    for key in ("name", "population", "geography", "benefits", "lifecourse"):
        if key not in raw:
            raise ValueError(f"{path}: missing top-level key {key!r}")
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
