"""compose.yaml as written (Docker does not run here; tests/integration/test_compose.py runs
its commands as plain processes)."""

from tests.compose import load_compose

ONE_OFF = {"migrate"}


def test_every_long_running_service_is_started_again_when_it_ends() -> None:
    """As `dashboard run`'s supervisor does: a worker whose main process ends (QA saw one end
    after a Redis outage) must not stay down."""
    services = load_compose()["services"]
    for name, spec in services.items():
        expected = "no" if name in ONE_OFF else "unless-stopped"
        assert spec.get("restart") == expected, f"{name}: restart {spec.get('restart')!r}"
    assert {"migrate", "web", "worker", "beat", "redis"} <= set(services)
