"""Create the Airflow admin user from the environment (airflow-init).

`airflow users create --password ...` would put the password on a command line, visible
to `ps` while the CLI runs; this uses the same FAB security manager the CLI calls, with
the password read from AIRFLOW_ADMIN_PASSWORD. An existing user is left as it is.
"""

from __future__ import annotations

import os
import sys

from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder


def main() -> int:
    username = os.environ["AIRFLOW_ADMIN_USER"]
    password = os.environ["AIRFLOW_ADMIN_PASSWORD"]
    with get_application_builder() as appbuilder:
        sm = appbuilder.sm
        if sm.find_user(username=username):
            print(f"airflow-init: admin user '{username}' exists")
            return 0
        role = sm.find_role("Admin")
        if role is None or not sm.add_user(username, "CarPrice", "Admin",
                                           f"{username}@example.com", role, password):
            print(f"airflow-init: creating admin user '{username}' failed", file=sys.stderr)
            return 1
    print(f"airflow-init: created admin user '{username}'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
