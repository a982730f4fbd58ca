"""Every partial renders on its own, with the data each caller gives it, and escapes input."""

import re
from datetime import UTC, date, datetime
from html import unescape

import pytest

from dashboard.cli import WORKER_STOP
from dashboard.finishedfilter import FinishedFilter
from dashboard.forms import FormState, empty_demo_form, empty_pi_form
from dashboard.models import Progress, TaskKind, TaskState
from dashboard.processes import ProcessList, ProcessStatus
from dashboard.rendering import (
    clock_time,
    human_bytes,
    human_duration,
    make_templates,
    render,
    row_rank,
    task_title,
)
from dashboard.settings import get_settings
from dashboard.worker import celery_config
from tests.factories import (
    MOMENT,
    failed_demo,
    finished_csv,
    finished_pi,
    host_snapshot,
    running_pi,
    task_view,
)

TEMPLATES = make_templates()


def html(name: str, **context: object) -> str:
    return render(TEMPLATES, name, **context)


def root_id(markup: str) -> str:
    match = re.search(r'<[a-z]+[^>]*\bid="([^"]+)"', markup)
    assert match, markup
    return match.group(1)


def test_host_gauges_show_every_figure() -> None:
    markup = html("partials/host_gauges.html", host=host_snapshot(cpu=12.5, memory=40.0))
    assert root_id(markup) == "host-gauges"
    assert 'sse-swap="host"' in markup
    assert "12.5 %" in markup and "40.0 %" in markup
    assert "core 1" in markup
    assert "/dev/vda" in markup and "100.0 GiB" in markup  # total
    assert "40.0 GiB" in markup and "60.0 GiB" in markup and "40 %" in markup  # used, free


def test_host_gauges_before_the_first_sample() -> None:
    markup = html("partials/host_gauges.html", host=None)
    assert root_id(markup) == "host-gauges"
    assert "first sample" in markup


def test_active_row_shows_progress_and_intermediate_value() -> None:
    markup = html("partials/active_row.html", task=running_pi(percent=42.0))
    assert root_id(markup) == f"task-{running_pi().id}"
    assert 'value="42.0"' in markup and "42.0 %" in markup
    assert "3.14159265358979323846" in markup
    assert "200,000 digits" in markup


def test_queued_row_says_it_waits_for_a_worker() -> None:
    assert "waiting for a worker" in html("partials/active_row.html", task=task_view())


def test_finished_pi_row_has_preview_and_download_link() -> None:
    task = finished_pi()
    markup = html("partials/finished_row.html", task=task)
    assert "3.14159265358979323846" in markup
    assert f'href="/api/tasks/{task.id}/file"' in markup
    assert "SUCCESS" in markup and "2.0 s" in markup


def test_one_digit_and_one_row_are_said_in_the_singular() -> None:
    one_digit = task_view(
        state=TaskState.SUCCESS,
        params={"digits": 1, "method": "leibniz"},
        result={"digits": 1, "method": "leibniz", "preview": "3", "file": "pi.txt"},
    )
    markup = html("partials/finished_row.html", task=one_digit)
    assert "1 digit · leibniz" in markup and "all 1 digit (.txt)" in markup
    one_row = task_view(
        kind="csv",
        state=TaskState.SUCCESS,
        params={"rows": 1, "source": "sample"},
        result={"rows": 1, "bytes": 75, "file": "sample.csv"},
    )
    markup = html("partials/finished_row.html", task=one_row)
    assert "1 sample row<" in markup and "1 row · 75 B" in markup
    assert "digits" not in markup


def test_failed_demo_row_shows_the_error() -> None:
    markup = html("partials/finished_row.html", task=failed_demo())
    assert "FAILURE" in markup and "failed as asked" in markup
    assert "(at random)" in markup


