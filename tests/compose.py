"""compose.yaml's services as plain processes: each one's command and environment, with the
compose network's host names pointed at servers on this machine.

Docker does not run here, so this is how a test runs exactly what compose would: the same
`python -m dashboard ...` commands, with the environment compose gives each service, the
shared `files` volume being one directory.
"""

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO_ROOT / "compose.yaml"
APP_SERVICES = ("migrate", "web", "worker", "beat")
VARIABLE = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")


@dataclass(frozen=True)
class ServiceCommand:
    name: str
    argv: list[str]
    env: dict[str, str]
    replicas: int


def load_compose(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    """The file as compose reads it with nothing set in the shell: anchors resolved, and
    `${NAME:-default}` replaced by its default."""
    text = VARIABLE.sub(lambda match: match.group(2) or "", path.read_text())
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def app_services(
    compose: dict[str, Any], *, redis_url: str, database_url: str, data_dir: Path
) -> dict[str, ServiceCommand]:
    """The app's services, pointed at this machine's Redis and database instead of the
    `redis` and `postgres` hosts of the compose network."""
    found = {}
    for name in APP_SERVICES:
        spec = compose["services"][name]
        env = {
            key: "" if value is None else str(value) for key, value in spec["environment"].items()
        }
        assert env["REDIS_URL"].startswith("redis://redis:"), "compose's Redis is the redis service"
        assert "@postgres:" in env["DATABASE_URL"], "compose's database is the postgres service"
        volume = next(v for v in spec.get("volumes", []) if v.startswith("files:"))
        assert env["DASHBOARD_STATE_DIR"] == volume.split(":")[1], "state lives on the volume"
        env.update(
            REDIS_URL=redis_url, DATABASE_URL=database_url, DASHBOARD_STATE_DIR=str(data_dir)
        )
        argv = [sys.executable if word == "python" else word for word in spec["command"]]
        replicas = int(spec.get("deploy", {}).get("replicas", 1))
        found[name] = ServiceCommand(name, argv, env, replicas)
    return found
