"""The evaluation's choices, read from ``config/evaluation.yaml`` (documented in docs/economics.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from helhed.config import REPO_ROOT

CONFIG_PATH = REPO_ROOT / "config" / "evaluation.yaml"


@dataclass(frozen=True)
class ProgrammeConfig:
    """What the evaluation needs to know about a programme the register does not say."""

    wbs_element: str | None = None
    family: bool = False


@dataclass(frozen=True)
class EvaluationConfig:
    baseline_months: int = 12
    follow_up_months: int = 60
    eligible_benefit_groups: tuple[str, ...] = ()
    neighbours: int = 5
    caliper_sd: float = 0.2
    smd_threshold: float = 0.1
    smd_limit: float = 0.25
    min_share_balanced: float = 0.8
    min_common_support: float = 0.9
    min_match_rate: float = 0.5
    replicates: int = 200
    seed: int = 20250101
    level: float = 0.95
    programmes: dict[str, ProgrammeConfig] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None = None, **overrides: Any) -> EvaluationConfig:
        """Read the YAML file; keyword arguments override (tests use fewer replicates)."""
        raw = yaml.safe_load((path or CONFIG_PATH).read_text(encoding="utf-8")) or {}
        m, b = raw.get("matching") or {}, raw.get("bootstrap") or {}
        values: dict[str, Any] = {
            "baseline_months": int(raw.get("baseline_months", 12)),
            "follow_up_months": int(raw.get("follow_up_months", 60)),
            "eligible_benefit_groups": tuple(raw.get("eligible_benefit_groups") or ()),
            "neighbours": int(m.get("neighbours", 5)),
            "caliper_sd": float(m.get("caliper_sd", 0.2)),
            "smd_threshold": float(m.get("smd_threshold", 0.1)),
            "smd_limit": float(m.get("smd_limit", 0.25)),
            "min_share_balanced": float(m.get("min_share_balanced", 0.8)),
            "min_common_support": float(m.get("min_common_support", 0.9)),
            "min_match_rate": float(m.get("min_match_rate", 0.5)),
            "replicates": int(b.get("replicates", 200)),
            "seed": int(b.get("seed", 20250101)),
            "level": float(b.get("level", 0.95)),
            "programmes": {code: ProgrammeConfig(**(spec or {})) for code, spec in (raw.get("programmes") or {}).items()},
        }
        values.update(overrides)
        if not values["eligible_benefit_groups"]:
            raise ValueError(f"{path or CONFIG_PATH}: eligible_benefit_groups is empty")
        if values["replicates"] < 1 or values["neighbours"] < 1:
            raise ValueError(f"{path or CONFIG_PATH}: bootstrap.replicates and matching.neighbours must be >= 1")
        return cls(**values)