@pytest.mark.parametrize(
    ("task", "list_id"),
    [(task_view(), "active-rows"), (running_pi(), "active-rows"), (finished_pi(), "finished-rows")],
)
def test_task_event_addresses_the_list_the_task_belongs_in(task: object, list_id: str) -> None:
    markup = html("partials/task_event.html", task=task)
    assert markup.strip().startswith("<template>")
    assert f'hx-swap-oob="afterbegin:#{list_id}"' in markup


def test_task_lists_render_their_rows() -> None:
    active = html("partials/active_tasks.html", active=[running_pi()], scope="all")
    assert root_id(active) == "active-tasks" and 'id="active-rows"' in active
    assert 'data-refresh="/fragments/active?scope=all"' in active  # a cut list asks here
    finished = html(
        "partials/finished_tasks.html",
        finished=[finished_pi()],
        next_cursor="abc",
        scope="mine",
        filters=FinishedFilter(),
    )
    assert root_id(finished) == "finished-tasks" and 'id="finished-rows"' in finished
    assert "/fragments/finished?scope=mine&amp;cursor=abc" in finished
    assert 'id="finished-filters"' in finished and 'sse-swap="finished-list"' in finished


def test_a_filtered_list_is_not_live_and_its_pages_keep_the_filters() -> None:
    filters = FinishedFilter(state=TaskState.FAILURE, kind=TaskKind.DEMO, typed="a&b")
    markup = html(
        "partials/finished_list.html",
        finished=[failed_demo()],
        next_cursor="abc",
        scope="all",
        filters=filters,
    )
    assert root_id(markup) == "finished-list" and "data-filtered" in markup
    assert "sse-swap" not in markup and 'id="finished-unseen"' in markup
    more = (
        "/fragments/finished?scope=all&amp;cursor=abc&amp;state=FAILURE&amp;kind=demo&amp;q=a%26b"
    )
    assert more in markup


def test_the_filter_form_shows_its_values_and_keeps_the_scope() -> None:
    filters = FinishedFilter(state=TaskState.LOST, typed='"><script>')
    markup = html("partials/finished_filters.html", filters=filters, scope="all")
    assert '<option value="LOST" selected>' in markup
    assert 'value="&#34;&gt;&lt;script&gt;"' in markup and "<script>" not in markup
    assert '<input type="hidden" name="scope" value="all">' in markup
    # Typing asks after a pause; the selects ask on change (the search box's own change, on
    # leaving it, would ask again for what typing fetched); Enter or the button asks at once.
    trigger = (
        "input changed delay:300ms, change from:#finished-state, change from:#finished-kind, submit"
    )
    assert f'hx-trigger="{trigger}"' in markup
    assert '<select id="finished-state"' in markup and '<select id="finished-kind"' in markup


def test_a_search_too_short_says_so() -> None:
    markup = html(
        "partials/finished_list.html",
        finished=[],
        next_cursor=None,
        scope="mine",
        filters=FinishedFilter(typed="ab"),
    )
    assert "3 characters or more" in markup and 'sse-swap="finished-list"' in markup
    assert "showing every task." in markup
    # With a state chosen, not every task shows: the note says so (QA finding).
    filtered = html(
        "partials/finished_list.html",
        finished=[],
        next_cursor=None,
        scope="mine",
        filters=FinishedFilter(typed="ab", state=TaskState.FAILURE),
    )
    assert "showing every task the other filters let through." in filtered


def test_finished_page_appends_rows_and_ends_without_a_button() -> None:
    markup = html("partials/finished_page.html", finished=[failed_demo()], next_cursor=None)
    assert 'hx-swap-oob="beforeend:#finished-rows"' in markup
    assert "Show older" not in markup


