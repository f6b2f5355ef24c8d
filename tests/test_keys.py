"""Key rotation re-keys the warehouse, keeps joins across sources, and refuses a stale key chain."""

from __future__ import annotations

import shutil
from datetime import date

import psycopg
import pytest

from helhed import keys, loading
from helhed.config import Settings
from helhed.pseudonymise import Pseudonymiser
from helhed.sources import get_entity

CPR_HEADER = "CPR-nummer;Fødselsdato;Køn;Postnummer;Distrikt;Tilflytningsdato;Fraflytningsdato;Dødsdato"
YD_HEADER = ("Periode-id;CPR-nummer;Ydelseskode;Ydelses startdato;Ydelses slutdato;Ydelses sats;Ydelses beløb;"
             "Beløbsenhed;Visitationskategori")


def deliver(s: Settings, source: str, day: str, name: str, header: str, lines: list[str]) -> None:
    folder = s.landing_dir / source / day
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("\n".join([header, *lines]) + "\n", encoding="utf-8-sig")


def keys_of(s: Settings, table: str) -> set[str]:
    with psycopg.connect(s.url("helhed")) as conn:
        return {r[0] for r in conn.execute(f"select person_key from staging.{table}")}


def _reset(s: Settings) -> None:
    with psycopg.connect(s.url("helhed"), autocommit=True) as conn:
        for t in ("staging.cpr__persons", "staging.ydelser__benefit_periods", "audit.key_rotations",
                  "landing.quarantine", "audit.delivery_files"):
            conn.execute(f"drop table if exists {t} cascade")
    shutil.rmtree(s.landing_dir, ignore_errors=True)


@pytest.fixture()
def fresh(pg: Settings):
    """An empty warehouse, left empty again: a rotation must not leak into other tests."""
    _reset(pg)
    yield pg
    _reset(pg)


def test_rotation_rekeys_and_new_loads_use_the_chain(fresh: Settings, monkeypatch):
    pg = fresh
    deliver(pg, "cpr", "2025-01-01", "cpr_personer_a.csv", CPR_HEADER, ["0101801234;1980-01-01;M;8900;C;1980-01-01;;"])
    loading.load_entity(pg, get_entity("cpr.persons"), date(2025, 1, 1))
    before = keys_of(pg, "cpr__persons")

    new_key = "a-brand-new-rotation-key-0123456789"
    result = keys.rotate(pg, new_key)
    # Earlier tests may leave person-level tables in restricted; rotation re-keys those too.
    assert result["pseudonyms"] >= 1 and result["values"] >= 1
    after = keys_of(pg, "cpr__persons")
    assert after.isdisjoint(before)
    assert after == {Pseudonymiser(pg.secrets["HELHED_PSEUDONYM_KEY"], (new_key,)).pseudonymise_cpr("0101801234")}

    # A loader that still has the old chain must refuse rather than mix pseudonyms.
    deliver(pg, "ydelser", "2025-01-02", "ydelsesperioder_a.csv", YD_HEADER,
            ["P1;0101801234;kontanthjaelp;01-01-2024;;1,00;1,00;kr. pr. måned;jobparat"])
    with pytest.raises(keys.KeyChainMismatch, match="HELHED_PSEUDONYM_ROTATION_KEYS"):
        loading.load_entity(pg, get_entity("ydelser.benefit_periods"), date(2025, 1, 2))

    # With the chain configured, the new source joins the re-keyed person.
    monkeypatch.setenv("HELHED_PSEUDONYM_ROTATION_KEYS", new_key)
    rotated = Settings.from_env()
    loading.load_entity(rotated, get_entity("ydelser.benefit_periods"), date(2025, 1, 2))
    assert keys_of(pg, "ydelser__benefit_periods") == after

    with pytest.raises(ValueError, match="already part"):
        keys.rotate(rotated, new_key)
