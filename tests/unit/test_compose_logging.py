"""Every Compose service rotates its container log (the x-logging anchor of
docker-compose-full.yml), rendered as tests/unit/test_compose.py renders the file."""

from __future__ import annotations

from tests.unit.test_compose import config, services

__all__ = ["config", "services"]  # fixtures, used by name


def test_every_service_rotates_its_container_log(services):
    """Docker's json-file log, capped per container (LOG_MAX_SIZE x LOG_MAX_FILE in .env)."""
    assert services
    for name, svc in services.items():
        logging = svc.get("logging") or {}
        assert logging.get("driver") == "json-file", name
        assert set(logging.get("options", {})) == {"max-size", "max-file"}, name
