"""The web's Celery app is configured before any request can race to configure it."""

import json
import subprocess
import sys

# Run in a fresh interpreter: in this one, earlier tests have long configured the shared app.
# Thirty threads then ask for the result backend at once, as the first burst of SSE clients
# did (each snapshot runs in a thread), with thread switches as frequent as Python allows.
RACE = """
import json, sys, threading
sys.setswitchinterval(1e-6)
from dashboard.app import create_app
from dashboard.worker import app
create_app()
configured = app.configured
barrier = threading.Barrier(30)
backends = []
def ask():
    barrier.wait()
    backends.append(type(app.backend).__name__)
threads = [threading.Thread(target=ask) for _ in range(30)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps({"configured": configured, "backends": sorted(set(backends))}))
"""


def test_building_the_web_app_loads_celerys_configuration_first() -> None:
    done = subprocess.run(
        [sys.executable, "-c", RACE], capture_output=True, text=True, timeout=120, check=True
    )
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer == {"configured": True, "backends": ["RedisBackend"]}
