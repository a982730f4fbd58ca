"""`make bench`: every benchmark on this machine, one table, each figure beside its reference
measured in the same run, written to bench/results/latest.json as well. Exits non-zero when a
goal is missed or not measured. Loopback only; every part is bounded in time.

Benchmarks are not tests: nothing in `make test` asserts on timing.
"""

import json
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from bench import connections, latency, pi_vs_mpmath, throughput

RESULTS = Path(__file__).parent / "results" / "latest.json"
Row = dict[str, Any]


def not_measured(name: str, goal: str) -> Row:
    return {
        "name": name,
        "value": "not measured",
        "reference": "-",
        "figure": None,
        "goal": goal,
        "met": False,
    }


def parts(work_dir: Path) -> list[tuple[str, Callable[[], list[Row]]]]:
    return [
        ("throughput", lambda: [throughput.measure(work_dir / "throughput", 5000)]),
        ("latency", lambda: latency.measure(work_dir / "latency")),
        ("connections", lambda: connections.measure(work_dir / "connections")),
        ("pi", pi_vs_mpmath.measure),
        ("history", _history),
        ("memory", lambda: in_own_process("bench.memory")),
    ]


def in_own_process(module: str) -> list[Row]:
    """A part that needs a fresh interpreter; its rows come back as JSON on its stdout."""
    done = subprocess.run(
        [sys.executable, "-m", module], stdout=subprocess.PIPE, text=True, timeout=1800, check=True
    )
    rows: list[Row] = json.loads(done.stdout)
    return rows


def _history() -> list[Row]:
    from bench import history

    return history.measure()


def main() -> int:
    rows: list[Row] = []
    durations: dict[str, float] = {}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="dashboard-bench-") as directory:
        for name, run in parts(Path(directory)):
            print(f"== {name}", flush=True)
            part_started = time.monotonic()
            try:
                part_rows = run()
            except Exception as error:  # one broken part must not hide the others' figures
                part_rows = [not_measured(name, f"failed: {type(error).__name__}: {error}")]
            durations[name] = round(time.monotonic() - part_started, 1)
            for row in part_rows:
                print(f"   {row['name']}: {row['value']} ({row['reference']})", flush=True)
            print(f"   ({durations[name]:.0f} s)", flush=True)
            rows.extend(part_rows)
    print_table(rows)
    print("\nseconds per part: " + ", ".join(f"{k} {v:.0f}" for k, v in durations.items()))
    write_results(rows, time.monotonic() - started, durations)
    missed = [row["name"] for row in rows if not row["met"]]
    print(
        f"\n{len(rows) - len(missed)} of {len(rows)} goals met"
        + (f"; missed: {', '.join(missed)}" if missed else "")
    )
    return 1 if missed else 0


def print_table(rows: list[Row]) -> None:
    print("\n| benchmark | dashboard | reference | figure | goal | met |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        met = "yes" if row["met"] else "**no**"
        cells = [row["name"], row["value"], row["reference"], row["figure"], row["goal"], met]
        print("| " + " | ".join(str(cell) for cell in cells) + " |")


def write_results(rows: list[Row], seconds: float, durations: dict[str, float]) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": psutil.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "platform": platform.platform(),
            "python": sys.version.split()[0],
        },
        "seconds": round(seconds, 1),
        "seconds_per_part": durations,
        "rows": rows,
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
