"""The Celery app: `celery -A dashboard.worker worker` runs a standard Celery worker.

The configuration is added lazily (read from settings on first use), so importing this
module reads no environment and connects to nothing.
"""

from typing import Any

from celery import Celery

from dashboard import brokertransport
from dashboard.settings import Settings, get_settings

ONE_HOUR = 3600


def celery_config(settings: Settings) -> dict[str, Any]:
    # kombu's Redis transport, but handing a task back to the front of the queue.
    brokertransport.use_for_redis()
    return {
        "broker_url": settings.broker_url,
        "result_backend": settings.effective_redis_url,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "enable_utc": True,
        "timezone": "UTC",
        "result_extended": True,
        # A Redis restart must not turn a task's stored result into a failure: storing it is
        # retried with growing pauses (up to 10 s apart) instead of raising at once.
        "result_backend_always_retry": True,
        "result_backend_max_retries": 30,
        "result_expires": 24 * ONE_HOUR,
        # Tasks run for up to an hour. Acknowledge a message only once its task has ended, and
        # hand it back when the pool process running it dies, so a crash re-runs the task
        # instead of losing it; the row is upserted by id, so a re-run never adds a row.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        # One reserved message per pool process: a long task never holds a second message
        # hostage while another worker sits idle.
        "worker_prefetch_multiplier": 1,
        # Redis hands an unacknowledged message to another worker once the visibility timeout
        # passes. It must outlast the longest task (an hour) or a healthy long task would run
        # twice, so it is set well above it. A worker killed outright is noticed sooner than
        # that by dashboard.recovery (heartbeats), which restores only a dead worker's messages.
        "broker_transport_options": {
            "visibility_timeout": 2 * ONE_HOUR,
            # kombu's own sweep of expired messages: a bounded batch every minute or so.
            "unacked_restore_limit": 100,
            "unacked_restore_interval": 10,
            "unacked_restore_throttle": 6,
        },
        "task_time_limit": ONE_HOUR + 300,
        # A lost broker connection (a Redis restart) does not cancel running tasks: Celery
        # would acknowledge them as ended and, with Redis down, nothing would hand them back.
        # They run on; a copy handed back meanwhile waits for the run claim (runguard), and
        # the message they can no longer acknowledge is swept back and skipped as final.
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        # SIGTERM is a warm shutdown: running tasks are waited for. SIGQUIT (the cold shutdown
        # that `dashboard run` sends when the warm one takes too long) gives them these few
        # seconds, then hands their late-acknowledged messages back to the queue: nothing lost.
        "worker_soft_shutdown_timeout": 5.0,
        "broker_connection_retry_on_startup": True,
        "worker_hijack_root_logger": False,
        # Celery beat (`dashboard beat`, which `dashboard run` starts): the file retention sweep.
        "beat_schedule": {
            "expire-old-files": {
                "task": "dashboard.files.expire",
                "schedule": settings.file_sweep_seconds,
                "options": {"expires": settings.file_sweep_seconds},
            }
        },
        "beat_schedule_filename": str(settings.state_dir.resolve() / "celerybeat-schedule"),
    }


app = Celery(
    "dashboard",
    include=[
        "dashboard.tasks",
        "dashboard.lifecycle",
        "dashboard.recovery",
        "dashboard.fleetreporter",
        "dashboard.timerpurge",
    ],
)
app.add_defaults(lambda: celery_config(get_settings()))