def test_forms_render_empty_with_errors_and_after_a_start() -> None:
    for name, form in (("pi_form", empty_pi_form()), ("demo_form", empty_demo_form())):
        assert "field-error" in html(f"partials/{name}.html", form=form)
    with_error = FormState(values={"digits": "0", "method": "chudnovsky"}, errors={"digits": "bad"})
    markup = html("partials/pi_form.html", form=with_error)
    assert 'aria-invalid="true"' in markup and ">bad</span>" in markup
    created = FormState(values={"digits": "5", "method": "leibniz"}, created=task_view())
    markup = html("partials/pi_form.html", form=created)
    assert "Started" in markup and 'hx-swap-oob="afterbegin:#active-rows"' in markup


def test_task_detail_polls_only_while_active() -> None:
    assert 'hx-trigger="every 1s"' in html("partials/task_detail.html", task=running_pi())
    assert "hx-trigger" not in html("partials/task_detail.html", task=finished_pi())


def test_user_text_is_escaped_everywhere() -> None:
    evil = "<script>alert(1)</script>"
    task = failed_demo(error=evil).model_copy(update={"params": {"note": evil}})
    for name in ("partials/finished_row.html", "partials/task_detail.html"):
        markup = html(name, task=task)
        assert evil not in markup
        assert "&lt;script&gt;" in markup


def test_row_rank_never_goes_back() -> None:
    queued = task_view()
    started = task_view(state=TaskState.STARTED, attempts=1)
    halfway = running_pi(percent=50)
    rerun = task_view(state=TaskState.STARTED, attempts=2)
    done = finished_pi()
    ranks = [row_rank(task) for task in (queued, started, halfway, rerun, done)]
    as_numbers = [tuple(int(part) for part in rank.split(".")) for rank in ranks]
    assert as_numbers == sorted(as_numbers) and len(set(as_numbers)) == len(as_numbers)
    assert row_rank(running_pi(percent=12.34)).endswith(".1234")
    assert Progress(percent=1).intermediate is None


def test_a_late_end_outranks_the_lost_it_replaces() -> None:
    """A run's end recorded late replaces a LOST in SQL; the page must take it too."""
    lost = task_view(state=TaskState.LOST, attempts=1)
    ranks = {
        state: tuple(int(part) for part in row_rank(task_view(state=state, attempts=1)).split("."))
        for state in (TaskState.SUCCESS, TaskState.FAILURE)
    }
    lost_rank = tuple(int(part) for part in row_rank(lost).split("."))
    assert all(rank > lost_rank for rank in ranks.values())


def test_human_readable_figures() -> None:
    assert human_bytes(512) == "512 B"
    assert human_bytes(1536) == "1.5 KiB"
    assert human_bytes(5 << 40) == "5.0 TiB"
    assert human_duration(None) == "\u2013"
    assert human_duration(0.25) == "250 ms"
    assert human_duration(7) == "7.0 s"
    assert human_duration(185) == "3 min 5 s"


def test_a_time_shows_its_day_unless_it_is_today() -> None:
    today = date(2026, 11, 24)
    assert clock_time(datetime(2026, 11, 24, 9, 5, 7, tzinfo=UTC), today) == "09:05:07"
    assert clock_time(datetime(2026, 11, 22, 14, 3, 9, tzinfo=UTC), today) == "Nov 22, 14:03"
    assert clock_time(datetime(2025, 12, 31, 23, 59, tzinfo=UTC), today) == "2025-12-31 23:59"
    assert clock_time(None, today) == "\u2013"


