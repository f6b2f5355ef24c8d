"""Superset configuration for helhed.

Everything comes from environment variables, so the local demo (``helhed superset start``,
which sets them from ``helhed.config.Settings``) and docker-compose use this same file via
``SUPERSET_CONFIG_PATH``. No secret has a default here except the demo admin password,
which is not read by this file (see ``helhed.superset.server``).

Variables:

``HELHED_SUPERSET_SECRET_KEY``    (required) signs sessions and encrypts stored DB passwords.
``HELHED_SUPERSET_DATABASE_URI``  (required) Superset's metadata database, e.g.
                                  ``postgresql+psycopg2://postgres:...@127.0.0.1:54329/superset``.
``REDIS_URL``                     optional, e.g. ``redis://redis:6379/0``. Set: Redis caches
                                  (compose). Unset: in-process SimpleCache (local demo).
``HELHED_SUPERSET_CACHE_TIMEOUT`` seconds chart data stays cached (default 3600; the marts
                                  change once a night).
``SUPERSET_HOME``                 Superset's data dir (uploads, its own log); helhed sets
                                  ``$HELHED_HOME/superset``.
``HELHED_SUPERSET_PROXY_FIX``     ``true`` behind a reverse proxy that sets X-Forwarded-*.
"""

from __future__ import annotations

import os
from datetime import timedelta


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"superset_config.py: environment variable {name} is not set")
    return value


def _secret(name: str) -> str:
    """A required secret that is not the .env.example placeholder and is long enough to sign with."""
    value = _env(name)
    if value.strip().lower().startswith("change-me") or len(value) < 32:
        raise RuntimeError(f"superset_config.py: {name} is a placeholder or shorter than 32 characters; "
                           "generate it with `openssl rand -base64 42`")
    return value


def _flag(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


SECRET_KEY = _secret("HELHED_SUPERSET_SECRET_KEY")
SQLALCHEMY_DATABASE_URI = _env("HELHED_SUPERSET_DATABASE_URI")
# Examples are never loaded (we do not call `superset load-examples`); point the examples
# URI at the metadata DB so nothing creates ~/.superset/examples.db either.
SQLALCHEMY_EXAMPLES_URI = SQLALCHEMY_DATABASE_URI

# --- caches -------------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "").strip()
DATA_CACHE_TIMEOUT = int(os.environ.get("HELHED_SUPERSET_CACHE_TIMEOUT", "3600"))


def _cache(prefix: str, timeout: int) -> dict:
    if REDIS_URL:
        return {
            "CACHE_TYPE": "RedisCache",
            "CACHE_REDIS_URL": REDIS_URL,
            "CACHE_KEY_PREFIX": f"helhed_superset_{prefix}_",
            "CACHE_DEFAULT_TIMEOUT": timeout,
        }
    return {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": timeout, "CACHE_THRESHOLD": 500}


CACHE_CONFIG = _cache("meta", 3600)
DATA_CACHE_CONFIG = _cache("data", DATA_CACHE_TIMEOUT)
if REDIS_URL:
    # Shared state between gunicorn workers/containers. Without Redis Superset's default
    # (the metastore cache in the metadata DB) stays, which is shared as well; an
    # in-process SimpleCache would lose explore/filter state between workers.
    FILTER_STATE_CACHE_CONFIG = _cache("filter", int(timedelta(days=90).total_seconds()))
    EXPLORE_FORM_DATA_CACHE_CONFIG = _cache("explore", int(timedelta(days=7).total_seconds()))
    RATELIMIT_STORAGE_URI = REDIS_URL

# --- features -----------------------------------------------------------------------------
FEATURE_FLAGS = {
    "DASHBOARD_RBAC": True,  # dashboards can be granted to roles (leaders, economy)
    "ALERT_REPORTS": False,
    "THUMBNAILS": False,
}
ENABLE_PROXY_FIX = _flag("HELHED_SUPERSET_PROXY_FIX")
SUPERSET_WEBSERVER_TIMEOUT = 120

# --- locale: UI stays English (Superset 6.1 ships no Danish translation); numbers and dates
# in charts use Danish conventions, titles and labels in the assets are Danish. ------------
BABEL_DEFAULT_LOCALE = "en"
LANGUAGES: dict = {}
D3_FORMAT = {"decimal": ",", "thousands": ".", "grouping": [3], "currency": ["", " kr."]}
D3_TIME_FORMAT = {
    "dateTime": "%A den %d. %B %Y %X",
    "date": "%d-%m-%Y",
    "time": "%H:%M:%S",
    "periods": ["AM", "PM"],
    "days": ["søndag", "mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag"],
    "shortDays": ["søn", "man", "tir", "ons", "tor", "fre", "lør"],
    "months": [
        "januar", "februar", "marts", "april", "maj", "juni",
        "juli", "august", "september", "oktober", "november", "december",
    ],
    "shortMonths": ["jan", "feb", "mar", "apr", "maj", "jun", "jul", "aug", "sep", "okt", "nov", "dec"],
}
CURRENCIES = ["DKK", "EUR", "USD"]
