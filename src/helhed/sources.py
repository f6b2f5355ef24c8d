"""The declared sources: ``config/sources.yaml`` read into typed objects.

A *source* is a source system (CPR, the ledger, DUBU, ...) delivering into
``landing/<source>/<yyyy-mm-dd>/``; an *entity* is one kind of file it delivers (the ledger
delivers postings and budgets). Each entity has its own landing and staging table
``<source>__<entity>``, its own Great Expectations suite ``staging__<source>__<entity>``, and
its own load and gate tasks in the source's task group. Adding a source is configuration
(docs/adding-a-source.md).

This module is the ONE reader of the specification: :func:`specification` parses the file once
per path and modification time and resolves its code lists; :func:`load_sources`,
:func:`helhed.parsing.entity_rules`, :func:`code_lists` and the gates all read through it. The
file is ``$HELHED_SOURCES_FILE`` when set (:attr:`helhed.config.Settings.sources_file`), else
``config/sources.yaml`` of the repository.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from helhed.config import REPO_ROOT, Settings

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


@dataclass(frozen=True)
class CodeList:
    """A named list of allowed codes: fixed values and/or a seed column, or a regular expression."""

    name: str
    values: frozenset[str] | None = None
    pattern: str | None = None
    origin: str = ""

    def allows(self, value: object) -> bool:
        text = str(value)
        if self.values is not None and text in self.values:
            return True
        if self.pattern is not None and re.fullmatch(self.pattern, text):
            return True
        return False

    def describe(self) -> str:
        if self.values is not None:
            return f"code list {self.name!r} ({len(self.values)} codes from {self.origin})"
        return f"code list {self.name!r} (pattern {self.pattern})"


def read_seed_column(path: Path, column: str) -> list[str]:
    """The non-empty values of one column of a seed or reference CSV (the code lists' origin)."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        if column not in (reader.fieldnames or []):
            raise ValueError(f"{path}: no column {column!r} (columns: {reader.fieldnames})")
        return [row[column].strip() for row in reader if (row[column] or "").strip()]


def _code_list(name: str, spec: dict[str, Any], base: Path) -> CodeList:
    if not isinstance(spec, dict) or not ({"values", "seed", "pattern"} & set(spec)):
        raise ValueError(f"code list {name!r} needs 'values', 'seed' (with 'column') or 'pattern'")
    values: set[str] | None = None
    origins = []
    if "seed" in spec:
        seed = base / spec["seed"]
        values = set(read_seed_column(seed, spec.get("column", name)))
        origins.append(f"{spec['seed']}:{spec.get('column', name)}")
    if "values" in spec:
        values = (values or set()) | {str(v) for v in spec["values"]}
        origins.append("config/sources.yaml")
    return CodeList(name=name, values=frozenset(values) if values is not None else None,
                    pattern=spec.get("pattern"), origin=" + ".join(origins))


def _entity(path: Path, source: str, spec: dict, name: str, espec: dict) -> Entity:
    merged: dict[str, Any] = {k: espec.get(k, spec.get(k)) for k in FILE_DEFAULTS}
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


@dataclass(frozen=True)
class Specification:
    """The parsed sources file: its raw mapping, every source (enabled or not) and its code lists."""

    path: Path
    raw: dict[str, Any]
    sources: dict[str, Source]
    code_lists: dict[str, CodeList]

    def source_spec(self, source: str) -> dict[str, Any]:
        """The raw block of one source (for the rules and gate settings beyond the file format)."""
        return (self.raw.get("sources") or {}).get(source) or {}

    def entity_spec(self, source: str, entity: str) -> dict[str, Any]:
        """The raw block of one entity."""
        return (self.source_spec(source).get("entities") or {}).get(entity) or {}


def sources_file() -> Path:
    """The specification in force: ``$HELHED_SOURCES_FILE`` or the repository's ``config/sources.yaml``."""
    return Settings.from_env().sources_file


def project_root(path: Path) -> Path:
    """The root the specification's relative paths (seeds, reference files) start from: the folder
    above ``config/`` for a file in a ``config`` folder, else the repository."""
    resolved = path.resolve()
    return resolved.parents[1] if resolved.parent.name == "config" else REPO_ROOT


_CACHE: dict[tuple[str, float], Specification] = {}


def _parse(path: Path) -> Specification:
    # libyaml's loader when present: the pure-Python one takes a fifth of a second for this file
    raw = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    base = project_root(path)
    lists = {name: _code_list(name, spec, base) for name, spec in (raw.get("code_lists") or {}).items()}
    sources: dict[str, Source] = {}
    for name, spec in (raw.get("sources") or {}).items():
        try:
            entities = tuple(_entity(path, name, spec, ename, espec) for ename, espec in spec["entities"].items())
            sources[name] = Source(name=name, description=spec["description"], department=spec["department"],
                                   enabled=spec.get("enabled", True), entities=entities)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{path}: source {name!r} is missing or has a wrong field: {exc}") from exc
    return Specification(path=path, raw=raw, sources=sources, code_lists=lists)


def specification(path: Path | None = None) -> Specification:
    """The specification, parsed once per path and modification time (the DAG file, the loader,
    the gates and the tests read it many times per process; an edited file is read again)."""
    path = Path(path) if path else sources_file()
    key = (str(path.resolve()), path.stat().st_mtime)
    if key not in _CACHE:
        spec = _parse(path)
        if len(_CACHE) > 8:
            _CACHE.clear()
        _CACHE[key] = spec
    return _CACHE[key]


def load_sources(path: Path | None = None, *, include_disabled: bool = False) -> dict[str, Source]:
    """The declared sources (enabled ones unless ``include_disabled``); errors name the file,
    source, entity and field."""
    return {name: source for name, source in specification(path).sources.items()
            if source.enabled or include_disabled}


def code_lists(path: Path | None = None) -> dict[str, CodeList]:
    """Every code list declared under ``code_lists:`` in the specification."""
    return specification(path).code_lists


def get_entity(entity_id: str, path: Path | None = None) -> Entity:
    """``"ydelser.benefit_periods"`` -> its Entity (disabled sources included)."""
    source, _, entity = entity_id.partition(".")
    return load_sources(path, include_disabled=True)[source].entity(entity)
