"""Where things live and how to reach them.

Every setting comes from the environment (12-factor), with defaults that make the
embedded demo work from a fresh clone. Secrets that the demo needs are generated once
into ``$HELHED_HOME/secrets.env`` (mode 0600, in a home of mode 0700), never into the
repository. A secret set in the environment is checked before use (:func:`check_secrets`):
a ``change-me`` placeholder, a pseudonym key under 32 characters or one value serving two
purposes stops every command with a message naming the variable.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]

#: Secrets generated for the embedded demo when the environment does not set them. Each has
#: one purpose: the Airflow JWT secret is not Superset's Flask key.
GENERATED_SECRETS = ("HELHED_PG_PASSWORD", "HELHED_READER_PASSWORD", "HELHED_BI_PASSWORD", "HELHED_PSEUDONYM_KEY",
                     "HELHED_SUPERSET_SECRET_KEY", "HELHED_AIRFLOW_JWT_SECRET")

#: Every secret of the production deployment (docker-compose.yml, .env.example).
DEPLOYMENT_SECRETS = (
    "HELHED_PG_PASSWORD", "HELHED_READER_PASSWORD", "HELHED_BI_PASSWORD", "HELHED_PSEUDONYM_KEY",
    "HELHED_AIRFLOW_ADMIN_PASSWORD", "HELHED_AIRFLOW_FERNET_KEY", "HELHED_AIRFLOW_JWT_SECRET",
    "HELHED_AIRFLOW_API_SECRET_KEY", "HELHED_SUPERSET_SECRET_KEY", "HELHED_SUPERSET_ADMIN_PASSWORD",
)
#: The prefix of every placeholder in .env.example.
PLACEHOLDER_PREFIX = "change-me"
#: A pseudonym key shorter than this is guessable (32 characters of `openssl rand -hex 32` or
#: `secrets.token_urlsafe(24)` carry at least 128 bits); a known key makes pseudonyms reversible.
MIN_PSEUDONYM_KEY_LENGTH = 32
#: Signing and encryption keys: at least this long.
MIN_KEY_LENGTH = 32
_KEYS = ("HELHED_AIRFLOW_JWT_SECRET", "HELHED_AIRFLOW_API_SECRET_KEY", "HELHED_SUPERSET_SECRET_KEY")


#: Modes the platform keeps: its home and Data Docs owner-only, the delivery folders without
#: access for "other" (group access stays: a transfer account may share the group).
HOME_MODE, SECRETS_FILE_MODE, PRIVATE_DIR_MODE = 0o700, 0o600, 0o700
#: Run as root, the embedded PostgreSQL runs as its own system user (helhed.database) and must
#: traverse the home to its data directory: others may then pass through, not list, and every
#: folder in the home but the data directory is owner-only.
HOME_MODE_SHARED = 0o711


def home_mode() -> int:
    return HOME_MODE_SHARED if os.geteuid() == 0 else HOME_MODE


class WeakSecret(ValueError):
    """A secret is missing, still a placeholder, too short, or shared between two purposes."""


def secret_problems(values: Mapping[str, str], names: Iterable[str]) -> list[str]:
    """What is wrong with the secrets ``names`` in ``values`` (empty when all are fine)."""
    names = list(names)
    problems = []
    for name in names:
        value = values.get(name) or ""
        if not value.strip():
            problems.append(f"{name} is not set")
        elif value.strip().lower().startswith(PLACEHOLDER_PREFIX):
            problems.append(f"{name} is still the placeholder {value[:len(PLACEHOLDER_PREFIX)]}... from .env.example")
        elif name == "HELHED_PSEUDONYM_KEY" and len(value) < MIN_PSEUDONYM_KEY_LENGTH:
            problems.append(f"HELHED_PSEUDONYM_KEY has {len(value)} characters, fewer than {MIN_PSEUDONYM_KEY_LENGTH}: "
                            "a guessable key makes pseudonyms reversible")
        elif name in _KEYS and len(value) < MIN_KEY_LENGTH:
            problems.append(f"{name} has {len(value)} characters, fewer than {MIN_KEY_LENGTH}")
    seen: dict[str, str] = {}
    for name in names:
        value = values.get(name) or ""
        if value.strip() and not value.strip().lower().startswith(PLACEHOLDER_PREFIX):
            if value in seen:
                problems.append(f"{seen[value]} and {name} have the same value: each purpose needs its own secret")
            seen.setdefault(value, name)
    return problems


def check_secrets(values: Mapping[str, str], names: Iterable[str]) -> None:
    """Raise :class:`WeakSecret` naming every problem of :func:`secret_problems`."""
    problems = secret_problems(values, names)
    if problems:
        raise WeakSecret("refusing to start with weak secrets: " + "; ".join(problems)
                         + " (generate them as docs/deployment.md shows: openssl rand -hex 32)")


def _load_secrets_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                values[key.strip()] = value.strip()
    return values


def _write_private(path: Path, text: str) -> None:
    """Write a secrets file that is never readable by others, not even for a moment."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, SECRETS_FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    path.chmod(SECRETS_FILE_MODE)


