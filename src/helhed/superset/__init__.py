"""Superset for the embedded demo: configuration, server lifecycle and dashboards as code.

``server`` runs Superset from its own virtualenv (``.venv-superset``) as a background
process; ``provision`` imports ``superset/assets`` over the REST API; ``command`` is the
``helhed superset`` CLI.
"""
