"""Templates and the helpers they use.

Every swappable region has one partial; the page, htmx responses and SSE events all render
the same partial through `render()`. Autoescape is on for every template.
"""

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from dashboard import descriptions
from dashboard.crud import ACTIVE_LIMIT
from dashboard.models import FINAL_STATES, TaskKind, TaskState, TaskView, utc_iso
from dashboard.tasksearch import MAX_TERM, MIN_TERM

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
NOTHING = "\u2013"  # an en dash: shown where a time or duration is not known yet
# LOST ranks below the other ends: it is a guess, which a run's own end recorded late
# replaces (dashboard.crud.record_final), and the page must then take that end.
_STATE_ORDER = {
    state: order
    for order, state in enumerate(
        (
            TaskState.QUEUED,
            TaskState.STARTED,
            TaskState.PROGRESS,
            TaskState.LOST,
            TaskState.SUCCESS,
            TaskState.FAILURE,
            TaskState.REVOKED,
        )
    )
}


def human_bytes(size: float) -> str:
    for unit in _UNITS:
        if abs(size) < 1024 or unit == _UNITS[-1]:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def human_duration(seconds: float | None) -> str:
    if seconds is None:
        return NOTHING
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


def clock_time(moment: datetime | None, today: date | None = None) -> str:
    """A time of today as the clock alone; an earlier one with its day (and year), so a long
    history reads without doubt. In UTC: the page shows each in the viewer's own zone."""
    if moment is None:
        return NOTHING
    today = today or datetime.now(UTC).date()
    if moment.date() == today:
        return moment.strftime("%H:%M:%S")
    return moment.strftime("%b %d, %H:%M" if moment.year == today.year else "%Y-%m-%d %H:%M")


def iso_time(moment: datetime | None) -> str:
    return "" if moment is None else utc_iso(moment)


def short_id(task_id: str) -> str:
    return task_id[:8]


def thousands(number: int | float) -> str:
    return f"{number:,}"


def task_title(task: TaskView) -> str:
    """A task's name as a person reads it, in e-mails and notices."""
    params = task.params
    if task.kind == "pi" and "digits" in params:
        return f"pi to {params['digits']:,} digits"
    if task.kind == "demo" and "seconds" in params:
        return f"demo task sleeping {params['seconds']:g} s"
    if task.kind == "csv" and params.get("source") == "history":
        return "CSV export of your task history"
    if task.kind == "csv" and "rows" in params:
        return f"CSV of {params['rows']:,} sample rows"
    return f"{task.kind} task"


def shown_params(task: TaskView) -> str:
    return descriptions.params_text(task.kind, task.params)


def row_rank(task: TaskView) -> str:
    """Orders the states one task passes through, so the page never shows an older one.

    Final beats active; a re-run after a crash (more attempts) beats the run before it; then
    the state's order, then the percent done. The page compares these dot-separated numbers.
    """
    percent = round((task.progress.percent if task.progress else 0.0) * 100)
    order = _STATE_ORDER[task.state]
    return f"{int(task.is_final)}.{task.attempts}.{order}.{percent}"


def make_environment(directory: Path = TEMPLATES_DIR) -> Environment:
    environment = Environment(
        loader=FileSystemLoader(directory),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals.update(
        final_states=FINAL_STATES,
        task_kinds=list(TaskKind),
        min_term=MIN_TERM,
        max_term=MAX_TERM,
        active_limit=ACTIVE_LIMIT,
    )
    environment.filters.update(
        human_bytes=human_bytes,
        duration=human_duration,
        clock=clock_time,
        iso=iso_time,
        short_id=short_id,
        thousands=thousands,
        rank=row_rank,
        title=task_title,
        params_text=shown_params,
        plural=descriptions.plural,
    )
    return environment


def viewer_context(request: Request) -> dict[str, Any]:
    """What every page's layout needs: who is logged in and the CSRF token htmx sends."""
    viewer = getattr(request.state, "viewer", None)
    return {"viewer": viewer, "session_csrf": viewer.csrf_token if viewer else None}


def make_templates(directory: Path = TEMPLATES_DIR) -> Jinja2Templates:
    return Jinja2Templates(env=make_environment(directory), context_processors=[viewer_context])


def render(templates: Jinja2Templates, name: str, **context: Any) -> str:
    return templates.get_template(name).render(**context)