def test_processes_render_with_and_without_a_supervisor() -> None:
    from dashboard.processes import ProcessList, ProcessStatus

    running = ProcessStatus(
        name="worker",
        state="running",
        pid=42,
        uptime_seconds=150.0,
        restarts=1,
        last_exit="exited with signal SIGKILL after 3s",
        stoppable=True,
    )
    web = running.model_copy(update={"name": "web", "stoppable": False})
    stopped = running.model_copy(update={"name": "redis", "state": "stopped", "pid": None})
    listing = ProcessList(supervised=True, processes=[running, web, stopped])
    detailed = html("partials/processes.html", listing=listing, view="detailed")
    assert root_id(detailed) == "processes" and 'hx-trigger="every 2s"' in detailed
    assert "SIGKILL" in detailed and ">42<" in detailed
    assert 'hx-post="/processes/worker/stop"' in detailed
    assert 'hx-post="/processes/web/stop"' not in detailed  # the web cannot stop itself
    assert 'hx-post="/processes/redis/start"' in detailed
    compact = html("partials/processes.html", listing=listing, view="compact")
    assert "up 2 min 30 s" in compact and "1 restarts" in compact and ">42<" not in compact
    alone = html("partials/processes.html", listing=ProcessList(supervised=False, processes=[]))
    assert "Not running under" in alone and "hx-trigger" not in alone


def test_process_output_is_escaped() -> None:
    markup = html("partials/process_log.html", lines=["<b>bold</b>", "plain"])
    assert "&lt;b&gt;bold&lt;/b&gt;" in markup and "plain" in markup


def test_finished_csv_row_links_the_download_until_the_file_expires() -> None:
    task = finished_csv()
    markup = html("partials/finished_row.html", task=task)
    assert "1,000,000 sample rows" in markup and "1,000,000 rows" in markup
    assert f'href="/api/tasks/{task.id}/file"' in markup and "45.8 MiB" in markup
    expired = html(
        "partials/finished_row.html", task=task.model_copy(update={"file_expired_at": MOMENT})
    )
    assert "file expired" in expired and "/file" not in expired


def test_every_row_carries_its_owner_for_the_all_users_view() -> None:
    task = finished_pi().model_copy(update={"owner": "ann@example.com"})
    assert "ann@example.com" in html("partials/finished_row.html", task=task)
    assert "ann@example.com" in html(
        "partials/active_row.html",
        task=running_pi().model_copy(update={"owner": "ann@example.com"}),
    )


def test_a_toast_names_the_task_its_state_and_links_it() -> None:
    markup = html("partials/toast.html", task=failed_demo())
    assert "demo task sleeping 7 s" in markup and "FAILURE" in markup
    assert f'href="/tasks/{failed_demo().id}"' in markup
    assert "is done" in html("partials/toast.html", task=finished_pi())


def test_titles_name_each_kind_of_task() -> None:
    assert task_title(finished_pi()) == "pi to 200,000 digits"
    assert task_title(finished_csv()) == "CSV of 1,000,000 sample rows"
    history = finished_csv().model_copy(update={"params": {"source": "history"}})
    assert task_title(history) == "CSV export of your task history"


def test_task_parameters_and_errors_are_escaped() -> None:
    hostile = failed_demo(error="<script>alert(1)</script>").model_copy(
        update={"owner": "<b>x</b>@example.com"}
    )
    markup = html("partials/finished_row.html", task=hostile)
    assert "<script>" not in markup and "&lt;script&gt;" in markup
    assert "<b>" not in markup


def test_a_restart_says_first_what_it_does_to_the_work() -> None:
    listing = ProcessList(
        supervised=True,
        processes=[
            ProcessStatus(name=name, state="running", pid=1, uptime_seconds=5.0, restarts=0,
                          last_exit=None, stoppable=name != "web")
            for name in ("worker", "web", "beat")
        ],
    )  # fmt: skip
    markup = unescape(html("partials/processes.html", listing=listing))
    warm = int(WORKER_STOP[0][1])  # the warm shutdown's wait, before SIGQUIT
    cold = int(celery_config(get_settings())["worker_soft_shutdown_timeout"])  # then this
    assert (
        f'hx-confirm="Restart worker? Its running tasks get up to {warm + cold} s to finish '
        f"({warm} s, then {cold} s more once it is told to stop now); any still running then "
        'are stopped and run again from the start."' in markup
    )
    assert 'hx-confirm="Restart web? Open pages lose their live updates' in markup
    assert 'hx-confirm="Restart beat?"' in markup
