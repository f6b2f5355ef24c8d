"""Shared fixtures: a real, throw-away PostgreSQL server per test session.

Each session gets its own ``HELHED_HOME`` under pytest's temp dir and a free TCP port, so
test runs (and developers) never touch ``.helhed/`` of the demo.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from helhed import database
from helhed.config import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def helhed_env() -> Iterator[dict[str, str]]:
    """Environment variables pointing helhed at a private home, data dir and port.

    The folder is our own ``mkdtemp``, not pytest's ``tmp_path_factory``: pytest prunes old
    ``pytest-N`` folders, which pulled the data directory from under a server that another
    test session (a developer's, in parallel) was still running.
    """
    root = Path(tempfile.mkdtemp(prefix="helhed-test-"))
    (root / "home").mkdir()
    env = {
        "HELHED_HOME": str(root / "home"),
        "HELHED_DATA_DIR": str(root / "data"),
        "HELHED_PG_PORT": str(free_port()),
    }
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    yield env
    shutil.rmtree(root, ignore_errors=True)
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def pg(helhed_env: dict[str, str]) -> Iterator[Settings]:
    """A running embedded PostgreSQL with the helhed databases, schemas and roles."""
    s = Settings.from_env()
    database.start(s)
    yield s
    database.stop(s)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]