def ensure_secrets(home: Path) -> dict[str, str]:
    """Return the demo secrets, generating any that are missing into ``home/secrets.env``.

    Environment variables win, so production sets them and no file is written for them; they
    are checked first (:func:`check_secrets`), the generated ones are strong by construction.
    """
    check_secrets(os.environ, [name for name in GENERATED_SECRETS if name in os.environ])
    home.mkdir(parents=True, exist_ok=True)
    restrict(home, home_mode())
    path = home / "secrets.env"
    stored = _load_secrets_file(path)
    changed = False
    for name in GENERATED_SECRETS:
        if name not in stored:
            stored[name] = secrets.token_urlsafe(24)
            changed = True
    if changed:
        _write_private(path, "".join(f"{k}={v}\n" for k, v in sorted(stored.items())))
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
    _write_private(path, "".join(f"{k}={v}\n" for k, v in sorted(stored.items())))


#: The staging gates' scopes: rows changed by tonight's loads, or the whole table.
GATE_SCOPES = ("since_publish", "full")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _env_int(name: str, default: int, minimum: int | None = None) -> int:
    raw = os.environ.get(name, "").strip()
    try:
        value = int(raw) if raw else default
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, not {value}")
    return value


def _env_choice(name: str, default: str, choices: tuple[str, ...], *, allow_none: bool = False) -> str | None:
    raw = os.environ.get(name, "").strip().lower() or default
    if allow_none and raw in ("none", "never", "off"):
        return None
    if raw not in choices:
        raise ValueError(f"{name} must be one of {choices}{' or none' if allow_none else ''}, not {raw!r}")
    return raw


