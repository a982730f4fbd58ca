"""The terminal client's pure parts: command lines, notification lines, the SSE reader."""

import asyncio
import io
import json
from typing import Any

import httpx
import pytest

from dashboard.client.commands import Action, CommandError, Credentials, StartTask, parse_command
from dashboard.client.console import CLEAR_LINE, PROMPT, Console, InputThread
from dashboard.client.notices import NotificationRenderer, format_runtime, task_table
from dashboard.client.session import ClientSession
from dashboard.client.stream import Backoff, EventFollower, SseMessage, SseParser, detail_of
from tests.aio import run

TASK_ID = "1a2b3c4d-0000-4000-8000-000000000000"


# --- command lines ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("pi 100", StartTask("pi", {"digits": 100})),
        ("pi 10 leibniz", StartTask("pi", {"digits": 10, "method": "leibniz"})),
        ("PI 1_000 Chudnovsky", StartTask("pi", {"digits": 1000, "method": "chudnovsky"})),
        ("csv 5000", StartTask("csv", {"rows": 5000})),
        ("history", StartTask("csv", {"source": "history"})),
        ("demo 3 fail", StartTask("demo", {"seconds": 3.0, "should_fail": True})),
        ("demo 0.5 succeed", StartTask("demo", {"seconds": 0.5, "should_fail": False})),
        ("demo 7", StartTask("demo", {"seconds": 7.0, "should_fail": None})),
        (
            "pi 100 --mail",
            StartTask("pi", {"digits": 100, "notify_email": True}),
        ),
        (
            "history --mail",
            StartTask("csv", {"source": "history", "notify_email": True}),
        ),
        (
            "demo 1 fail --mail",
            StartTask("demo", {"seconds": 1.0, "should_fail": True, "notify_email": True}),
        ),
    ],
)
def test_task_commands_become_request_bodies(line: str, expected: StartTask) -> None:
    assert parse_command(line) == expected


