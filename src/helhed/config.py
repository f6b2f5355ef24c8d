"""Where things live and how to reach them.

Every setting comes from the environment (12-factor), with defaults that make the
embedded demo work from a fresh clone. Secrets that the demo needs are generated once
into ``$HELHED_HOME/secrets.env`` (mode 0600), never into the repository.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

#: Secrets generated for the embedded demo when the environment does not set them.
GENERATED_SECRETS = ("HELHED_PG_PASSWORD", "HELHED_READER_PASSWORD", "HELHED_PSEUDONYM_KEY", "HELHED_SUPERSET_SECRET_KEY")


def _load_secrets_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                values[key.strip()] = value.strip()
    return values


def ensure_secrets(home: Path) -> dict[str, str]:
    """Return the demo secrets, generating any that are missing into ``home/secrets.env``.

    Environment variables win, so production sets them and no file is written for them.
    """
    home.mkdir(parents=True, exist_ok=True)
    path = home / "secrets.env"
    stored = _load_secrets_file(path)
    changed = False
    for name in GENERATED_SECRETS:
        if name not in stored:
            stored[name] = secrets.token_urlsafe(24)
            changed = True
    if changed:
        path.write_text("".join(f"{k}={v}\n" for k, v in sorted(stored.items())), encoding="utf-8")
        path.chmod(0o600)
    values = {name: os.environ.get(name, stored[name]) for name in GENERATED_SECRETS}
    # Keys added by rotations (helhed rotate-key), oldest first; absent until the first rotation.
    values["HELHED_PSEUDONYM_ROTATION_KEYS"] = os.environ.get(
        "HELHED_PSEUDONYM_ROTATION_KEYS", stored.get("HELHED_PSEUDONYM_ROTATION_KEYS", ""))
    return values


def append_rotation_key(home: Path, key: str) -> None:
    """Add a rotation key to the demo's secrets file (production keeps keys in its secret store)."""
    path = home / "secrets.env"
    stored = _load_secrets_file(path)
    chain = [k for k in stored.get("HELHED_PSEUDONYM_ROTATION_KEYS", "").split(",") if k]
    stored["HELHED_PSEUDONYM_ROTATION_KEYS"] = ",".join([*chain, key])
    path.write_text("".join(f"{k}={v}\n" for k, v in sorted(stored.items())), encoding="utf-8")
    path.chmod(0o600)


@dataclass(frozen=True)
class Settings:
    """Paths and connection settings, read from the environment."""

    home: Path
    data_dir: Path
    pg_host: str
    pg_port: int
    pg_superuser: str

    @classmethod
    def from_env(cls) -> "Settings":
        home = Path(os.environ.get("HELHED_HOME", REPO_ROOT / ".helhed")).resolve()
        return cls(
            home=home,
            data_dir=Path(os.environ.get("HELHED_DATA_DIR", REPO_ROOT / "data")).resolve(),
            pg_host=os.environ.get("HELHED_PG_HOST", "127.0.0.1"),
            pg_port=int(os.environ.get("HELHED_PG_PORT", "54329")),
            pg_superuser=os.environ.get("HELHED_PG_USER", "postgres"),
        )

    @cached_property
    def secrets(self) -> dict[str, str]:
        return ensure_secrets(self.home)

    @property
    def landing_dir(self) -> Path:
        return self.data_dir / "landing"

    @property
    def pgdata(self) -> Path:
        return self.home / "pgdata"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @property
    def dbt_project_dir(self) -> Path:
        return REPO_ROOT / "dbt_project"

    @property
    def expectations_dir(self) -> Path:
        return REPO_ROOT / "expectations"

    @property
    def sources_file(self) -> Path:
        return REPO_ROOT / "config" / "sources.yaml"

    def url(self, database: str = "helhed", *, reader: bool = False, driver: str = "postgresql") -> str:
        """A SQLAlchemy/libpq URL for ``database`` as the superuser or the read-only reader."""
        if reader:
            user, password = "helhed_reader", self.secrets["HELHED_READER_PASSWORD"]
        else:
            user, password = self.pg_superuser, self.secrets["HELHED_PG_PASSWORD"]
        return f"{driver}://{user}:{password}@{self.pg_host}:{self.pg_port}/{database}"

    def libpq_env(self, database: str = "helhed") -> dict[str, str]:
        """Environment variables for libpq clients and dbt's profiles.yml."""
        return {
            "PGHOST": self.pg_host,
            "PGPORT": str(self.pg_port),
            "PGUSER": self.pg_superuser,
            "PGPASSWORD": self.secrets["HELHED_PG_PASSWORD"],
            "PGDATABASE": database,
        }


def settings() -> Settings:
    return Settings.from_env()
