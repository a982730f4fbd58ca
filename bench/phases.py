"""Where a dashboard task's CPU goes in the worker's pool: `python -m bench.phases [tasks]`.

Runs dashboard's side of the throughput benchmark (bench/throughput.py) with a worker whose
pool processes time each phase of a task (bench/phaseworker.py), then prints CPU
milliseconds per task by process and by phase. A profile for the throughput figures, not a
benchmark of its own: it sets no goal.
"""

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.phaseworker import LABELS, WHOLE_TASK
from bench.stack import private_stack, use_stack
from bench.throughput import CONCURRENCY, cpu_text, dashboard_side


def measure(work_dir: Path, count: int) -> dict[str, Any]:
    phases_dir = work_dir / "phases"
    phases_dir.mkdir(parents=True)
    os.environ["PHASES_DIR"] = str(phases_dir)
    with private_stack(work_dir) as stack:
        use_stack(stack, WORKER_CONCURRENCY=CONCURRENCY)
        argv = [sys.executable, "-m", "bench.phaseworker"]
        side = dashboard_side(stack, count, work_dir, worker_argv=argv)
    return {"per_second": side.per_second, "cpu": cpu_text(side), "phases": totals(phases_dir)}


def totals(phases_dir: Path) -> dict[str, float]:
    """Milliseconds of CPU per task in each phase, over every pool process's last report."""
    seconds: dict[str, float] = {}
    tasks = 0
    for path in phases_dir.glob("*.json"):
        report = json.loads(path.read_text(encoding="utf-8"))
        tasks += report["calls"][WHOLE_TASK]
        for label, spent in report["seconds"].items():
            seconds[label] = seconds.get(label, 0.0) + spent
    return {label: round(1000 * seconds.get(label, 0.0) / max(tasks, 1), 3) for label in LABELS}


if __name__ == "__main__":
    tasks = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    with tempfile.TemporaryDirectory() as directory:
        result = measure(Path(directory), tasks)
    print(f"{result['per_second']:.0f} tasks/s; CPU {result['cpu']}")
    print("pool, per task, by phase (ms of CPU):")
    for label, ms in result["phases"].items():
        print(f"  {ms:6.3f}  {label}")
