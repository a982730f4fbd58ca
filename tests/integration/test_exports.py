"""CSV exports, their owner-only downloads, file expiry, and the e-mail when a task ends."""

import csv
import io
import json
import shutil
from datetime import timedelta
from pathlib import Path

import httpx
import psutil
import pytest
from celery import Celery
from sqlalchemy import Engine, update
from sqlmodel import Session, col

from dashboard.descriptions import params_text
from dashboard.diskroom import MEGABYTE
from dashboard.jobs.csvexport import SAMPLE_HEADER
from dashboard.jobs.history import HISTORY_HEADER
from dashboard.models import Task, utcnow
from dashboard.settings import get_settings
from dashboard.worker import celery_config
from tests.accounts import Account, make_user, page_client
from tests.integration.conftest import Worker
from tests.mailserver import MailServer
from tests.processes import Service, wait_until
from tests.sse import open_stream, task_states

pytestmark = pytest.mark.integration
FINAL = {"SUCCESS", "FAILURE", "REVOKED", "LOST"}
MIB = 1 << 20


def run_to_success(api: httpx.Client, path: str, body: dict[str, object]) -> tuple[str, list[str]]:
    with open_stream(api, "/api/events") as stream:
        answer = api.post(path, json=body)
        assert answer.status_code == 202, answer.text
        task_id = answer.json()["id"]
        messages = stream.read_until(
            lambda seen: bool({"SUCCESS", "FAILURE"} & set(task_states(seen, task_id))),
            timeout=120,
            events=("task",),
        )
    states = task_states(messages, task_id)
    assert states[-1] == "SUCCESS", api.get(f"/api/tasks/{task_id}").text
    return task_id, states


def test_a_million_row_csv_streams_out_while_the_web_stays_flat(
    api: httpx.Client, web_service: Service, user: Account
) -> None:
    task_id, states = run_to_success(api, "/api/tasks/csv", {"rows": 1_000_000})
    assert "PROGRESS" in states
    result = api.get(f"/api/tasks/{task_id}").json()["result"]
    assert result["rows"] == 1_000_000 and result["bytes"] > 30 * MIB
    web = psutil.Process(web_service.pid)
    before = web.memory_info().rss
    peak, lines, first_line, size = before, 0, b"", 0
    with api.stream("GET", f"/api/tasks/{task_id}/file") as download:
        assert download.status_code == 200
        assert download.headers["content-type"].startswith("text/csv")
        assert download.headers["content-disposition"] == (
            f'attachment; filename="sample-1000000-rows-{task_id[:8]}.csv"'
        )
        for chunk in download.iter_bytes():
            if not first_line:
                first_line = chunk.split(b"\n", 1)[0]
            lines += chunk.count(b"\n")
            size += len(chunk)
            peak = max(peak, web.memory_info().rss)
    assert first_line.decode() == ",".join(SAMPLE_HEADER)
    assert lines == 1_000_001 and size == result["bytes"]
    # The file is ~47 MiB; a web process that read it into memory would grow by at least that.
    assert peak - before < 16 * MIB, f"web grew by {(peak - before) / MIB:.1f} MiB"


def test_someone_else_cannot_download_my_export(
    api: httpx.Client, web: str, engine: Engine
) -> None:
    task_id, _ = run_to_success(api, "/api/tasks/csv", {"rows": 10})
    with page_client(web, make_user(engine)) as stranger:
        assert stranger.get(f"/api/tasks/{task_id}/file").status_code == 403
    with httpx.Client(base_url=web) as anonymous:
        assert anonymous.get(f"/api/tasks/{task_id}/file").status_code == 401
    assert api.get(f"/api/tasks/{task_id}/file").text.count("\n") == 11
    # The address of a pi task's digits serves no CSV under a .txt name.
    not_digits = api.get(f"/api/tasks/{task_id}/digits.txt")
    assert not_digits.status_code == 404 and "not a pi task" in not_digits.json()["detail"]


def test_the_history_export_lists_my_tasks_and_only_mine(
    api: httpx.Client, web: str, engine: Engine
) -> None:
    with page_client(web, make_user(engine)) as stranger:
        run_to_success(stranger, "/api/tasks/pi", {"digits": 5})
    done, _ = run_to_success(api, "/api/tasks/pi", {"digits": 5})
    export, _ = run_to_success(api, "/api/tasks/csv", {"source": "history"})
    text = api.get(f"/api/tasks/{export}/file").text
    header, *rows = text.strip().split("\n")
    assert header == ",".join(HISTORY_HEADER)
    listed = [row.split(",", 1)[0] for row in rows]
    assert listed == [done, export]  # oldest first; the export lists itself as running
    # The parameters as JSON for a program, and in the lists' words for a person.
    first, _ = csv.DictReader(io.StringIO(text))
    assert json.loads(first["parameters"])["digits"] == 5
    assert first["described"] == params_text("pi", json.loads(first["parameters"]))
    assert first["described"].startswith("5 digits")
    assert api.get(f"/api/tasks/{export}").json()["result"]["rows"] == 2
    # Times are written as the JSON API writes them, so a program can match the two.
    seen = api.get(f"/api/tasks/{done}").json()
    assert (first["queued_at"], first["finished_at"]) == (seen["queued_at"], seen["finished_at"])


