"""Initialise Superset's metadata database. Runs in ``.venv-superset``, not in the helhed venv.

Does what ``superset db upgrade``, ``superset init`` and ``superset fab create-admin`` do, in
one process (one app start instead of three) and without the ``superset`` CLI, whose
``test_db`` module imports ``rich``, a package Superset 6.1 uses but does not declare.
The admin password comes from the environment, so it never shows in a process list.
Idempotent: migrations to head, permissions and roles re-synced, admin password reset.
"""

from __future__ import annotations

import os
import sys
import time


def main() -> None:
    from flask_migrate import upgrade
    from superset.app import create_app
    from superset.db_engine_specs import load_engine_specs

    from superset import appbuilder, db, security_manager  # type: ignore[attr-defined]  # made by superset's app factory at import time

    app = create_app()
    with app.app_context():
        # Superset imports every engine spec whenever it touches a database connection; a
        # module missing from the environment (6.1 needs `cachetools` without declaring it)
        # would otherwise surface only later as "Import failed for an unknown reason".
        try:
            load_engine_specs()
        except ImportError as exc:
            sys.exit(f"Superset cannot load its database engine specs: {exc!r}. "
                     "Install the missing package into Superset's environment.")

        t0 = time.monotonic()
        upgrade()  # alembic upgrade head on Superset's own migrations
        print(f"db upgrade: {time.monotonic() - t0:.1f}s", flush=True)

        t0 = time.monotonic()
        appbuilder.add_permissions(update_perms=True)
        security_manager.sync_role_definitions()
        db.session.commit()
        print(f"init (permissions, roles): {time.monotonic() - t0:.1f}s", flush=True)

        username = os.environ.get("HELHED_SUPERSET_ADMIN_USERNAME", "admin")
        password = os.environ["HELHED_SUPERSET_ADMIN_PASSWORD"]
        user = security_manager.find_user(username=username)
        if user is None:
            role = security_manager.find_role(security_manager.auth_role_admin)
            if not security_manager.add_user(
                username, "Helhed", "Admin", f"{username}@helhed.invalid", role, password
            ):
                sys.exit(f"could not create Superset user {username}")
            print(f"created admin user {username}", flush=True)
        else:
            security_manager.reset_password(user.id, password)
            print(f"admin user {username} exists; password reset", flush=True)
        db.session.commit()


if __name__ == "__main__":
    main()
