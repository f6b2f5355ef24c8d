"""The declared sources: ``config/sources.yaml`` read into typed objects.

A *source* is a source system (CPR, the ledger, DUBU, ...) delivering into
``landing/<source>/<yyyy-mm-dd>/``; an *entity* is one kind of file it delivers (the ledger
delivers postings and budgets). Each entity has its own landing and staging table
``<source>__<entity>``, its own Great Expectations suite ``staging__<source>__<entity>``, and
its own load and gate tasks in the source's task group. Adding a source is configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from helhed.config import REPO_ROOT

COLUMN_TYPES = ("text", "cpr", "date", "decimal", "integer")
SQL_TYPES = {"text": "text", "cpr": "text", "date": "date", "decimal": "numeric(14,2)", "integer": "bigint"}
FILE_DEFAULTS = ("encoding", "delimiter", "date_format")


@dataclass(frozen=True)
class Column:
    header: str
    name: str
    type: str
    required: bool = False

    @property
    def staging_name(self) -> str:
        """The column's name after pseudonymisation: ``cpr`` becomes ``person_key``, ``related_cpr``
        becomes ``related_person_key``; every pseudonym column ends in ``person_key``."""
        if self.type != "cpr":
            return self.name
        return "person_key" if self.name == "cpr" else self.name.removesuffix("_cpr") + "_person_key"


@dataclass(frozen=True)
class Entity:
    """One kind of file a source delivers."""

    source: str
    name: str
    description: str
    department: str
    file_glob: str
    encoding: str
    delimiter: str
    date_format: str
    key: tuple[str, ...]          # staging key; empty = append-only (events such as ledger postings)
    columns: tuple[Column, ...]

    @property
    def id(self) -> str:
        return f"{self.source}.{self.name}"

    @property
    def table(self) -> str:
        return f"{self.source}__{self.name}"

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    @property
    def staging_columns(self) -> list[str]:
        return [c.staging_name for c in self.columns]


@dataclass(frozen=True)
class Source:
    name: str
    description: str
    department: str
    enabled: bool
    entities: tuple[Entity, ...]

    def entity(self, name: str) -> Entity:
        for e in self.entities:
            if e.name == name:
                return e
        raise KeyError(f"source {self.name!r} has no entity {name!r}")


def _entity(path: Path, source: str, spec: dict, name: str, espec: dict) -> Entity:
    merged = {k: espec.get(k, spec.get(k)) for k in FILE_DEFAULTS}
    missing = [k for k, v in merged.items() if v is None]
    if missing:
        raise ValueError(f"{path}: {source}.{name} has no {missing} (set it on the source or the entity)")
    columns = tuple(Column(**c) for c in espec["columns"])
    for col in columns:
        if col.type not in COLUMN_TYPES:
            raise ValueError(f"{path}: {source}.{name} column {col.header!r} has unknown type {col.type!r}")
    key = tuple(espec.get("key") or ())
    staging = [c.staging_name for c in columns]
    unknown = [k for k in key if k not in staging]
    if unknown:
        raise ValueError(f"{path}: {source}.{name} key {unknown} is not among its columns {staging}")
    return Entity(source=source, name=name, description=espec["description"], department=spec["department"],
                  file_glob=espec["file_glob"], key=key, columns=columns, **merged)


def load_sources(path: Path | None = None, *, include_disabled: bool = False) -> dict[str, Source]:
    """Read and check the declarations; errors name the file, source, entity and field."""
    path = path or REPO_ROOT / "config" / "sources.yaml"
    # libyaml's loader when present: the pure-Python one takes a fifth of a second for this file
    raw = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    sources: dict[str, Source] = {}
    for name, spec in raw["sources"].items():
        try:
            entities = tuple(_entity(path, name, spec, ename, espec) for ename, espec in spec["entities"].items())
            source = Source(name=name, description=spec["description"], department=spec["department"],
                            enabled=spec.get("enabled", True), entities=entities)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{path}: source {name!r} is missing or has a wrong field: {exc}") from exc
        if source.enabled or include_disabled:
            sources[name] = source
    return sources


def get_entity(entity_id: str, path: Path | None = None) -> Entity:
    """``"ydelser.benefit_periods"`` -> its Entity (disabled sources included)."""
    source, _, entity = entity_id.partition(".")
    return load_sources(path, include_disabled=True)[source].entity(entity)
