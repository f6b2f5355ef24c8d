"""``generate()``: run the stages in order and write the delivery folders and manifest.

The stages each take their own random stream derived from ``(seed, stage number)``, so a
change in one stage's draws does not shift the others, and the same seed always gives
the same bytes. Nothing reads the wall clock or depends on dict/set iteration order.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from helhed.generator.benefits import finalize_periods
from helhed.generator.calibrate import calibrate_group
from helhed.generator.cpr import make_cprs
from helhed.generator.dates import from_day, months_between, quarters_between, shift_years, to_day
from helhed.generator.lifecourse import clip_to_residence, draw_persons, simulate_spells
from helhed.generator.population import residents_on, simulate_population
from helhed.generator.profile import BENEFIT_GROUPS, load_profile
from helhed.generator.truth import benefit_truth
from helhed.generator.writers import CPR_HEADER, YDELSER_HEADER, cpr_rows, write_csv, ydelser_rows

GENERATOR_VERSION = "1"
DEFAULT_END_DATE = dt.date(2025, 12, 31)
MANIFEST_NAME = "manifest.json"


def stream(seed: int, stage: int) -> np.random.Generator:
    """The random generator of one stage: PCG64 seeded with ``(seed, stage)``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, stage])))


def history_window(end_date: dt.date, years: int) -> tuple[dt.date, dt.date]:
    """``years`` whole years ending on ``end_date`` (2025-12-31, 6 -> 2020-01-01..2025-12-31)."""
    if years < 1:
        raise ValueError("years must be at least 1")
    return shift_years(end_date, -years) + dt.timedelta(days=1), end_date


def generate(
    profile: str | Path = "randers",
    residents: int | None = None,
    years: int = 6,
    seed: int = 1,
    out: Path = Path("data"),
    end_date: dt.date = DEFAULT_END_DATE,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Generate a synthetic municipality into ``out`` and return its truth manifest.

    Writes ``out/landing/cpr/<end_date>/cpr_personer_<yyyymmdd>.csv``,
    ``out/landing/ydelser/<end_date>/ydelsesperioder_<yyyymmdd>.csv`` (one initial full
    delivery holding the whole history) and ``out/manifest.json``.
    """
    prof = load_profile(profile)
    n_residents = prof.residents if residents is None else int(residents)
    if n_residents < 100:
        raise ValueError("residents must be at least 100")
    scale = n_residents / prof.residents
    first, last = history_window(end_date, years)
    start, end = to_day(first), to_day(last)
    months, quarters = months_between(first, last), quarters_between(first, last)
    out = Path(out)
    steps = tqdm(total=7, desc="helhed generate", unit="step", disable=not show_progress)

    steps.set_postfix_str("population")
    population = simulate_population(prof, n_residents, start, end, stream(seed, 1))
    steps.update()
    steps.set_postfix_str("CPR numbers")
    cprs = make_cprs(population.birth, population.male, stream(seed, 2))
    person_rank = np.empty(len(population), dtype=np.int64)
    cpr_order = np.array(sorted(range(len(cprs)), key=cprs.__getitem__), dtype=np.int64)
    person_rank[cpr_order] = np.arange(len(cprs))
    steps.update()

    steps.set_postfix_str("life courses")
    persons = draw_persons(prof, population, stream(seed, 3))
    spells = simulate_spells(prof, population, persons, start, end, stream(seed, 4))
    spells = clip_to_residence(spells, population, start, end)
    steps.update()
    steps.set_postfix_str("calibration")
    kh_targets = {q.key: prof.kontanthjaelp_target(q.key) * scale for q in quarters}
    spells = calibrate_group(
        spells, "kontanthjaelp", kh_targets, quarters, prof, population, persons, end, stream(seed, 5)
    )
    periods = finalize_periods(spells, prof, person_rank, end, stream(seed, 6))
    steps.update()

    steps.set_postfix_str("truth")
    truth = benefit_truth(periods, population, months, quarters, end)
    steps.update()

    steps.set_postfix_str("writing CPR")
    stamp, folder = last.strftime("%Y%m%d"), last.isoformat()
    cpr_path = out / "landing" / "cpr" / folder / f"cpr_personer_{stamp}.csv"
    cpr_count, cpr_sha = write_csv(cpr_path, CPR_HEADER, cpr_rows(population, cprs, cpr_order))
    steps.update()
    steps.set_postfix_str("writing benefits")
    yd_path = out / "landing" / "ydelser" / folder / f"ydelsesperioder_{stamp}.csv"
    yd_count, yd_sha = write_csv(yd_path, YDELSER_HEADER, ydelser_rows(periods, cprs))
    steps.update()
    steps.close()

    fte_q = truth["full_time_persons_by_group_quarter"]
    approx = prof.benefits["approximate_full_time_persons"]
    manifest: dict[str, Any] = {
        "generator_version": GENERATOR_VERSION,
        "profile": prof.name,
        "profile_path": str(prof.path),
        "seed": seed,
        "residents": n_residents,
        "scale": round(scale, 6),
        "residents_at_end": int(residents_on(population, end).sum()),
        "persons_in_extract": len(population),
        "period": {"start": first.isoformat(), "end": last.isoformat(), "years": years},
        "deliveries": [
            {
                "source": "cpr",
                "delivery_date": folder,
                "kind": "full",
                "files": [{"path": cpr_path.relative_to(out).as_posix(), "rows": cpr_count, "sha256": cpr_sha}],
            },
            {
                "source": "ydelser",
                "delivery_date": folder,
                "kind": "full",
                "files": [{"path": yd_path.relative_to(out).as_posix(), "rows": yd_count, "sha256": yd_sha}],
            },
        ],
        "calibration": {
            "kontanthjaelp_full_time_persons_by_quarter": {
                q.key: {"target": round(kh_targets[q.key], 4), "generated": fte_q["kontanthjaelp"][q.key]} for q in quarters
            },
            "approximate_full_time_persons_mean": {
                g: {
                    "target": round(float(approx[g]) * scale, 2),
                    "generated": round(float(np.mean([fte_q[g][q.key] for q in quarters])), 2),
                }
                for g in BENEFIT_GROUPS
                if g in approx
            },
        },
        "truth": truth,
        "bad_data": {},
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST_NAME).write_text(json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    return manifest


__all__ = ["generate", "history_window", "DEFAULT_END_DATE", "from_day"]