def test_task_commands_name_their_endpoint() -> None:
    assert StartTask("csv", {"rows": 1}).path == "/api/tasks/csv"
    command = parse_command("demo 1")
    assert isinstance(command, StartTask)
    assert command.path == "/api/tasks/demo"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("register a@example.com secret123", Credentials("register", "a@example.com", "secret123")),
        ("login a@example.com", Credentials("login", "a@example.com", None)),
        ("login a@example.com pw", Credentials("login", "a@example.com", "pw")),
        (
            "login  a@example.com   correct horse battery ",
            Credentials("login", "a@example.com", "correct horse battery"),
        ),
        ("tasks", Action("tasks")),
        ("logout", Action("logout")),
        ("clear", Action("clear")),
        ("exit", Action("exit")),
        ("quit", Action("exit")),
        ("help", Action("help")),
        ("   ", None),
        ("", None),
    ],
)
def test_other_commands(line: str, expected: object) -> None:
    assert parse_command(line) == expected


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("frobnicate", "unknown command"),
        ("pi", "usage: pi DIGITS"),
        ("pi many", "DIGITS must be a whole number"),
        ("pi 10 monte-carlo", "chudnovsky or leibniz"),
        ("csv", "usage: csv ROWS"),
        ("csv 1.5", "ROWS must be a whole number"),
        ("history 3", "usage: history"),
        ("demo soon", "SECONDS must be a number"),
        ("demo nan", "SECONDS must be a number"),
        ("demo 1 maybe", "fail or succeed"),
        ("login", "usage: login EMAIL"),
        ("tasks 5", "usage: tasks"),
    ],
)
def test_bad_command_lines_say_how_to_write_them(line: str, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        parse_command(line)


# --- notification lines ----------------------------------------------------------------------


def view(state: str, **fields: Any) -> dict[str, Any]:
    return {"id": TASK_ID, "kind": "pi", "state": state, "progress": None, **fields}


def progress(percent: float, intermediate: str = "3.14") -> dict[str, Any]:
    return view("PROGRESS", progress={"percent": percent, "intermediate": intermediate})


def test_a_task_start_is_one_line_and_queued_is_none() -> None:
    renderer = NotificationRenderer()
    assert renderer.lines_for(view("QUEUED")) == []
    assert renderer.lines_for(view("STARTED")) == ["▶ pi 1a2b3c4d started"]
    assert renderer.lines_for(view("STARTED")) == []  # a repeat says nothing


def test_progress_prints_once_per_tenth() -> None:
    renderer = NotificationRenderer()
    renderer.lines_for(view("STARTED"))
    printed = [
        line
        for p in (1, 5, 9.9, 12, 15, 19, 23, 47, 48, 99.5)
        for line in renderer.lines_for(progress(p))
    ]
    assert printed == [
        "… pi 1a2b3c4d 12 %  3.14",
        "… pi 1a2b3c4d 23 %  3.14",
        "… pi 1a2b3c4d 47 %  3.14",
        "… pi 1a2b3c4d 99 %  3.14",
    ]


def test_a_hundred_percent_is_left_to_the_ending_line() -> None:
    renderer = NotificationRenderer()
    renderer.lines_for(view("STARTED"))
    assert renderer.lines_for(progress(100)) == []


def test_progress_without_a_start_seen_announces_the_start() -> None:
    renderer = NotificationRenderer()
    long_estimate = "3." + "1" * 100
    lines = renderer.lines_for(progress(35, long_estimate))
    assert lines[0] == "▶ pi 1a2b3c4d started"
    assert lines[1].startswith("… pi 1a2b3c4d 35 %  3.111")
    assert lines[1].endswith("…") and len(lines[1]) < 70


def test_success_says_its_runtime_and_is_said_once() -> None:
    renderer = NotificationRenderer()
    assert renderer.lines_for(view("SUCCESS", runtime_seconds=0.7)) == [
        "✓ pi 1a2b3c4d SUCCESS in 0.70 s"
    ]
    assert renderer.lines_for(view("SUCCESS", runtime_seconds=0.7)) == []
    assert renderer.lines_for(progress(50)) == []  # nothing after the end


def test_failure_says_its_error() -> None:
    renderer = NotificationRenderer()
    failed = view("FAILURE", kind="demo", error="DemoFailure: the demo task failed as asked")
    assert renderer.lines_for(failed) == [
        "✗ demo 1a2b3c4d FAILURE: DemoFailure: the demo task failed as asked"
    ]
    assert NotificationRenderer().lines_for(view("LOST")) == ["✗ pi 1a2b3c4d LOST"]


def test_a_task_handed_back_after_a_crash_starts_again() -> None:
    renderer = NotificationRenderer()
    renderer.lines_for(view("STARTED", attempts=1))
    renderer.lines_for(progress(55) | {"attempts": 1})
    assert renderer.lines_for(view("STARTED", attempts=2)) == [
        "▶ pi 1a2b3c4d started again (attempt 2)"
    ]
    assert renderer.lines_for(progress(15) | {"attempts": 2}) == ["… pi 1a2b3c4d 15 %  3.14"]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.013, "0.01 s"),
        (0.7, "0.70 s"),
        (12.34, "12.3 s"),
        (125, "2 min 5 s"),
        (7380, "2 h 3 min"),
    ],
)
def test_runtimes_read_naturally(seconds: float, text: str) -> None:
    assert format_runtime(seconds) == text


def test_the_task_table_is_compact() -> None:
    items = [
        view("PROGRESS", progress={"percent": 41.6, "intermediate": "x"}),
        view("SUCCESS", id="ffffeeee-1", kind="demo", runtime_seconds=2.04),
    ]
    assert task_table(items) == [
        "ID        KIND  STATE     DONE  RUNTIME",
        "1a2b3c4d  pi    PROGRESS  41 %",
        "ffffeeee  demo  SUCCESS         2.0 s",
    ]
    assert task_table([]) == ["no tasks yet"]


# --- the console -----------------------------------------------------------------------------


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_notification_on_a_terminal_redraws_the_prompt() -> None:
    out = FakeTerminal()
    console = Console(out, terminal=True)
    console.show_prompt()
    console.notify("✓ done")
    assert out.getvalue() == f"{PROMPT}{CLEAR_LINE}✓ done\n{PROMPT}"
    console.input_taken()
    console.notify("while a command runs")
    assert out.getvalue().endswith(f"{PROMPT}while a command runs\n")


