"""The declared sources: ``config/sources.yaml`` read into typed objects.

The DAG, the loader and the tests all read the sources from here, so adding a source is a
configuration change, not a code change in three places.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from helhed.config import REPO_ROOT

COLUMN_TYPES = ("text", "cpr", "date", "decimal", "integer")
SQL_TYPES = {"text": "text", "cpr": "text", "date": "date", "decimal": "numeric(14,2)", "integer": "bigint"}


@dataclass(frozen=True)
class Column:
    header: str
    name: str
    type: str
    required: bool = False

    @property
    def staging_name(self) -> str:
        """The column's name after pseudonymisation: ``cpr`` becomes ``person_key``, ``parent_cpr``
        becomes ``parent_person_key``; every pseudonym column ends in ``person_key``."""
        if self.type != "cpr":
            return self.name
        return "person_key" if self.name == "cpr" else self.name.removesuffix("_cpr") + "_person_key"


@dataclass(frozen=True)
class Source:
    name: str
    description: str
    department: str
    file_glob: str
    encoding: str
    delimiter: str
    date_format: str
    table: str
    key: str
    columns: tuple[Column, ...]

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    @property
    def staging_columns(self) -> list[str]:
        return [c.staging_name for c in self.columns]


def load_sources(path: Path | None = None) -> dict[str, Source]:
    """Read and check the source declarations; errors name the file, source and field."""
    path = path or REPO_ROOT / "config" / "sources.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    sources: dict[str, Source] = {}
    for name, spec in raw["sources"].items():
        try:
            columns = tuple(Column(**c) for c in spec["columns"])
            source = Source(
                name=name,
                description=spec["description"],
                department=spec["department"],
                file_glob=spec["file_glob"],
                encoding=spec["encoding"],
                delimiter=spec["delimiter"],
                date_format=spec["date_format"],
                table=spec["table"],
                key=spec["key"],
                columns=columns,
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{path}: source {name!r} is missing or has a wrong field: {exc}") from exc
        for col in columns:
            if col.type not in COLUMN_TYPES:
                raise ValueError(f"{path}: source {name!r} column {col.header!r} has unknown type {col.type!r}")
        if source.key not in source.staging_columns:
            raise ValueError(f"{path}: source {name!r} key {source.key!r} is not one of its columns")
        sources[name] = source
    return sources
