#!/usr/bin/env bash
# One-shot initialisation run by the `superset-init` service on every `docker compose up`.
#
# Runs helhed's _superset_init.py (copied from src/helhed/superset/ into the image), which does
# in one process what `superset db upgrade`, `superset init` and `superset fab create-admin` do:
# migrate the metadata database, sync roles and permissions, and create the user `admin` or reset
# its password to the current HELHED_SUPERSET_ADMIN_PASSWORD (so a rotation takes effect here).
# The superset CLI itself is avoided because Superset 6.1's `superset` command imports `rich`,
# which the package does not declare. The password is passed in the environment, never in argv.
# Dashboards are provisioned afterwards by `superset-provision` (`helhed superset provision`).
set -euo pipefail

: "${HELHED_SUPERSET_ADMIN_PASSWORD:?HELHED_SUPERSET_ADMIN_PASSWORD is not set}"
export HELHED_SUPERSET_ADMIN_USERNAME=admin

python=python
if [ -x /app/.venv/bin/python ]; then python=/app/.venv/bin/python; fi
exec "${python}" /app/helhed/superset_init.py
