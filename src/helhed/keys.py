"""Rotating the pseudonym key: re-key every pseudonym in the warehouse in one transaction.

Rotation applies HMAC with the new key to each stored pseudonym (see ``Pseudonymiser``), so it
needs no raw CPR and works after ``landing`` has been purged. Every column whose name ends in
``person_key`` in the schemas that hold person-level rows is re-keyed; the rotation is recorded
in ``audit.key_rotations`` by the key's fingerprint. The loader compares that record with its
configured key chain and refuses to load with a chain that does not match, so old and new
pseudonyms can never be mixed.
"""

from __future__ import annotations

import logging

import psycopg
from psycopg import sql

from helhed.config import Settings
from helhed.pseudonymise import Pseudonymiser, key_fingerprint, rekey

log = logging.getLogger(__name__)

ROTATIONS_DDL = """
create table if not exists audit.key_rotations (
    rotation     serial primary key,
    fingerprint  text not null unique,
    rotated_at   timestamptz not null default now(),
    columns      integer not null,
    values       bigint not null
);
"""

#: Schemas that hold pseudonyms. Aggregated marts hold none.
PSEUDONYM_SCHEMAS = ("staging", "restricted", "build_stg", "build_int", "build_restricted")
#: Keyed digests of delivered file names (helhed.loading), re-keyed with the pseudonyms.
NAME_KEY_COLUMNS = (("audit", "delivery_files", "name_key"), ("audit", "unexpected_files", "name_key"))


class KeyChainMismatch(Exception):
    """The configured key chain does not match the rotations the warehouse has been through."""


def check_chain(conn: psycopg.Connection, pseudo: Pseudonymiser) -> None:
    """Refuse to pseudonymise with a key chain other than the warehouse's."""
    conn.execute(ROTATIONS_DDL)
    recorded = [r[0] for r in conn.execute("select fingerprint from audit.key_rotations order by rotation")]
    configured = pseudo.fingerprints[1:]
    if recorded != configured:
        raise KeyChainMismatch(
            f"the warehouse has been re-keyed with keys {recorded} but HELHED_PSEUDONYM_ROTATION_KEYS "
            f"gives {configured}; set it to the keys of every rotation, oldest first"
        )


def pseudonym_columns(conn: psycopg.Connection) -> list[tuple[str, str, str]]:
    """Every column a rotation re-keys: the ``*person_key`` columns and the file-name digests."""
    columns = conn.execute(
        "select table_schema, table_name, column_name from information_schema.columns c "
        "join information_schema.tables t using (table_schema, table_name) "
        "where table_schema = any(%s) and column_name like '%%person_key' and t.table_type = 'BASE TABLE' "
        "order by 1, 2, 3",
        (list(PSEUDONYM_SCHEMAS),),
    ).fetchall()
    present = set(conn.execute(
        "select table_schema, table_name, column_name from information_schema.columns where table_schema = 'audit'"
    ).fetchall())
    return columns + [c for c in NAME_KEY_COLUMNS if c in present]


def rotate(s: Settings, new_key: str) -> dict:
    """Re-key the warehouse with ``new_key``; return what was changed."""
    pseudo = Pseudonymiser.from_secrets(s.secrets)
    fingerprint = key_fingerprint(new_key)
    if fingerprint in pseudo.fingerprints:
        raise ValueError("the new key is already part of the key chain")
    new_key_bytes = new_key.encode("utf-8")
    changed_values = 0
    with psycopg.connect(s.url("helhed")) as conn, conn.transaction():
        check_chain(conn, pseudo)
        columns = pseudonym_columns(conn)
        distinct: set[str] = set()
        for schema, table, column in columns:
            distinct.update(r[0] for r in conn.execute(
                sql.SQL("select distinct {} from {}.{} where {} is not null").format(
                    sql.Identifier(column), sql.Identifier(schema), sql.Identifier(table), sql.Identifier(column))))
        conn.execute("create temp table key_map (old text primary key, new text not null) on commit drop")
        with conn.cursor().copy("copy key_map (old, new) from stdin") as copy:
            for old in distinct:
                copy.write_row((old, rekey(old, new_key_bytes)))
        for schema, table, column in columns:
            cur = conn.execute(sql.SQL("update {}.{} t set {} = m.new from key_map m where t.{} = m.old").format(
                sql.Identifier(schema), sql.Identifier(table), sql.Identifier(column), sql.Identifier(column)))
            changed_values += cur.rowcount
        conn.execute("insert into audit.key_rotations (fingerprint, columns, values) values (%s, %s, %s)",
                     (fingerprint, len(columns), changed_values))
    log.info("re-keyed %d values in %d columns (%d distinct pseudonyms)", changed_values, len(columns), len(distinct))
    return {"fingerprint": fingerprint, "columns": len(columns), "values": changed_values, "pseudonyms": len(distinct)}
