"""Budget reallocation proposals: the dbt models that need the evaluation's freed-resource draws.

Budget reviews, the decision register and programme baselines are ordinary dbt models, built by
the nightly ``dbt build`` (docs/economics.md). The reallocation proposals also need the
freed-resource draws (``build_restricted.programme_freed_resources_draws``: programme,
department, month, draw, freed_dkk), which the evaluation step writes *after* that build. So
the models that read them are tagged ``freed_resources`` and built a second time, here, once
the draws exist: a dbt selection instead of a Python calculation, so the proposals keep their
contracts, tests, lineage and documentation like every other mart, and ``gate_marts`` then
validates them before publishing. In the first build the draws do not exist yet and the
proposals hold the separate-unit rows only (the network model needs the draws).

The selection runs ``dbt build`` in a subprocess with its own target path (so it never
rewrites the project's manifest, which Superset's column descriptions read) and is deterministic: the same build
schemas and draws give the same proposals.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from helhed.airflow_support import dbt_project_dir
from helhed.config import Settings
from helhed.redaction import redact

log = logging.getLogger(__name__)

#: dbt tag of the models (and tests) that read the draws.
FREED_RESOURCES_TAG = "freed_resources"
#: The evaluation step's table of freed-resource draws, in the build schema of the restricted marts.
DRAWS_SCHEMA = "build_restricted"
DRAWS_TABLE = "programme_freed_resources_draws"
#: Seconds one selection may take before it is stopped.
TIMEOUT_SECONDS = 1800


class BuildFailed(Exception):
    """The dbt selection failed (a model or a test with severity error)."""


class NothingToBuild(Exception):
    """The build schemas are missing: run the nightly dbt build first."""


@dataclass
class SelectionResult:
    """What the second selection did."""

    has_draws: bool
    seconds: float
    statuses: dict[str, str] = field(default_factory=dict)

    @property
    def warnings(self) -> list[str]:
        return sorted(uid for uid, status in self.statuses.items() if status == "warn")

    def summary(self) -> dict:
        return {"has_draws": self.has_draws, "seconds": round(self.seconds, 1), "nodes": len(self.statuses),
                "warnings": self.warnings}


def _draws_exist(s: Settings) -> bool:
    with psycopg.connect(s.url("helhed")) as conn:
        if conn.execute("select 1 from pg_namespace where nspname = %s", (DRAWS_SCHEMA,)).fetchone() is None:
            raise NothingToBuild(f"schema {DRAWS_SCHEMA} is missing; run the dbt build (and the evaluation) first")
        row = conn.execute("select to_regclass(%s)", (f"{DRAWS_SCHEMA}.{DRAWS_TABLE}",)).fetchone()
    return bool(row and row[0])


def _dbt_executable() -> str:
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


def default_target_path(s: Settings) -> Path:
    """A target folder of its own under ``$HELHED_HOME`` (kept between nights for partial parsing)."""
    return s.home / "dbt" / FREED_RESOURCES_TAG


def build_after_evaluation(s: Settings, *, target_path: Path | None = None,
                           dbt_vars: dict | None = None) -> SelectionResult:
    """Build the models tagged ``freed_resources`` and their tests into the build schemas.

    Call it after the evaluation step has written the draws and before ``gate_marts``. Without
    the draws table it still builds (the proposals then hold the separate-unit rows only) and
    logs a warning. Raises :class:`BuildFailed` with dbt's output when a model or an
    error-severity test fails, and :class:`NothingToBuild` when the build schemas are missing.
    """
    has_draws = _draws_exist(s)
    if not has_draws:
        log.warning("%s.%s does not exist: the reallocation proposals hold the separate-unit rows only",
                    DRAWS_SCHEMA, DRAWS_TABLE)
    target = target_path or default_target_path(s)
    target.mkdir(parents=True, exist_ok=True)
    project = dbt_project_dir()
    command = [_dbt_executable(), "build", "--select", f"tag:{FREED_RESOURCES_TAG}",
               "--project-dir", str(project), "--profiles-dir", str(project),
               "--target-path", str(target), "--log-path", str(target / "logs")]
    if dbt_vars:
        command += ["--vars", json.dumps(dbt_vars)]
    env = {**os.environ, **s.libpq_env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    started = time.monotonic()
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
    seconds = time.monotonic() - started
    results_file = target / "run_results.json"
    statuses = {}
    if results_file.exists():
        statuses = {r["unique_id"]: r["status"] for r in json.loads(results_file.read_text())["results"]}
    if proc.returncode != 0:
        raise BuildFailed(redact(f"dbt build --select tag:{FREED_RESOURCES_TAG} failed (exit {proc.returncode}):\n"
                                 f"{proc.stdout[-6000:]}\n{proc.stderr[-2000:]}"))
    result = SelectionResult(has_draws=has_draws, seconds=seconds, statuses=statuses)
    log.info("reallocation proposals built in %.1f s (%d nodes, draws %s)", seconds, len(statuses),
             "present" if has_draws else "absent")
    return result


__all__ = ["BuildFailed", "NothingToBuild", "SelectionResult", "build_after_evaluation", "FREED_RESOURCES_TAG",
           "DRAWS_SCHEMA", "DRAWS_TABLE"]
