"""Create the Airflow pool of the tasks that change the MLflow registry (airflow-init).

Name and size come from carprice.pipeline.definition (REGISTRY_POOL, one slot): the DAGs
put every registry-changing task in it, so the training, monitoring and rollback DAGs
never change the registry at the same time. An existing pool is reset to that size.
"""

from __future__ import annotations

from airflow.models.pool import Pool

from carprice.pipeline import definition


def main() -> int:
    Pool.create_or_update_pool(
        definition.REGISTRY_POOL, definition.REGISTRY_POOL_SLOTS,
        description="CarPrice: tasks that change the MLflow registry, one at a time",
        include_deferred=False)
    print(f"airflow-init: pool '{definition.REGISTRY_POOL}' has "
          f"{definition.REGISTRY_POOL_SLOTS} slot(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
