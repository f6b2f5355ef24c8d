"""The production deployment: docker-compose.yml, .env.example and the images in docker/.

No Docker engine is needed: ``docker-compose config`` validates and renders the file, and the
tests assert on the rendered result (docker-compose 1.29 has no ``--format json``, so the YAML
it prints is parsed) and on the raw file and Dockerfiles.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"

AIRFLOW_SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer")
LONG_RUNNING = ("postgres", "redis", *AIRFLOW_SERVICES, "superset")
ONE_SHOT = ("secrets-check", "airflow-init", "superset-init", "superset-provision")
REQUIRED_SERVICES = (*LONG_RUNNING, *ONE_SHOT)

#: Variables that hold secrets: required (``${VAR:?message}``) and never written in the compose file.
SECRET_VARS = (
    "HELHED_PG_PASSWORD",
    "HELHED_READER_PASSWORD",
    "HELHED_BI_PASSWORD",
    "HELHED_PSEUDONYM_KEY",
    "HELHED_SUPERSET_SECRET_KEY",
    "HELHED_SUPERSET_ADMIN_PASSWORD",
    "HELHED_AIRFLOW_ADMIN_PASSWORD",
    "HELHED_AIRFLOW_FERNET_KEY",
    "HELHED_AIRFLOW_JWT_SECRET",
    "HELHED_AIRFLOW_API_SECRET_KEY",
)

#: Repository folders the containers use exactly as the embedded demo does.
MOUNTED_REPO_DIRS = ("dags", "dbt_project", "expectations", "config", "superset/assets")

FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"

VAR_REF = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
ENV_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


# --------------------------------------------------------------------------- helpers


def compose_binary() -> str:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose binary not found on PATH (the Makefile installs Debian's docker-compose)")
    return binary


def run_config(env_file: Path) -> subprocess.CompletedProcess:
    """``docker-compose config`` with nothing from the caller's shell leaking into interpolation."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HELHED_", "AIRFLOW", "COMPOSE_", "DOCKER_"))}
    return subprocess.run(
        [compose_binary(), "-f", str(COMPOSE), "--env-file", str(env_file), "config"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if match := ENV_LINE.match(line.strip()):
            values[match.group(1)] = match.group(2)
    return values


def raw_compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def depends_on(service: dict) -> dict[str, str]:
    deps = service.get("depends_on", {})
    if isinstance(deps, list):
        return {name: "service_started" for name in deps}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def published_ports(service: dict) -> set[int]:
    ports = set()
    for port in service.get("ports", []):
        if isinstance(port, dict):
            ports.add(int(port["published"]))
        else:
            parts = str(port).split("/")[0].split(":")
            ports.add(int(parts[-2] if len(parts) >= 2 else parts[-1]))
    return ports


def mounts(service: dict) -> list[tuple[str, str]]:
    """(source, target) of every volume entry, short or long syntax."""
    result = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            result.append((str(volume.get("source", "")), str(volume["target"])))
        else:
            parts = str(volume).split(":")
            result.append((parts[0], parts[1]))
    return result


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def dockerfile(service: dict) -> Path:
    build = service["build"]
    return Path(build["context"]) / build.get("dockerfile", "Dockerfile")


def copy_sources(path: Path) -> list[str]:
    sources = []
    for line in path.read_text(encoding="utf-8").splitlines():
        words = line.split()
        if not words or words[0].upper() != "COPY" or any(w.startswith("--from") for w in words):
            continue
        args = [w for w in words[1:] if not w.startswith("--")]
        sources.extend(args[:-1])
    return sources


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def config() -> dict:
    result = run_config(ENV_EXAMPLE)
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    return yaml.safe_load(result.stdout)


@pytest.fixture(scope="module")
def services(config: dict) -> dict[str, dict]:
    return config["services"]


# --------------------------------------------------------------------------- services


def test_all_required_services_are_defined(services):
    missing = sorted(set(REQUIRED_SERVICES) - set(services))
    assert not missing, f"services missing from docker-compose.yml: {missing}"


def test_long_running_services_have_a_healthcheck_and_restart_policy(services):
    for name in LONG_RUNNING:
        check = services[name].get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
        assert services[name].get("restart") in ("always", "unless-stopped"), f"{name} is not restarted"
    for name in ONE_SHOT:
        assert services[name].get("restart", "no") == "no", f"one-shot {name} must not be restarted"


def test_healthchecks_fit_each_component(services):
    def test_of(name: str) -> str:
        test = services[name]["healthcheck"]["test"]
        return " ".join(test) if isinstance(test, list) else test

    assert "pg_isready" in test_of("postgres")
    assert "redis-cli" in test_of("redis") and "ping" in test_of("redis")
    assert "localhost:8080/api/v2/monitor/health" in test_of("airflow-apiserver")
    assert "localhost:8974/health" in test_of("airflow-scheduler")
    assert environment(services["airflow-scheduler"])["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "true"
    assert "airflow jobs check --job-type DagProcessorJob" in test_of("airflow-dag-processor")
    assert "airflow jobs check --job-type TriggererJob" in test_of("airflow-triggerer")
    assert "localhost:8088/health" in test_of("superset")


def host_ips(service: dict) -> set[str]:
    """The host addresses a service's ports are published on (short or long syntax)."""
    ips = set()
    for port in service.get("ports", []):
        if isinstance(port, dict):
            ips.add(str(port.get("host_ip", "0.0.0.0")))
        else:
            parts = str(port).split("/")[0].split(":")
            ips.add(parts[0] if len(parts) == 3 else "0.0.0.0")
    return ips


def test_web_ports_are_published_on_localhost_by_default(services):
    assert 8080 in published_ports(services["airflow-apiserver"])
    assert 8088 in published_ports(services["superset"])
    for name in ("airflow-apiserver", "superset"):
        assert host_ips(services[name]) == {"127.0.0.1"}, f"{name} must bind to 127.0.0.1 unless told otherwise"
    for name in ("postgres", "redis"):
        assert not published_ports(services[name]), f"{name} must stay on the internal network"
    assert env_example()["HELHED_BIND_ADDRESS"] == "127.0.0.1"
    assert re.search(r"\$\{HELHED_BIND_ADDRESS:-127\.0\.0\.1\}", COMPOSE.read_text(encoding="utf-8"))


def test_the_demo_binds_its_web_uis_to_localhost(helhed_env, monkeypatch):
    from helhed import airflow_local, processes
    from helhed.config import Settings
    from helhed.superset import server

    started = {}
    monkeypatch.setattr(processes, "start", lambda s, name, args, env: started.setdefault(name, (args, env)))
    monkeypatch.setattr(processes, "wait_for_http", lambda *a, **k: None)
    monkeypatch.delenv("HELHED_AIRFLOW_HOST", raising=False)
    monkeypatch.delenv("HELHED_SUPERSET_HOST", raising=False)
    s = Settings.from_env()
    airflow_local.start_services(s)
    args, env = started["airflow-api-server"]
    assert args[args.index("--host") + 1] == "127.0.0.1" and env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert server.bind_host() == "127.0.0.1"
    # One secret, one purpose: Airflow's JWT secret is its own, not Superset's key.
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == s.secrets["HELHED_AIRFLOW_JWT_SECRET"]
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] != s.secrets["HELHED_SUPERSET_SECRET_KEY"]


def test_start_order(services):
    for name in (*REQUIRED_SERVICES,):
        if name not in ("secrets-check", "redis"):
            assert depends_on(services[name]).get("secrets-check") == "service_completed_successfully", \
                f"{name} must wait for the secrets check"
    for name in (*AIRFLOW_SERVICES, "superset-provision"):
        deps = depends_on(services[name])
        assert deps.get("airflow-init") == "service_completed_successfully", name
        assert deps.get("postgres") == "service_healthy", name
    assert depends_on(services["airflow-init"]).get("postgres") == "service_healthy"
    assert depends_on(services["superset-init"]).get("postgres") == "service_healthy"
    assert depends_on(services["superset"]).get("superset-init") == "service_completed_successfully"
    assert depends_on(services["superset"]).get("redis") == "service_healthy"
    assert depends_on(services["superset-provision"]).get("superset") == "service_healthy"


def test_airflow_components_share_one_configuration(services):
    envs = {name: environment(services[name]) for name in (*AIRFLOW_SERVICES, "airflow-init")}
    for name, env in envs.items():
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor", name
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/", name
        assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/helhed/dags", name
        assert "@postgres:5432/airflow" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], name
        assert env["AIRFLOW__CORE__AUTH_MANAGER"] == FAB_AUTH_MANAGER, f"{name} must use the FAB auth manager"
        assert not any(k.startswith("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER") for k in env), name
        targets = dict((t, s) for s, t in mounts(services[name]))
        assert targets["/opt/helhed/dags"] == str(REPO / "dags"), name
        assert targets["/opt/helhed/state"] == "helhed-state", name
    for key in ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API__SECRET_KEY"):
        assert len({env[key] for env in envs.values()}) == 1, f"{key} differs between Airflow components"
    images = {services[name]["image"] for name in (*AIRFLOW_SERVICES, "airflow-init", "superset-provision")}
    assert len(images) == 1, f"Airflow services run different images: {images}"
    assert "HELHED_AIRFLOW_ADMIN_PASSWORD" in envs["airflow-init"]


def test_helhed_settings_point_at_the_compose_services(services):
    expected = {
        "HELHED_PG_HOST": "postgres",
        "HELHED_PG_PORT": "5432",
        "HELHED_DATA_DIR": "/opt/helhed/data",
        "HELHED_HOME": "/opt/helhed/state",
    }
    for name in (*AIRFLOW_SERVICES, "airflow-init", "superset-provision"):
        env = environment(services[name])
        for key, value in expected.items():
            assert env.get(key) == value, f"{name}: {key}={env.get(key)!r}"
        for key in ("HELHED_PG_PASSWORD", "HELHED_READER_PASSWORD", "HELHED_BI_PASSWORD", "HELHED_PSEUDONYM_KEY"):
            assert env.get(key), f"{name} lacks {key}"
        assert "/opt/helhed/data" in [t for _, t in mounts(services[name])], f"{name} has no delivery folder mount"


def test_superset_gets_what_superset_config_requires(services):
    config_py = (REPO / "superset" / "superset_config.py").read_text(encoding="utf-8")
    required = set(re.findall(r"""_(?:env|secret)\(["']([A-Z0-9_]+)["']\)""", config_py))
    assert required, "superset_config.py reads no required variable"
    for name in ("superset", "superset-init"):
        env = environment(services[name])
        assert not required - set(env), f"{name} lacks {sorted(required - set(env))}"
        assert env["REDIS_URL"].startswith("redis://redis:6379/"), name
        assert env["HELHED_SUPERSET_DATABASE_URI"].endswith("@postgres:5432/superset"), name
        assert "HELHED_PSEUDONYM_KEY" not in env, f"{name} must not see the pseudonym key"
    assert environment(services["superset-init"])["HELHED_SUPERSET_ADMIN_PASSWORD"]
    assert services["superset"]["image"] == services["superset-init"]["image"]


def test_dbt_profile_gets_its_libpq_environment(services):
    profile = (REPO / "dbt_project" / "profiles.yml").read_text(encoding="utf-8")
    needed = set(re.findall(r"""env_var\(\s*["']([A-Z0-9_]+)["']""", profile)) - {"DBT_THREADS"}
    assert needed, "dbt_project/profiles.yml reads no environment variable"
    for name in (*AIRFLOW_SERVICES, "airflow-init"):
        env = environment(services[name])
        assert not needed - set(env), f"{name} lacks {sorted(needed - set(env))} for dbt"
        assert env["PGHOST"] == env["HELHED_PG_HOST"] and env["PGPORT"] == env["HELHED_PG_PORT"], name
        assert env["PGPASSWORD"] == env["HELHED_PG_PASSWORD"] and env["PGDATABASE"] == "helhed", name


def test_superset_provision_runs_the_helhed_cli_from_the_airflow_image(services):
    provision = services["superset-provision"]
    assert provision["image"] == services["airflow-apiserver"]["image"]
    command = provision["command"]
    command = " ".join(command) if isinstance(command, list) else command
    assert "helhed superset provision" in command
    env = environment(provision)
    assert env["HELHED_SUPERSET_URL"] == "http://superset:8088"
    assert env["HELHED_SUPERSET_ADMIN_PASSWORD"]
    targets = [t for _, t in mounts(provision)]
    assert "/opt/helhed/superset/assets" in targets


def test_postgres_uses_the_official_18_image_and_a_named_volume(config, services):
    postgres = services["postgres"]
    assert postgres["image"] == "postgres:18"
    targets = dict((t, s) for s, t in mounts(postgres))
    # Since PostgreSQL 18 the image keeps PGDATA under /var/lib/postgresql/<major>/docker.
    assert targets["/var/lib/postgresql"] == "postgres-data"
    assert targets["/docker-entrypoint-initdb.d"] == str(REPO / "docker" / "postgres-init")
    assert environment(postgres)["HELHED_READER_PASSWORD"]
    named = {source for service in services.values() for source, _ in mounts(service) if not source.startswith("/")}
    assert named <= set(config["volumes"]), f"undeclared named volumes: {named - set(config['volumes'])}"
    assert {"postgres-data", "helhed-state", "airflow-logs"} <= named


def test_postgres_init_script_creates_databases_and_reader():
    scripts = sorted((REPO / "docker" / "postgres-init").glob("*.sh"))
    assert scripts, "no init script in docker/postgres-init"
    text = "\n".join(s.read_text(encoding="utf-8") for s in scripts)
    for database in ("helhed", "airflow", "superset"):
        assert f"create database {database}" in text
    assert "helhed_reader" in text and "HELHED_READER_PASSWORD" in text
    assert "grant usage on schema marts to helhed_reader" in text


# --------------------------------------------------------------------------- secrets and .env.example


def test_no_secret_value_is_written_in_the_compose_file():
    text = COMPOSE.read_text(encoding="utf-8")
    for name in SECRET_VARS:
        value = env_example()[name]
        assert value not in text, f"the value of {name} is written in docker-compose.yml"
    secretish = re.compile(r"(PASSWORD|SECRET|_KEY)$")
    # YAML merge keys are resolved by the loader, so each service shows its full raw environment.
    for service in raw_compose()["services"].values():
        for key, value in environment(service).items():
            if secretish.search(key):
                assert re.fullmatch(r"\$\{[A-Z0-9_]+:\?[^}]*\}", value), f"{key} must be a required variable, not {value!r}"
            if "://" in value and "@" in value:
                userinfo = value.split("://", 1)[1].rsplit("@", 1)[0]
                assert ":" not in userinfo or VAR_REF.search(userinfo.split(":", 1)[1]), f"{key} embeds a password"


def test_required_secrets_fail_loudly():
    text = COMPOSE.read_text(encoding="utf-8")
    for match in VAR_REF.finditer(text):
        name, operator = match.group(1), match.group(2)
        if name in SECRET_VARS:
            assert operator == ":?", f"${{{name}}} must be written ${{{name}:?message}}"


@pytest.mark.parametrize("missing", ["HELHED_PG_PASSWORD", "HELHED_PSEUDONYM_KEY", "HELHED_AIRFLOW_JWT_SECRET"])
def test_missing_secret_stops_compose(tmp_path, missing):
    lines = [line for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines() if not line.startswith(f"{missing}=")]
    env_file = tmp_path / "incomplete.env"
    env_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run_config(env_file)
    assert result.returncode != 0
    assert missing in result.stderr


def test_env_example_defines_every_variable_of_the_compose_file():
    referenced = {m.group(1) for m in VAR_REF.finditer(COMPOSE.read_text(encoding="utf-8"))}
    defined = env_example()
    assert referenced, "docker-compose.yml references no variables"
    assert not referenced - set(defined), f"missing from .env.example: {sorted(referenced - set(defined))}"
    assert not set(defined) - referenced, f"unused in docker-compose.yml: {sorted(set(defined) - referenced)}"
    assert set(SECRET_VARS) <= referenced


def test_env_example_holds_only_placeholders_with_comments():
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    defined = env_example()
    for name in SECRET_VARS:
        assert defined[name].startswith("change-me-"), f"{name} in .env.example must be an obvious placeholder"
    for index, line in enumerate(lines):
        if not ENV_LINE.match(line):
            continue
        above = index - 1
        while above >= 0 and ENV_LINE.match(lines[above]):
            above -= 1
        assert above >= 0 and lines[above].startswith("#"), f"{line.split('=')[0]} has no comment in .env.example"


# --------------------------------------------------------------------------- images and mounts


def test_dockerfiles_exist_and_use_the_pinned_constraints(services):
    airflow = dockerfile(services["airflow-apiserver"])
    superset = dockerfile(services["superset"])
    assert airflow == REPO / "docker" / "airflow.Dockerfile" and airflow.is_file()
    assert superset == REPO / "docker" / "superset.Dockerfile" and superset.is_file()

    pipeline = (REPO / "constraints" / "pipeline.txt").read_text(encoding="utf-8")
    airflow_pin = re.search(r"^apache-airflow==(\S+)$", pipeline, re.M).group(1)
    airflow_text = airflow.read_text(encoding="utf-8")
    assert re.search(rf"^FROM apache/airflow:{re.escape(airflow_pin)}-python3\.11\s*$", airflow_text, re.M)
    assert "constraints/pipeline.txt" in airflow_text and "--constraint" in airflow_text

    superset_pins = (REPO / "superset" / "constraints.txt").read_text(encoding="utf-8")
    superset_pin = re.search(r"^apache[-_]superset==(\S+)$", superset_pins, re.M | re.I).group(1)
    superset_text = superset.read_text(encoding="utf-8")
    assert re.search(rf"^FROM apache/superset:{re.escape(superset_pin)}\s*$", superset_text, re.M)
    assert "superset/constraints.txt" in superset_text and "--constraint" in superset_text
    assert "psycopg2-binary" in superset_text and "Flask-Caching==2.3.1" in superset_text
    assert "superset/superset_config.py" in superset_text


def test_files_copied_into_the_images_exist(services):
    for name in ("airflow-apiserver", "superset"):
        path = dockerfile(services[name])
        for source in copy_sources(path):
            assert (REPO / source).exists(), f"{path.name} copies {source}, which is not in the repository"


def test_mounted_repository_paths_exist(services):
    targets = {t: s for s, t in mounts(services["airflow-scheduler"])}
    for folder in MOUNTED_REPO_DIRS:
        source = targets.get(f"/opt/helhed/{folder}")
        assert source == str(REPO / folder), f"{folder}/ is not mounted at /opt/helhed/{folder}"
        assert (REPO / folder).is_dir(), f"{folder}/ does not exist in the repository"
    # superset/access.yaml: airflow-init creates the database logins from it, superset-provision the roles
    assert targets.get("/opt/helhed/superset/access.yaml") == str(REPO / "superset" / "access.yaml")
    data = targets["/opt/helhed/data"]
    for service in services.values():
        for source, _ in mounts(service):
            if source.startswith(str(REPO)) and source != data:
                assert Path(source).exists(), f"{source} is mounted but does not exist"


# --------------------------------------------------------------------------- weak defaults


def strong_secrets() -> dict[str, str]:
    import secrets

    return {name: secrets.token_hex(32) for name in SECRET_VARS}


def test_placeholder_short_or_shared_secrets_are_refused_before_anything_starts(services):
    from helhed.config import DEPLOYMENT_SECRETS, secret_problems

    assert set(DEPLOYMENT_SECRETS) == set(SECRET_VARS)
    check = services["secrets-check"]
    assert check.get("entrypoint") == ["helhed"] and check.get("command") == ["check-secrets"]
    assert set(SECRET_VARS) <= set(environment(check)), "the check must see every secret"
    assert check["image"] == services["airflow-apiserver"]["image"]

    placeholders = secret_problems(env_example(), SECRET_VARS)
    assert len(placeholders) == len(SECRET_VARS) and all("placeholder" in p for p in placeholders)
    good = strong_secrets()
    assert secret_problems(good, SECRET_VARS) == []
    short = secret_problems({**good, "HELHED_PSEUDONYM_KEY": "abc123"}, SECRET_VARS)
    assert short == ["HELHED_PSEUDONYM_KEY has 6 characters, fewer than 32: a guessable key makes pseudonyms reversible"]
    shared = secret_problems({**good, "HELHED_AIRFLOW_JWT_SECRET": good["HELHED_SUPERSET_SECRET_KEY"]}, SECRET_VARS)
    assert shared and "HELHED_AIRFLOW_JWT_SECRET" in shared[0] and "same value" in shared[0]
    missing = secret_problems({k: v for k, v in good.items() if k != "HELHED_PSEUDONYM_KEY"}, SECRET_VARS)
    assert missing == ["HELHED_PSEUDONYM_KEY is not set"]

    # The command the service runs: exit 1 with one line per problem, naming the variable.
    helhed = str(Path(sys.executable).parent / "helhed")
    base = {k: v for k, v in os.environ.items() if not k.startswith("HELHED_")}
    refused = subprocess.run([helhed, "check-secrets"], env={**base, **env_example()}, capture_output=True,
                             text=True, timeout=120)
    assert refused.returncode == 1 and "HELHED_PSEUDONYM_KEY is still the placeholder" in refused.stderr
    accepted = subprocess.run([helhed, "check-secrets"], env={**base, **good}, capture_output=True, text=True,
                              timeout=120)
    assert accepted.returncode == 0, accepted.stderr


def test_the_pipeline_refuses_a_placeholder_pseudonym_key(tmp_path, monkeypatch):
    from helhed.config import WeakSecret, ensure_secrets

    monkeypatch.setenv("HELHED_PSEUDONYM_KEY", "change-me-pseudonym-hmac-key")
    with pytest.raises(WeakSecret, match="HELHED_PSEUDONYM_KEY is still the placeholder"):
        ensure_secrets(tmp_path)
    monkeypatch.setenv("HELHED_PSEUDONYM_KEY", "too-short")
    with pytest.raises(WeakSecret, match="fewer than 32"):
        ensure_secrets(tmp_path)
    monkeypatch.setenv("HELHED_PSEUDONYM_KEY", "k" * 40)
    values = ensure_secrets(tmp_path)
    assert values["HELHED_PSEUDONYM_KEY"] == "k" * 40
    # The demo's generated secrets: one per purpose, in a file only its owner reads.
    assert len({values[name] for name in ("HELHED_SUPERSET_SECRET_KEY", "HELHED_AIRFLOW_JWT_SECRET")}) == 2
    assert stat.S_IMODE((tmp_path / "secrets.env").stat().st_mode) == 0o600


def test_superset_config_refuses_a_placeholder_key(tmp_path):
    env = {**os.environ, "HELHED_SUPERSET_SECRET_KEY": "change-me-superset-secret-key",
           "HELHED_SUPERSET_DATABASE_URI": "postgresql+psycopg2://u:p@h/superset"}
    code = f"import runpy; runpy.run_path({str(REPO / 'superset' / 'superset_config.py')!r})"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "HELHED_SUPERSET_SECRET_KEY is a placeholder" in result.stderr


def test_production_airflow_uses_the_fab_auth_manager_with_roles():
    import importlib
    from importlib.metadata import requires, version

    from packaging.requirements import Requirement

    pins = dict(line.split("==", 1) for line in (REPO / "constraints" / "pipeline.txt").read_text().split()
                if "==" in line)
    assert version("apache-airflow-providers-fab") == pins["apache-airflow-providers-fab"]
    # It co-installs with the pinned Airflow: its requirement on apache-airflow admits the pin.
    airflow_req = next(Requirement(r) for r in requires("apache-airflow-providers-fab")
                       if Requirement(r).name == "apache-airflow" and not Requirement(r).marker)
    assert airflow_req.specifier.contains(pins["apache-airflow"], prereleases=True), airflow_req
    module, _, name = FAB_AUTH_MANAGER.rpartition(".")
    assert getattr(importlib.import_module(module), name)
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^production = \["apache-airflow-providers-fab"\]', pyproject, re.M)
    assert '"/opt/helhed[production]"' in (REPO / "docker" / "airflow.Dockerfile").read_text(encoding="utf-8")
    init = (REPO / "docker" / "airflow-init.sh").read_text(encoding="utf-8")
    assert "helhed check-secrets" in init
    assert re.search(r"airflow users create .*--role Admin", init.replace("\\\n", " "))
    assert "airflow users reset-password" in init


def test_warehouse_roles_cannot_connect_to_the_metadata_databases(pg):
    """helhed_reader (Superset's warehouse login) reads marts, never Airflow's or Superset's
    metadata (connections, users, password hashes). The compose init script does the same."""
    import psycopg

    with psycopg.connect(pg.url("helhed", reader=True)) as conn:
        assert conn.execute("select current_user").fetchone()[0] == "helhed_reader"
    for database in ("airflow", "superset"):
        with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
            psycopg.connect(pg.url(database, reader=True)).close()
        with psycopg.connect(pg.url(database)) as conn:   # the owner still can
            assert conn.execute("select 1").fetchone() == (1,)
    script = (REPO / "docker" / "postgres-init" / "10-helhed.sh").read_text(encoding="utf-8")
    assert "revoke all on database airflow from public" in script
    assert "revoke all on database superset from public" in script


# --------------------------------------------------------------------------- scale-out (docs/scaling.md)


def test_celery_override_runs_every_airflow_service_on_celery_with_redis():
    """docker-compose.celery.yml with the `celery` profile: one executor for every Airflow service,
    Redis as the broker, the worker built from the same image, mounts and secrets as the scheduler."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HELHED_", "AIRFLOW", "COMPOSE_", "DOCKER_"))}
    result = subprocess.run(
        [compose_binary(), "-f", str(COMPOSE), "-f", str(REPO / "docker-compose.celery.yml"), "--env-file",
         str(ENV_EXAMPLE), "--profile", "celery", "config"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    airflow = {name: s for name, s in services.items() if name.startswith("airflow")}
    assert set(airflow) == {*AIRFLOW_SERVICES, "airflow-init", "airflow-worker"}
    for name, service in airflow.items():
        env_ = service["environment"]
        assert env_["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env_["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:6379/"), name
        assert env_["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://"), name
    worker, scheduler = airflow["airflow-worker"], airflow["airflow-scheduler"]
    assert str(worker["command"]).startswith("celery worker")
    assert worker["image"] == scheduler["image"] and worker["volumes"] == scheduler["volumes"]
    assert {k: v for k, v in worker["environment"].items() if k.startswith("HELHED_")} == \
        {k: v for k, v in scheduler["environment"].items() if k.startswith("HELHED_")}
    assert "redis" in worker["depends_on"] and "redis" in scheduler["depends_on"]


def test_celery_worker_is_off_without_the_profile(services):
    """The default deployment stays on the LocalExecutor: the worker exists only in the `celery` profile."""
    assert services["airflow-worker"]["profiles"] == ["celery"]
    assert services["airflow-scheduler"]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
