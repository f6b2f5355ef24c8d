#!/usr/bin/env bash
# One-shot initialisation run by the `superset-init` service on every `docker compose up`.
# Idempotent: migrates the metadata database, creates the admin (or resets its password to the
# current HELHED_SUPERSET_ADMIN_PASSWORD, which is how a rotation takes effect) and syncs roles.
# Dashboards are provisioned afterwards by `superset-provision` (airflow image, `helhed superset provision`).
set -euo pipefail

: "${HELHED_SUPERSET_ADMIN_PASSWORD:?HELHED_SUPERSET_ADMIN_PASSWORD is not set}"
admin_user="${HELHED_SUPERSET_ADMIN_USER:-admin}"

echo "helhed: superset db upgrade"
superset db upgrade

echo "helhed: superset admin '${admin_user}'"
superset fab create-admin \
    --username "${admin_user}" \
    --firstname Helhed \
    --lastname Admin \
    --email "${HELHED_SUPERSET_ADMIN_EMAIL:-admin@example.invalid}" \
    --password "${HELHED_SUPERSET_ADMIN_PASSWORD}"
superset fab reset-password --username "${admin_user}" --password "${HELHED_SUPERSET_ADMIN_PASSWORD}"

echo "helhed: superset init (roles and permissions)"
superset init

echo "helhed: superset-init done"