def test_elsewhere_notifications_are_plain_lines() -> None:
    out = io.StringIO()
    console = Console(out, terminal=False)
    console.show_prompt()
    console.notify("✓ done")
    console.clear_screen()
    assert out.getvalue() == "✓ done\n"


# --- the SSE reader --------------------------------------------------------------------------


def feed(parser: SseParser, text: str) -> list[SseMessage]:
    messages = (parser.feed(line) for line in text.split("\n"))
    return [message for message in messages if message is not None]


def test_the_parser_reads_what_the_server_sends() -> None:
    parser = SseParser()
    text = (
        ": ping - 2024-01-01\n\n"
        'event: host\ndata: {"cpu": 1}\n\n'
        'id: 5-0\nevent: task\ndata: {"a":\ndata:1}\n\n'
        "data:no space\n\n"
    )
    assert feed(parser, text) == [
        SseMessage("host", '{"cpu": 1}', None),
        SseMessage("task", '{"a":\n1}', "5-0"),
        SseMessage("message", "no space", "5-0"),
    ]


def test_the_resume_position_moves_only_with_complete_messages() -> None:
    parser = SseParser("1-0")
    feed(parser, "id: 2-0\nevent: task\ndata: {}\n\n")
    assert parser.last_event_id == "2-0"
    feed(parser, "event: host\ndata: {}\n\n")  # host events carry no id: the position stays
    assert parser.last_event_id == "2-0"
    feed(parser, "id: 3-0\nevent: task\ndata: {")  # cut off before its blank line
    assert parser.last_event_id == "2-0"
    fresh = SseParser(parser.last_event_id)  # the next connection starts where we were
    assert fresh.last_event_id == "2-0"
    feed(fresh, "id\ndata: x\n\n")  # an empty id forgets the position
    assert fresh.last_event_id is None


def test_backoff_doubles_up_to_a_limit_and_resets() -> None:
    backoff = Backoff(first=0.5, longest=3)
    assert [backoff.next_delay() for _ in range(5)] == [0.5, 1, 2, 3, 3]
    backoff.reset()
    assert backoff.next_delay() == 0.5


def test_details_name_the_field_and_the_reason() -> None:
    invalid = httpx.Response(
        422,
        json={
            "detail": [
                {"loc": ["body", "password"], "msg": "String should have at least 8 characters"},
                {"loc": ["body", "digits"], "msg": "Value error, the Leibniz series is capped"},
            ]
        },
    )
    assert detail_of(invalid) == (
        "password: String should have at least 8 characters; digits: the Leibniz series is capped"
    )
    assert detail_of(httpx.Response(401, json={"detail": "wrong e-mail or password"})) == (
        "wrong e-mail or password"
    )
    assert detail_of(httpx.Response(502, text="<html>")) == "Bad Gateway"


def sse(*events: tuple[str, str, dict[str, Any]]) -> bytes:
    return "".join(
        f"id: {entry_id}\nevent: {name}\ndata: {json.dumps(data)}\n\n"
        for entry_id, name, data in events
    ).encode()


def test_a_dropped_stream_resumes_from_the_last_event_id() -> None:
    """Three connections: two events then a drop mid-message, a resume, then a refusal."""
    asked: list[str | None] = []
    bodies = [
        sse(("1-0", "task", {"n": 1}), ("2-0", "task", {"n": 2})) + b"id: 3-0\ndata: {",
        sse(("3-0", "task", {"n": 3})),
    ]

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.headers.get("Last-Event-ID"))
        if bodies:
            return httpx.Response(200, content=bodies.pop(0))
        return httpx.Response(401, json={"detail": "the token is unknown or revoked"})

    received: list[str] = []
    statuses: list[str] = []

    async def follow() -> None:
        transport = httpx.MockTransport(answer)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            follower = EventFollower(
                http,
                lambda message: received.append(message.data),
                statuses.append,
                Backoff(first=0.001, longest=0.001),
            )
            await follower.run()

    run(follow(), timeout=10)
    assert asked == [None, "2-0", "3-0"]
    assert received == ['{"n": 1}', '{"n": 2}', '{"n": 3}']
    assert statuses == [
        "event stream lost (the server ended the stream); reconnecting",
        "event stream reconnected",
        "event stream lost (the server ended the stream); reconnecting",
        "event stream refused: 401 the token is unknown or revoked",
    ]


