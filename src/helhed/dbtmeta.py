"""What the Python side reads from the dbt project: its variables and its documentation.

The dbt project is the home of two rules that Python code needs as well:

- ``var('min_cell_size')`` in ``dbt_project.yml``: the smallest published count of persons. The
  mart gates (``{"$PARAMETER": "min_cell_size"}`` and ``{min_cell_size}`` in their queries) and
  the programme evaluation read it through :func:`min_cell_size`, so dbt, GX and Python suppress
  at the same size.
- The KPI and column definitions (doc blocks in ``models/docs/*.md``, reused by the models'
  YAML): :func:`column_descriptions` returns them from dbt's ``manifest.json`` for Superset's
  dataset and chart descriptions.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from helhed.config import Settings


def _project_dir(project_dir: Path | None) -> Path:
    return Path(project_dir) if project_dir else Settings.from_env().dbt_project_dir


@lru_cache(maxsize=8)
def _vars(path: Path, mtime: float) -> dict[str, Any]:
    project = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return dict(project.get("vars") or {})


def dbt_vars(project_dir: Path | None = None) -> dict[str, Any]:
    """The ``vars:`` of ``dbt_project.yml`` (read once per modification)."""
    path = _project_dir(project_dir) / "dbt_project.yml"
    return _vars(path, path.stat().st_mtime)


def min_cell_size(project_dir: Path | None = None) -> int:
    """dbt's ``var('min_cell_size')``: counts of persons from 1 to this minus one are suppressed."""
    value = dbt_vars(project_dir).get("min_cell_size")
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{_project_dir(project_dir) / 'dbt_project.yml'}: vars.min_cell_size must be a "
                         f"positive whole number, not {value!r}")
    return value


def _manifest(target_dir: Path | None) -> dict[str, Any]:
    path = (Path(target_dir) if target_dir else _project_dir(None) / "target") / "manifest.json"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no dbt manifest; run `dbt parse` (or any dbt command) first")
    return json.loads(path.read_text(encoding="utf-8"))


def column_descriptions(target_dir: Path | None = None, *, models: set[str] | None = None) -> dict[str, dict[str, str]]:
    """``{model: {column: description}}`` of every model in dbt's manifest (doc blocks rendered),
    with the model's own description under the key ``""``. ``target_dir`` is dbt's target path
    (default ``<dbt project>/target``); ``models`` limits the answer to those model names."""
    out: dict[str, dict[str, str]] = {}
    for node in _manifest(target_dir).get("nodes", {}).values():
        if node.get("resource_type") != "model" or (models is not None and node["name"] not in models):
            continue
        columns = {name: (col.get("description") or "").strip() for name, col in (node.get("columns") or {}).items()}
        out[node["name"]] = {"": (node.get("description") or "").strip(), **columns}
    return out