@dataclass(frozen=True)
class Settings:
    """Every setting of the platform, read from the environment in one place (:meth:`from_env`).

    Modules take a ``Settings`` (or call :func:`settings`) instead of reading ``os.environ``;
    docs/deployment.md lists the variables. Secrets are read lazily (:attr:`secrets`).
    """

    home: Path
    data_dir: Path
    pg_host: str
    pg_port: int
    pg_superuser: str
    #: The specification, the dbt project and the suites: the repository's unless overridden
    #: (a deployment's own copy, or a test that adds a source in a temporary copy).
    sources_file: Path = REPO_ROOT / "config" / "sources.yaml"
    dbt_project_dir: Path = REPO_ROOT / "dbt_project"
    expectations_dir: Path = REPO_ROOT / "expectations"
    #: Staging gates: ``since_publish`` (rows changed by tonight's loads) or ``full``, and the
    #: weekday on which they check the whole table anyway (None: never).
    gate_scope: str = "since_publish"
    gate_full_weekday: str | None = "sunday"
    run_lock_ttl_minutes: int = 360
    landing_retention_days: int = 30
    alert_webhook: str | None = None
    airflow_host: str = "127.0.0.1"
    airflow_port: int = 8080
    airflow_database: str = "airflow"
    airflow_admin_password: str = "admin"

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ.get
        home = Path(env("HELHED_HOME", REPO_ROOT / ".helhed")).resolve()
        return cls(
            home=home,
            data_dir=Path(env("HELHED_DATA_DIR", REPO_ROOT / "data")).resolve(),
            pg_host=env("HELHED_PG_HOST", "127.0.0.1"),
            pg_port=_env_int("HELHED_PG_PORT", 54329),
            pg_superuser=env("HELHED_PG_USER", "postgres"),
            sources_file=Path(env("HELHED_SOURCES_FILE") or REPO_ROOT / "config" / "sources.yaml").resolve(),
            dbt_project_dir=Path(env("HELHED_DBT_PROJECT_DIR") or REPO_ROOT / "dbt_project").resolve(),
            expectations_dir=Path(env("HELHED_EXPECTATIONS_DIR") or REPO_ROOT / "expectations").resolve(),
            gate_scope=_env_choice("HELHED_GATE_SCOPE", cls.gate_scope, GATE_SCOPES) or cls.gate_scope,
            gate_full_weekday=_env_choice("HELHED_GATE_FULL_WEEKDAY", cls.gate_full_weekday or "none", WEEKDAYS,
                                          allow_none=True),
            run_lock_ttl_minutes=_env_int("HELHED_RUN_LOCK_TTL_MINUTES", cls.run_lock_ttl_minutes, minimum=1),
            landing_retention_days=_env_int("HELHED_LANDING_RETENTION_DAYS", cls.landing_retention_days, minimum=0),
            alert_webhook=env("HELHED_ALERT_WEBHOOK") or None,
            airflow_host=env("HELHED_AIRFLOW_HOST", cls.airflow_host),
            airflow_port=_env_int("HELHED_AIRFLOW_PORT", cls.airflow_port),
            airflow_database=env("HELHED_AIRFLOW_DATABASE", cls.airflow_database),
            airflow_admin_password=env("HELHED_AIRFLOW_ADMIN_PASSWORD", cls.airflow_admin_password),
        )

    @property
    def new_pseudonym_key(self) -> str:
        """The key ``helhed rotate-key`` re-keys to (``HELHED_NEW_PSEUDONYM_KEY``; a secret, read
        when asked for and never stored on the object)."""
        return os.environ.get("HELHED_NEW_PSEUDONYM_KEY", "")

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


def restrict(path: Path, mode: int) -> bool:
    """Set ``path`` to ``mode`` unless it has it; True if it changed. A path another user owns
    (a volume created by another uid) cannot be changed: logged, for the operator to fix."""
    if stat.S_IMODE(path.stat().st_mode) == mode:
        return False
    try:
        path.chmod(mode)
    except PermissionError:
        log.warning("%s has mode %o and is not ours to change to %o; restrict it", path,
                    stat.S_IMODE(path.stat().st_mode), mode)
        return False
    return True


def _without_other(path: Path) -> bool:
    """Remove the "other" permission bits of ``path``; True if it changed. A file we do not
    own cannot be changed: logged, for the operator to fix."""
    mode = stat.S_IMODE(path.lstat().st_mode)
    if not mode & 0o007:
        return False
    try:
        path.chmod(mode & ~0o007)
    except PermissionError:
        log.warning("%s is readable by every user (mode %o) and not ours to change; restrict it", path, mode)
        return False
    return True


def tighten_modes(s: Settings) -> int:
    """Give the platform's files tight modes; return how many were changed.

    ``$HELHED_HOME`` 0700 (0711 when root runs it, :func:`home_mode`) with every folder in it
    but the PostgreSQL data directory 0700 and ``secrets.env`` 0600; the Data Docs 0700/0600
    throughout (:func:`helhed.gates.restrict_modes`); every folder and file under the landing
    area without access for other users (a delivery holds raw CPR numbers). Called at the start
    of every nightly run, so files a source or the generator wrote with a loose umask are closed too.
    """
    from helhed.gates import restrict_modes

    changed = 0
    if s.home.exists():
        changed += restrict(s.home, home_mode())
        for child in s.home.iterdir():
            if child.is_dir() and not child.is_symlink() and child != s.pgdata:
                changed += restrict(child, PRIVATE_DIR_MODE)
        secrets_file = s.home / "secrets.env"
        if secrets_file.exists():
            changed += restrict(secrets_file, SECRETS_FILE_MODE)
        restrict_modes(s.home / "data_docs")
    for root in (s.data_dir, s.landing_dir):
        if root.exists():
            changed += _without_other(root)
    if s.landing_dir.exists():
        for path in s.landing_dir.rglob("*"):
            if not path.is_symlink():
                changed += _without_other(path)
    return changed
