"""The steps of the nightly run, as plain functions the DAG's tasks call.

Keeping the logic here (not in the DAG file) keeps DAG parsing cheap and lets the CLI
(``helhed load|gate|publish``) and the tests run the same steps. Every step is idempotent for a logical date: loading skips files it
has loaded, gates re-check what has not been published yet, and publishing swaps whatever was
built.

A run is bracketed by :func:`begin_run` (takes the nightly lock, :mod:`helhed.runlock`) and
:func:`end_run` (releases it; the DAG runs it as a teardown, so also after a failure). The
gate and publish steps renew the lock and refuse to work for a run that does not hold it, so
two runs never interleave whatever starts them. What the steps return (Airflow stores it as
XCom) passes through :func:`helhed.redaction.redact_value`.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from helhed import gates, loading, publish, runlock
from helhed.config import Settings, tighten_modes
from helhed.redaction import redact_value
from helhed.sources import get_entity

log = logging.getLogger(__name__)

def mart_suites(settings: Settings) -> list[str]:
    """Every public mart with a suite ``expectations/marts__<table>.json`` is validated before publishing."""
    return sorted(p.stem.removeprefix("marts__") for p in settings.expectations_dir.glob("marts__*.json"))


def begin_run(run_id: str, settings: Settings | None = None) -> dict[str, Any]:
    """Take the nightly lock for ``run_id`` (:class:`helhed.runlock.RunLocked` names the run that
    holds it) and tighten the modes of the landing folders, secrets and Data Docs."""
    s = settings or Settings.from_env()
    lease = runlock.acquire(s, run_id)
    tightened = tighten_modes(s)
    return redact_value({"run_id": run_id, "lock_expires_at": lease.expires_at.isoformat(),
                         "modes_tightened": tightened})


def hold(run_id: str, settings: Settings | None = None) -> None:
    """Renew the run's lock before a step; :class:`helhed.runlock.LockLost` if it is not held."""
    runlock.renew(settings or Settings.from_env(), run_id)


def end_run(run_id: str, settings: Settings | None = None) -> dict[str, Any]:
    """Release the run's lock (nothing if another run holds it)."""
    released = runlock.release(settings or Settings.from_env(), run_id)
    return {"run_id": run_id, "released": released is not None}


def load(entity_id: str, logical_date: date, settings: Settings | None = None) -> dict:
    """Load every new delivery of one entity (``"cpr.persons"``) up to the logical date.

    The returned summary (an XCom) names files by their masked names only, counts the CPR-like
    values masked per file, and lists the files of the source's folder that no entity loads."""
    s = settings or Settings.from_env()
    summary = loading.load_entity(s, get_entity(entity_id), logical_date)
    files = [
        {"file": f.name, "status": f.status, "delivered": f.delivered, "loaded": f.loaded,
         "quarantined": f.quarantined, "unchanged": f.unchanged, "superseded": f.superseded,
         "cpr_like_masked": f.cpr_like_masked, "rejection": f.rejection}
        for f in summary.files if f.status != "skipped"
    ]
    unexpected = [{"file": f.name, "reason": f.rejection} for f in summary.unexpected]
    log.info("%s: %d rows loaded, %d quarantined from %d new files; %d CPR-like values masked; %d unexpected files",
             entity_id, summary.loaded, summary.quarantined, len(files), summary.cpr_like_masked, len(unexpected))
    return redact_value({"entity": entity_id, "files": files, "loaded": summary.loaded, "quarantined": summary.quarantined,
                         "cpr_like_masked": summary.cpr_like_masked, "unexpected": unexpected})


def gate_staging(entity_id: str, run_id: str, settings: Settings | None = None, *,
                 logical_date: date | None = None, scope: str | None = None) -> dict:
    """Run the entity's staging gate over everything loaded since the last publish (``scope``
    ``"full"``: the whole table, also on the weekly full-check day of ``logical_date``,
    :func:`helhed.gates.default_scope`): its suite, the checks generated from the source
    specification and the delivery, drift and coverage checks. A failed critical expectation
    raises and stops the run."""
    s = settings or Settings.from_env()
    hold(run_id, s)
    table = get_entity(entity_id).table
    result = gates.run_suite(s, f"staging__{table}", "staging", table, run_id, scope=scope,
                             logical_date=logical_date)
    gates.enforce(result)
    batch = result.batch
    return redact_value({
        "suite": f"staging__{table}", "passed": result.passed, "warnings": list(result.warnings),
        "scope": batch.scope if batch else "full", "files": batch.files if batch else None,
        "rows": batch.rows if batch else None,
    })


def gate_marts(run_id: str, settings: Settings | None = None) -> dict:
    """Validate tonight's public marts in build_marts before anyone can see them."""
    s = settings or Settings.from_env()
    hold(run_id, s)
    tables = mart_suites(s)
    results = [gates.run_suite(s, f"marts__{table}", "build_marts", table, run_id) for table in tables]
    gates.enforce(results)  # one error naming every failed mart, not just the first
    return redact_value({table: {"passed": r.passed, "warnings": list(r.warnings)} for table, r in zip(tables, results)})


def publish_build(run_id: str, logical_date: date, settings: Settings | None = None) -> list[str]:
    """Swap tonight's gated build into place (refused if a loaded file passed no gate of this run)."""
    s = settings or Settings.from_env()
    hold(run_id, s)
    return publish.publish(s, run_id, logical_date)


def evaluate_programmes(settings: Settings | None = None) -> dict:
    """Evaluate the holistic programmes on tonight's build (after dbt, before the mart gates).

    Writes person-level results to ``build_restricted`` and suppressed aggregates to
    ``build_marts`` (helhed.evaluation); the mart gates then validate them with the dbt marts.
    """
    from helhed.evaluation import evaluate

    return evaluate(settings or Settings.from_env())


def budget_proposals(run_id: str, settings: Settings | None = None) -> dict:
    """Rebuild the budget reallocation proposals (dbt models tagged ``freed_resources``) once the
    evaluation step has written the freed-resource draws; before ``gate_marts`` (helhed.budget)."""
    from helhed import budget

    s = settings or Settings.from_env()
    result = budget.build_after_evaluation(s)
    log.info("run %s: reallocation proposals %s", run_id, result.summary())
    return result.summary()
