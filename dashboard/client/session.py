"""`dashboard client`: an asynchronous terminal client for the JSON API and the event stream.

It replaces the old lab project's client (log in, register, start a task, clear, exit) whose
point was that notifications print as they arrive while the prompt stays usable. So one event
loop runs both the command loop and the stream reader; blocking reads (a line, a password)
happen on a daemon thread, which never holds up the loop or the exit. The server filters the
stream to the logged-in user's events, so the client only turns what arrives into lines.

Pure parts (command lines into requests, task views into notification lines, the task table)
are plain functions and classes that tests drive without a server. The token lives in memory
only; the one this client made is revoked on `logout` and on exit.
"""

import asyncio
import contextlib
import getpass
import json
import os
import socket
import sys
import termios
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, TextIO

import httpx

from dashboard.client.commands import (
    Action,
    Command,
    CommandError,
    Credentials,
    StartTask,
    parse_command,
)
from dashboard.client.console import PROMPT, Console, InputThread, LineEditor
from dashboard.client.notices import NotificationRenderer, task_table
from dashboard.client.stream import EventFollower, SseMessage, describe_http_error, detail_of

DEFAULT_URL = "http://127.0.0.1:8000"
PASSWORD_PROMPT = "password: "
REQUEST_TIMEOUT = httpx.Timeout(10.0)
# A start is sent at most this often, this far apart, while its answer does not arrive.
START_SENDS = 3
RESEND_PAUSE_SECONDS = 1.0
IDEMPOTENCY_HEADER = "Idempotency-Key"
# Login waits this long for the stream to answer, so tasks started next are not missed.
STREAM_READY_SECONDS = 5.0
# Exit waits at most this long to revoke the token it made; an unreachable server does not
# hold the terminal hostage.
REVOKE_ON_EXIT_SECONDS = 3.0
TOKEN_NAME_LIMIT = 100  # the server's limit on a token's name
HELP = """\
commands:
  register EMAIL [PASSWORD]      make an account (the password: the rest of the line)
  login EMAIL [PASSWORD]         log in and follow your tasks' events
  pi DIGITS [chudnovsky|leibniz] compute pi
  csv ROWS                       write a CSV file of sample data
  history                        export your task history as CSV
  demo SECONDS [fail|succeed]    the demo long operation (a coin toss without the last word)
  tasks                          your latest tasks
  logout                         revoke this client's token and stop the events
  clear                          clear the screen
  exit | quit                    leave (so does Ctrl-D or Ctrl-C)
add --mail after a task command to be e-mailed when it ends; a password left out is asked for"""


@dataclass
class Login:
    token: str
    token_id: int | None  # None: DASHBOARD_TOKEN, the user's own token, never revoked here
    stream: "asyncio.Task[None] | None" = None


