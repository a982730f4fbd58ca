"""Bare Celery for the throughput reference: dashboard's own Celery settings and the same task
body, but none of dashboard's modules (no signals, rows, events, claims or heartbeats).

Run as `celery -A bench.bareapp worker`."""

from typing import Any

from celery import Celery

from dashboard.jobs.demo import run_demo
from dashboard.settings import get_settings
from dashboard.worker import celery_config

app = Celery("bare")
app.add_defaults(lambda: {**celery_config(get_settings()), "beat_schedule": {}})


@app.task(name="bare.demo")
def demo(seconds: float, should_fail: bool) -> dict[str, Any]:
    return dict(run_demo(seconds, should_fail, lambda percent, value: None))