def test_a_stream_whose_login_ends_is_not_followed_again() -> None:
    asked: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.headers.get("Last-Event-ID"))
        return httpx.Response(200, content=sse(("1-0", "task", {"n": 1}), ("", "login-ended", {})))

    received: list[str] = []
    statuses: list[str] = []

    async def follow() -> None:
        transport = httpx.MockTransport(answer)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            follower = EventFollower(http, lambda m: received.append(m.data), statuses.append)
            await follower.run()

    run(follow(), timeout=10)
    assert asked == [None] and received == ['{"n": 1}']
    assert statuses == [
        "event stream refused: this login has ended (logged out, or its token revoked)"
    ]


# --- the session, against a pretend server ----------------------------------------------------


Call = tuple[str, str, str | None]


def pretend_server(calls: list[Call]) -> httpx.MockTransport:
    """Logs in as token 7, starts tasks, and sends an event stream of one ping."""

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append((request.method, request.url.path, request.headers.get("Authorization")))
        if request.url.path == "/api/tokens":
            return httpx.Response(201, json={"id": 7, "name": "x", "token": "dsh_secret"})
        if request.url.path == "/api/events":
            return httpx.Response(200, content=b": ping\n\n")
        if request.url.path == "/api/tasks/pi":
            return httpx.Response(202, json={"id": TASK_ID})
        return httpx.Response(204)

    return httpx.MockTransport(answer)


async def type_commands(transport: httpx.MockTransport, out: io.StringIO, *lines: str) -> None:
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        session = ClientSession(http, Console(out, terminal=False), InputThread(), io.StringIO())
        for line in lines:
            command = parse_command(line)
            assert command is not None
            assert await session.perform(command)
        await asyncio.sleep(0)


def test_logout_revokes_the_token_login_made_and_forgets_it() -> None:
    calls: list[Call] = []
    out = io.StringIO()
    commands = ("pi 5", "login a@example.com pw12345678", "pi 5", "logout", "pi 5")
    run(type_commands(pretend_server(calls), out, *commands), timeout=10)

    # The pretend stream ends at once; what the follower says about that is not the point here.
    lines = [line for line in out.getvalue().splitlines() if "event stream" not in line]
    assert lines[0].startswith("you are not logged in")
    assert lines[1:4] == ["logged in as a@example.com", f"started pi {TASK_ID}", "logged out"]
    assert lines[4].startswith("you are not logged in")
    assert ("POST", "/api/tasks/pi", "Bearer dsh_secret") in calls
    assert ("DELETE", "/api/tokens/7", "Bearer dsh_secret") in calls
    assert calls[-1][0] == "DELETE"  # nothing was sent after logging out


def test_a_start_whose_answer_is_lost_is_sent_again_with_the_same_key() -> None:
    calls: list[Call] = []
    keys: list[str | None] = []
    server = pretend_server(calls)

    def lossy(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/tasks/pi":
            keys.append(request.headers.get("Idempotency-Key"))
            if len(keys) == 1:  # the first send's answer never arrives
                raise httpx.ReadTimeout("timed out", request=request)
        return server.handler(request)  # type: ignore[no-any-return]

    out = io.StringIO()
    commands = ("login a@example.com pw12345678", "pi 5", "pi 6", "logout")
    run(type_commands(httpx.MockTransport(lossy), out, *commands), timeout=10)

    assert f"started pi {TASK_ID}" in out.getvalue().splitlines()
    # Two sends of the first start with one key; the next start has a key of its own.
    assert len(keys) == 3 and keys[0] == keys[1] != keys[2]
    assert all(key and len(key) == 36 for key in keys)
