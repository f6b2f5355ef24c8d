#!/usr/bin/env bash
# First-start initialisation of the official postgres image (runs once, on an empty volume).
#
# Creates the three databases of the platform and the read-only role that Superset uses; the
# warehouse roles cannot connect to the Airflow and Superset metadata databases.
# The same objects are (re)asserted on every deploy by `airflow-init` (helhed.database.bootstrap),
# which also re-applies HELHED_READER_PASSWORD, so rotating that password needs no manual SQL.
set -euo pipefail

: "${HELHED_READER_PASSWORD:?HELHED_READER_PASSWORD must be set for the postgres service}"

psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
     -v reader_password="${HELHED_READER_PASSWORD}" <<'EOSQL'
select 'create database helhed'   where not exists (select from pg_database where datname = 'helhed')   \gexec
select 'create database airflow'  where not exists (select from pg_database where datname = 'airflow')  \gexec
select 'create database superset' where not exists (select from pg_database where datname = 'superset') \gexec

select 'create role helhed_reader login'
 where not exists (select from pg_roles where rolname = 'helhed_reader') \gexec
alter role helhed_reader login password :'reader_password';

-- Airflow's and Superset's metadata databases: only their owner connects (PUBLIC may by default).
revoke all on database airflow from public;
revoke all on database superset from public;
grant all on database airflow to current_user;
grant all on database superset to current_user;
EOSQL

psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname helhed <<'EOSQL'
revoke all on database helhed from public;
grant connect on database helhed to helhed_reader;
revoke create on schema public from public;
create schema if not exists landing;
create schema if not exists audit;
create schema if not exists staging;
create schema if not exists marts;
create schema if not exists restricted;
grant usage on schema marts to helhed_reader;
grant select on all tables in schema marts to helhed_reader;
EOSQL

echo "helhed: databases helhed, airflow, superset and role helhed_reader are ready"
