#!/usr/bin/env bash
# One-shot initialisation run by the `airflow-init` service on every `docker compose up`.
# Idempotent: safe to run again after an upgrade or a secret rotation.
#
#  0. secrets: no placeholder, short or shared secret (`helhed check-secrets`; also its own service)
#  1. warehouse: databases, schemas, role helhed_reader and its password, metadata databases
#     closed to the warehouse roles (`helhed db bootstrap`)
#  2. Airflow metadata database, FAB's user and role tables included: `airflow db migrate`;
#     dbt manifest (`helhed dbt-manifest`: the column descriptions Superset shows)
#  3. Airflow login (FAB auth manager): the admin user with role Admin, created or its password
#     reset to HELHED_AIRFLOW_ADMIN_PASSWORD. Give every other person their own user with the
#     least role that does their job (Viewer, User or Op): `airflow users create --role Viewer ...`.
set -euo pipefail

: "${HELHED_PG_PASSWORD:?HELHED_PG_PASSWORD is not set}"
: "${HELHED_READER_PASSWORD:?HELHED_READER_PASSWORD is not set}"
: "${HELHED_AIRFLOW_ADMIN_PASSWORD:?HELHED_AIRFLOW_ADMIN_PASSWORD is not set}"

admin="${HELHED_AIRFLOW_ADMIN_USER:-admin}"

echo "helhed: checking the secrets"
helhed check-secrets

echo "helhed: bootstrapping the warehouse on ${HELHED_PG_HOST:-postgres}:${HELHED_PG_PORT:-5432}"
helhed db bootstrap

echo "helhed: migrating the Airflow metadata database"
airflow db migrate

echo "helhed: parsing the dbt project into its manifest (column descriptions for Superset)"
helhed dbt-manifest

echo "helhed: the Airflow login '${admin}' (FAB auth manager, role Admin)"
# reset-password fails when the user does not exist yet (the first start): then create it.
if ! airflow users reset-password --username "${admin}" --password "${HELHED_AIRFLOW_ADMIN_PASSWORD}" > /dev/null 2>&1; then
    airflow users create --username "${admin}" --role Admin --firstname helhed --lastname admin \
        --email "${admin}@localhost" --password "${HELHED_AIRFLOW_ADMIN_PASSWORD}"
fi

echo "helhed: airflow-init done"