class ClientSession:
    """The commands, run against the server; at most one login and one event stream."""

    def __init__(
        self, http: httpx.AsyncClient, console: Console, reader: InputThread, stdin: TextIO
    ) -> None:
        self.http = http
        self.console = console
        self.reader = reader
        self.stdin = stdin
        self.login: Login | None = None
        self.renderer = NotificationRenderer()

    async def perform(self, command: Command) -> bool:
        """Runs one command; False once the user wants to leave."""
        if command == Action("exit"):
            return False
        try:
            await self._dispatch(command)
        except httpx.HTTPError as error:
            self.console.say(f"cannot reach {self.http.base_url}: {describe_http_error(error)}")
        except (ValueError, KeyError) as error:  # an answer that is not the API's JSON
            self.console.say(f"unexpected answer from {self.http.base_url}: {error!r}")
        return True

    async def _dispatch(self, command: Command) -> None:
        if isinstance(command, StartTask):
            await self.start_task(command)
        elif isinstance(command, Credentials) and command.action == "register":
            await self.register(command.email, command.password)
        elif isinstance(command, Credentials):
            await self.log_in(command.email, command.password)
        elif command.name == "tasks":
            await self.list_tasks()
        elif command.name == "logout":
            await self.log_out()
        elif command.name == "clear":
            self.console.clear_screen()
        else:
            self.console.say(HELP)

    async def register(self, email: str, password: str | None) -> None:
        password = await self._password(password)
        if password is None:
            return
        response = await self.http.post("/api/users", json={"email": email, "password": password})
        if response.status_code != 201:
            self.console.say(f"registration refused: {detail_of(response)}")
            return
        self.console.say(f"registered {response.json()['email']}; now: login {email}")

    async def log_in(self, email: str, password: str | None) -> None:
        password = await self._password(password)
        if password is None:
            return
        body = {"email": email, "password": password, "name": token_name()}
        response = await self.http.post("/api/tokens", json=body)
        if response.status_code != 201:
            self.console.say(f"login failed: {detail_of(response)}")
            return
        await self.forget_login()  # one login at a time: the previous token is revoked
        made = response.json()
        await self._start_login(Login(token=made["token"], token_id=int(made["id"])))
        self.console.say(f"logged in as {email}")

    async def log_in_with_token(self, token: str) -> None:
        """DASHBOARD_TOKEN: the user's own token, checked and used, never revoked here."""
        response = await self.http.get("/api/me", headers=_bearer(token))
        if response.status_code != 200:
            self.console.say(f"DASHBOARD_TOKEN refused: {detail_of(response)}")
            return
        await self._start_login(Login(token=token, token_id=None))
        self.console.say(f"logged in as {response.json()['email']} (DASHBOARD_TOKEN)")

    async def log_out(self) -> None:
        if self.login is None:
            self.console.say("you are not logged in")
            return
        kept = self.login.token_id is None
        await self.forget_login()
        self.console.say("logged out" + (" (DASHBOARD_TOKEN stays valid)" if kept else ""))

    async def forget_login(self) -> None:
        """Stops the stream and revokes the token this client made; forgets it either way."""
        login, self.login = self.login, None
        if login is None:
            return
        self.http.headers.pop("Authorization", None)
        if login.stream is not None:
            login.stream.cancel()
            await asyncio.gather(login.stream, return_exceptions=True)
        if login.token_id is not None:
            await self._revoke(login)

    async def _revoke(self, login: Login) -> None:
        try:
            response = await self.http.delete(
                f"/api/tokens/{login.token_id}", headers=_bearer(login.token)
            )
        except httpx.HTTPError as error:
            self.console.say(f"could not revoke the token: {describe_http_error(error)}")
            return
        if response.status_code not in (204, 401, 404):  # 401/404: it is revoked already
            self.console.say(f"could not revoke the token: {detail_of(response)}")

    async def start_task(self, command: StartTask) -> None:
        if not self._logged_in():
            return
        response = await self._send_start(command)
        if response.status_code != 202:
            self.console.say(f"{command.kind} refused: {detail_of(response)}")
            return
        self.console.say(f"started {command.kind} {response.json()['id']}")

    async def _send_start(self, command: StartTask) -> httpx.Response:
        """Sent again when the answer is lost on the way (a timeout, a dropped connection):
        with the same Idempotency-Key the server starts the task once, however often it is
        sent. A 409 means the first send is still being answered."""
        headers = {IDEMPOTENCY_HEADER: str(uuid.uuid4())}
        for _ in range(START_SENDS - 1):
            try:
                response = await self.http.post(command.path, json=command.body, headers=headers)
            except httpx.TransportError:
                await asyncio.sleep(RESEND_PAUSE_SECONDS)
                continue
            if response.status_code != 409:
                return response
            await asyncio.sleep(RESEND_PAUSE_SECONDS)
        return await self.http.post(command.path, json=command.body, headers=headers)

    async def list_tasks(self) -> None:
        if not self._logged_in():
            return
        response = await self.http.get("/api/tasks", params={"limit": 20})
        if response.status_code != 200:
            self.console.say(f"tasks refused: {detail_of(response)}")
            return
        for line in task_table(response.json()["items"]):
            self.console.say(line)

    def _logged_in(self) -> bool:
        if self.login is None:
            self.console.say("you are not logged in; use: login EMAIL [PASSWORD]")
        return self.login is not None

    async def _password(self, given: str | None) -> str | None:
        """The password given, else asked for: unechoed on a terminal, else the next line."""
        if given is not None:
            return given
        if self.stdin.isatty():
            with self.console.prompt_shown_by_other(PASSWORD_PROMPT):
                typed = await self.reader.read(lambda: getpass.getpass(PASSWORD_PROMPT) + "\n")
        else:
            typed = await self.reader.read(self.stdin.readline)
        if not typed:
            self.console.say("no password given")
            return None
        return typed.rstrip("\r\n")

    async def _start_login(self, login: Login) -> None:
        self.login = login
        self.http.headers["Authorization"] = f"Bearer {login.token}"
        self.renderer = NotificationRenderer()
        follower = EventFollower(self.http, self._on_message, self.console.notify)
        login.stream = asyncio.create_task(follower.run(), name="event-stream")
        # Tasks started right after login must not finish before the server subscribed us.
        ready = asyncio.ensure_future(follower.connected.wait())
        await asyncio.wait(
            {ready, login.stream}, timeout=STREAM_READY_SECONDS, return_when=asyncio.FIRST_COMPLETED
        )
        ready.cancel()

    def _on_message(self, message: SseMessage) -> None:
        if message.event != "task":
            return  # host gauges are for the page
        try:
            view = json.loads(message.data)
        except ValueError:
            return
        if isinstance(view, dict):
            for line in self.renderer.lines_for(view):
                self.console.notify(line)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_name() -> str:
    return f"terminal client on {socket.gethostname()}"[:TOKEN_NAME_LIMIT]