def test_old_files_expire_and_their_rows_say_so(
    api: httpx.Client, engine: Engine, stack_env: dict[str, str]
) -> None:
    task_id, _ = run_to_success(api, "/api/tasks/csv", {"rows": 100})
    path = get_settings().state_dir.resolve() / "files" / f"csv-{task_id}.csv"
    assert path.exists()
    long_ago = utcnow() - timedelta(hours=get_settings().file_retention_hours + 1)
    with Session(engine) as session:
        session.exec(update(Task).where(col(Task.id) == task_id).values(finished_at=long_ago))
        session.commit()
    # The same task beat sends on its schedule, run by the real worker.
    celery = Celery("expiry-test", set_as_current=False)
    celery.conf.update(celery_config(get_settings()))
    assert celery.send_task("dashboard.files.expire").get(timeout=60) >= 1
    assert not path.exists()
    assert api.get(f"/api/tasks/{task_id}").json()["file_expired_at"] is not None
    gone = api.get(f"/api/tasks/{task_id}/file")
    assert gone.status_code == 410 and "expired" in gone.json()["detail"]
    page = api.get("/").text
    assert "file expired" in page


def test_an_email_arrives_with_the_task_name_and_state(
    api: httpx.Client, user: Account, smtp_server: MailServer
) -> None:
    task_id, _ = run_to_success(api, "/api/tasks/pi", {"digits": 1000, "notify_email": True})
    wait_until(lambda: smtp_server.messages_about(task_id), "the e-mail", 60)
    (message,) = smtp_server.messages_about(task_id)
    assert message["To"] == user.email
    assert message["Subject"] == "[dashboard] pi to 1,000 digits: SUCCESS"
    assert f"/tasks/{task_id}" in str(message.get_content())


def test_a_refused_email_is_retried_and_never_fails_the_task(
    api: httpx.Client, smtp_server: MailServer
) -> None:
    smtp_server.refuse_next(2)
    body = {"seconds": 0, "should_fail": True, "notify_email": True}
    with open_stream(api, "/api/events") as stream:
        task_id = api.post("/api/tasks/demo", json=body).json()["id"]
        stream.read_until(
            lambda seen: "FAILURE" in task_states(seen, task_id), timeout=60, events=("task",)
        )
    wait_until(lambda: smtp_server.messages_about(task_id), "the retried e-mail", 60)
    assert smtp_server.handler.refused >= 2
    (message,) = smtp_server.messages_about(task_id)
    assert message["Subject"] == "[dashboard] demo task sleeping 0 s: FAILURE"
    assert "DemoFailure" in str(message.get_content())
    assert api.get(f"/api/tasks/{task_id}").json()["state"] == "FAILURE"


def test_no_email_unless_asked(api: httpx.Client, smtp_server: MailServer) -> None:
    task_id, _ = run_to_success(api, "/api/tasks/pi", {"digits": 5})
    asked, _ = run_to_success(api, "/api/tasks/pi", {"digits": 6, "notify_email": True})
    wait_until(lambda: smtp_server.messages_about(asked), "the asked-for e-mail", 60)
    assert smtp_server.messages_about(task_id) == []


def test_a_file_that_would_fill_the_disk_is_refused_before_the_work(
    api: httpx.Client, worker: Worker, stack_env: dict[str, str], tmp_path: Path
) -> None:
    """One user's exports could fill the disk the database and Redis write to (data-care
    probe). A worker keeping more free than this disk has refuses every file, saying why,
    and stays up for the next task."""
    worker.stop()
    everything = str(shutil.disk_usage(tmp_path).total // MEGABYTE + 1)
    tight = Worker({**stack_env, "FILES_MIN_FREE_MB": everything}, tmp_path, worker.redis)
    try:
        tight.start_and_wait()
        pi = api.post("/api/tasks/pi", json={"digits": 1000}).json()["id"]
        csv_id = api.post("/api/tasks/csv", json={"source": "sample", "rows": 10}).json()["id"]
        demo = api.post("/api/tasks/demo", json={"seconds": 0, "should_fail": False}).json()["id"]
        ids = (pi, csv_id, demo)
        wait_until(lambda: all(api.get(f"/api/tasks/{task_id}").json()["state"] in FINAL
                               for task_id in ids), "the three tasks to end", 60)  # fmt: skip
    finally:
        tight.stop()
        worker.start_and_wait()
    for task_id in (pi, csv_id):
        ended = api.get(f"/api/tasks/{task_id}").json()
        assert ended["state"] == "FAILURE"
        assert ended["error"].startswith("DiskFull: not enough disk space for this file")
        assert api.get(f"/api/tasks/{task_id}/file").status_code == 404
    assert api.get(f"/api/tasks/{demo}").json()["state"] == "SUCCESS"  # no file: no check


def test_a_file_asked_for_while_its_task_runs_is_not_ready_yet(api: httpx.Client) -> None:
    """It said 404 "this task has made no file" (data-care probe), as if none would come."""
    task_id = api.post("/api/tasks/csv", json={"source": "sample", "rows": 5_000_000}).json()["id"]
    early = api.get(f"/api/tasks/{task_id}/file")
    assert early.status_code == 409 and early.headers["retry-after"] == "5"
    assert early.json()["detail"] == "the file is not ready yet: the task is still running"
    assert api.post(f"/api/tasks/{task_id}/cancel").status_code == 200


def test_a_file_the_client_holds_already_is_a_304(api: httpx.Client) -> None:
    """Starlette sent an ETag but never answered If-None-Match: a script looking for a new
    copy downloaded the whole file each time (API probe)."""
    task_id, _ = run_to_success(api, "/api/tasks/pi", {"digits": 50})
    for path in (f"/api/tasks/{task_id}/file", f"/api/tasks/{task_id}/digits.txt"):
        first = api.get(path)
        etag = first.headers["etag"]
        assert first.status_code == 200 and first.text.startswith("3.14159")
        held = api.get(path, headers={"If-None-Match": f'"other", {etag}'})
        assert held.status_code == 304 and held.content == b"" and held.headers["etag"] == etag
        changed = api.get(path, headers={"If-None-Match": '"an older copy"'})
        assert changed.status_code == 200 and changed.text == first.text
