"""The dbt build in layers: which dbt selector builds which part of the warehouse, in which order.

The nightly DAG runs one ``dbt build`` per layer (``helhed.airflow_support.dbt_task_group``):
seeds, staging, intermediate, marts, each a YAML selector in ``dbt_project/selectors.yml``.
Four coarse tasks instead of one Airflow task per dbt node: under ``airflow dags test`` (``helhed
run``, the demo, the tests) Airflow runs tasks one after another and each costs a process start,
so ~520 per-node tasks cost more than the build they reported on (issue 12).

The layers must cover every node ``dbt build`` would build (seeds, snapshots, models, data tests,
unit tests) exactly once, or a node is silently never built or built twice:
:func:`layer_nodes` asks dbt itself which nodes each selector picks (the test checks the
partition against the manifest), so a new model folder outside every layer fails a test instead
of vanishing from the nightly build.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: (task id, dbt selector) in build order; each layer's task depends on the one before.
DBT_LAYERS: tuple[tuple[str, str], ...] = (
    ("seeds", "layer_seeds"),
    ("staging", "layer_staging"),
    ("intermediate", "layer_intermediate"),
    ("marts", "layer_marts"),
)

#: The resource types ``dbt build`` builds or runs.
BUILDABLE = frozenset({"seed", "snapshot", "model", "test", "unit_test"})


def buildable_nodes(manifest: Mapping[str, Any]) -> set[str]:
    """Unique ids of every node of a dbt manifest (``manifest.json`` as a dict) that ``dbt build`` runs."""
    nodes = {uid for uid, node in manifest.get("nodes", {}).items() if node.get("resource_type") in BUILDABLE}
    return nodes | set(manifest.get("unit_tests", {}))


def layer_nodes(project_dir: Path, target_dir: Path, env: Mapping[str, str] | None = None) -> tuple[dict[str, set[str]], set[str]]:
    """``({layer: unique ids dbt selects for it}, buildable ids of the manifest)``, from dbt itself.

    One ``dbt parse`` (in-process, dbt's programmatic runner) and one ``dbt ls --selector`` per
    layer on the parsed manifest, with the project's own flags (``indirect_selection: buildable``),
    so tests are attributed as ``dbt build --selector`` would run them. Nothing connects to the
    database; the profile's ``PGPASSWORD`` only has to be set (a placeholder is used otherwise).
    """
    from dbt.cli.main import dbtRunner
    from dbt.contracts.graph.manifest import Manifest

    saved = dict(os.environ)
    os.environ.update(env or {})
    os.environ.setdefault("PGPASSWORD", "unused-by-dbt-ls")
    common = ["--project-dir", str(project_dir), "--profiles-dir", str(project_dir), "--target-path", str(target_dir),
              "--log-level", "none"]   # dbt ls prints every node even with --quiet
    try:
        parsed = dbtRunner().invoke(["parse", *common])
        if not parsed.success:
            raise RuntimeError(f"dbt parse of {project_dir} failed: {parsed.exception}")
        if not isinstance(parsed.result, Manifest):
            raise RuntimeError(f"dbt parse of {project_dir} returned no manifest")
        runner = dbtRunner(manifest=parsed.result)
        layers: dict[str, set[str]] = {}
        for layer, selector in DBT_LAYERS:
            listed = runner.invoke(["ls", "--selector", selector, "--output", "json", "--output-keys", "unique_id",
                                    *common])
            if not listed.success:
                raise RuntimeError(f"dbt ls --selector {selector} in {project_dir} failed: {listed.exception}")
            lines = listed.result if isinstance(listed.result, list) else []
            ids = {json.loads(line)["unique_id"] for line in lines}
            layers[layer] = {uid for uid in ids if uid.split(".", 1)[0] in BUILDABLE}
    finally:
        os.environ.clear()
        os.environ.update(saved)
    manifest = json.loads((Path(target_dir) / "manifest.json").read_text(encoding="utf-8"))
    return layers, buildable_nodes(manifest)
