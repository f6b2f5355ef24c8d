#!/usr/bin/env bash
# One-shot initialisation run by the `airflow-init` service on every `docker compose up`.
# Idempotent: safe to run again after an upgrade or a secret rotation.
#
#  1. warehouse: databases, schemas, role helhed_reader and its password (`helhed db bootstrap`)
#  2. Airflow metadata database: `airflow db migrate`; dbt manifest for cosmos (`helhed dbt-manifest`)
#  3. Airflow login: writes the simple auth manager's password file from HELHED_AIRFLOW_ADMIN_PASSWORD
set -euo pipefail

: "${HELHED_PG_PASSWORD:?HELHED_PG_PASSWORD is not set}"
: "${HELHED_READER_PASSWORD:?HELHED_READER_PASSWORD is not set}"
: "${HELHED_AIRFLOW_ADMIN_PASSWORD:?HELHED_AIRFLOW_ADMIN_PASSWORD is not set}"
: "${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:?AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE is not set}"

echo "helhed: bootstrapping the warehouse on ${HELHED_PG_HOST:-postgres}:${HELHED_PG_PORT:-5432}"
helhed db bootstrap

echo "helhed: migrating the Airflow metadata database"
airflow db migrate

echo "helhed: parsing the dbt project into the manifest the DAG is rendered from"
helhed dbt-manifest

echo "helhed: writing the Airflow login for user '${HELHED_AIRFLOW_ADMIN_USER:-admin}'"
python - <<'PY'
import json
import os
from pathlib import Path

path = Path(os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
path.parent.mkdir(parents=True, exist_ok=True)
user = os.environ.get("HELHED_AIRFLOW_ADMIN_USER", "admin")
tmp = path.with_suffix(".tmp")
tmp.write_text(json.dumps({user: os.environ["HELHED_AIRFLOW_ADMIN_PASSWORD"]}) + "\n", encoding="utf-8")
tmp.chmod(0o660)
tmp.replace(path)
PY

echo "helhed: airflow-init done"