# --- the command loop ----------------------------------------------------------------------


async def command_loop(session: ClientSession, editor: LineEditor | None = None) -> None:
    console, stdin = session.console, session.stdin
    read_line = partial(editor.read, PROMPT) if editor else stdin.readline
    while True:
        console.show_prompt()
        line = await session.reader.read(read_line)
        console.input_taken()
        if not line:  # end of input (Ctrl-D)
            if console.terminal:
                console.say("")
            return
        try:
            command = parse_command(line)
        except CommandError as error:
            console.say(str(error))
            continue
        if command is not None and not await session.perform(command):
            return


async def serve(url: str, token: str | None, out: TextIO, stdin: TextIO) -> None:
    editor = LineEditor() if LineEditor.usable(stdin, out) else None
    typed = editor.typed if editor else None
    console = Console(out, out.isatty(), typed, reader_draws_prompt=editor is not None)
    async with httpx.AsyncClient(base_url=url, timeout=REQUEST_TIMEOUT) as http:
        session = ClientSession(http, console, InputThread(), stdin)
        try:
            if token:
                await session.log_in_with_token(token)
            await command_loop(session, editor)
        finally:
            # Also on Ctrl-C (a cancellation): the stream ends and our token is revoked.
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(session.forget_login(), REVOKE_ON_EXIT_SECONDS)


def run(
    url: str | None = None,
    *,
    environ: Mapping[str, str] = os.environ,
    out: TextIO = sys.stdout,
    stdin: TextIO = sys.stdin,
) -> int:
    """The `dashboard client` command: 0 on exit, quit, end of input or Ctrl-C."""
    base_url = url or environ.get("DASHBOARD_URL") or DEFAULT_URL
    token = environ.get("DASHBOARD_TOKEN") or None
    with _terminal_restored(stdin):
        try:
            asyncio.run(serve(base_url, token, out, stdin))
        except KeyboardInterrupt:
            out.write("\n")
            out.flush()
    return 0


@contextlib.contextmanager
def _terminal_restored(stdin: TextIO) -> Iterator[None]:
    """Puts the terminal back as it was: Ctrl-C during getpass would leave echo off."""
    saved = _terminal_state(stdin)
    try:
        yield
    finally:
        if saved is not None:
            descriptor, attributes = saved
            with contextlib.suppress(OSError):
                termios.tcsetattr(descriptor, termios.TCSADRAIN, attributes)


def _terminal_state(stdin: TextIO) -> tuple[int, list[Any]] | None:
    try:
        if not stdin.isatty():
            return None
        descriptor = stdin.fileno()
        return descriptor, termios.tcgetattr(descriptor)
    except (OSError, ValueError):  # a closed or pretend stream (a test's StringIO)
        return None
