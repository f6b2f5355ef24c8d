"""The nightly's dbt layers partition the dbt project: every node ``dbt build`` would build runs
in exactly one layer task (helhed.dbt_layers, dbt_project/selectors.yml).

A model folder outside every layer, or a selector that overlaps another, fails here instead of
silently leaving nodes unbuilt (or built twice) by the nightly DAG.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

from helhed.config import REPO_ROOT
from helhed.dbt_layers import DBT_LAYERS, layer_nodes

ORPHAN = "model.helhed.rpt_orphan"


def test_layer_selectors_partition_the_buildable_nodes(tmp_path: Path) -> None:
    # The project as it is plus one model in a new top-level folder, which no layer selects:
    # it shows the check catches a folder outside the layers (one dbt parse for both).
    project = tmp_path / "dbt_project"
    shutil.copytree(REPO_ROOT / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    (project / "models" / "reports").mkdir()
    (project / "models" / "reports" / "rpt_orphan.sql").write_text("select 1 as one\n", encoding="utf-8")

    layers, buildable = layer_nodes(project, tmp_path / "target")

    assert list(layers) == [layer for layer, _ in DBT_LAYERS]
    assert all(layers.values()), {layer: len(nodes) for layer, nodes in layers.items()}
    kinds = Counter(uid.split(".", 1)[0] for uid in buildable)
    assert {"seed", "model", "test", "unit_test"} <= set(kinds), kinds
    counts = Counter(uid for nodes in layers.values() for uid in nodes)
    twice = sorted(uid for uid, n in counts.items() if n > 1)
    assert not twice, f"nodes in more than one layer: {twice[:20]}"
    missing = sorted(buildable - set(counts))
    assert missing == [ORPHAN], f"nodes in no layer (add their folder to dbt_project/selectors.yml): {missing[:20]}"
    assert set(counts) == buildable - {ORPHAN}
