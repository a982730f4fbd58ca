"""Command lines typed at the prompt, turned into requests (pure: tests need no server)."""

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal


class CommandError(ValueError):
    """A command line that cannot be sent; its message says how to write it."""


@dataclass(frozen=True)
class StartTask:
    kind: Literal["pi", "csv", "demo"]
    body: dict[str, Any]

    @property
    def path(self) -> str:
        return f"/api/tasks/{self.kind}"


@dataclass(frozen=True)
class Credentials:
    action: Literal["register", "login"]
    email: str
    password: str | None  # None: ask for it


@dataclass(frozen=True)
class Action:
    name: Literal["tasks", "logout", "clear", "exit", "help"]


Command = StartTask | Credentials | Action
ACTIONS: dict[str, Action] = {
    "tasks": Action("tasks"),
    "logout": Action("logout"),
    "clear": Action("clear"),
    "exit": Action("exit"),
    "quit": Action("exit"),
    "help": Action("help"),
    "?": Action("help"),
}
CREDENTIAL_ACTIONS: dict[str, Literal["register", "login"]] = {
    "register": "register",
    "login": "login",
}


def parse_command(line: str) -> Command | None:
    """One command line as the request it stands for; None for a blank line."""
    words = line.split()
    if not words:
        return None
    name, arguments = words[0].lower(), words[1:]
    if name in ACTIONS:
        _expect_no_arguments(name, arguments)
        return ACTIONS[name]
    if name in CREDENTIAL_ACTIONS:
        return _credentials(CREDENTIAL_ACTIONS[name], line)
    task_parser = TASK_PARSERS.get(name)
    if task_parser is None:
        raise CommandError(f"unknown command {words[0]!r}; type help for the list")
    notify = "--mail" in arguments
    task = task_parser([word for word in arguments if word != "--mail"])
    return StartTask(task.kind, {**task.body, "notify_email": True}) if notify else task


def _expect_no_arguments(name: str, arguments: list[str]) -> None:
    if arguments:
        raise CommandError(f"usage: {name}")


def _credentials(name: Literal["register", "login"], line: str) -> Credentials:
    # The password is the rest of the line, so one with spaces needs no quoting.
    arguments = line.strip().split(maxsplit=2)[1:]
    if not arguments:
        raise CommandError(f"usage: {name} EMAIL [PASSWORD]")
    password = arguments[1] if len(arguments) == 2 else None
    return Credentials(name, arguments[0], password)


def _pi(arguments: list[str]) -> StartTask:
    if not 1 <= len(arguments) <= 2:
        raise CommandError("usage: pi DIGITS [chudnovsky|leibniz] [--mail]")
    body: dict[str, Any] = {"digits": _integer(arguments[0], "DIGITS")}
    if len(arguments) == 2:
        method = arguments[1].lower()
        if method not in ("chudnovsky", "leibniz"):
            raise CommandError("the method is chudnovsky or leibniz")
        body["method"] = method
    return StartTask("pi", body)


def _csv(arguments: list[str]) -> StartTask:
    if len(arguments) != 1:
        raise CommandError("usage: csv ROWS [--mail]")
    return StartTask("csv", {"rows": _integer(arguments[0], "ROWS")})


def _history(arguments: list[str]) -> StartTask:
    if arguments:
        raise CommandError("usage: history [--mail]")
    return StartTask("csv", {"source": "history"})


def _demo(arguments: list[str]) -> StartTask:
    if not 1 <= len(arguments) <= 2:
        raise CommandError("usage: demo SECONDS [fail|succeed] [--mail]")
    try:
        seconds = float(arguments[0])
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds):  # JSON has no NaN or infinity to send
        raise CommandError(f"SECONDS must be a number, not {arguments[0]!r}")
    # Without the last word the server tosses a coin, as the original "Create Task!" did.
    outcomes: dict[str, bool | None] = {"fail": True, "succeed": False}
    ending = arguments[1].lower() if len(arguments) == 2 else None
    if ending is not None and ending not in outcomes:
        raise CommandError("the demo ends with fail or succeed")
    should_fail = outcomes[ending] if ending else None
    return StartTask("demo", {"seconds": seconds, "should_fail": should_fail})


def _integer(text: str, name: str) -> int:
    try:
        return int(text.replace("_", ""))
    except ValueError:
        raise CommandError(f"{name} must be a whole number, not {text!r}") from None


TASK_PARSERS: dict[str, Callable[[list[str]], StartTask]] = {
    "pi": _pi,
    "csv": _csv,
    "history": _history,
    "demo": _demo,
}
