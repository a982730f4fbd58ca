"""The web's view of the processes `dashboard run` supervises, asked over its control socket."""

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from dashboard import control
from dashboard.control import Action

__all__ = ["Action", "ProcessList", "ProcessStatus", "Refused", "act", "process_list", "tail"]
NO_SUPERVISOR = "no supervisor: not running under `dashboard run`"


class ProcessStatus(BaseModel):
    name: str
    state: Literal["running", "stopping", "stopped", "restarting"]
    pid: int | None
    uptime_seconds: float | None
    restarts: int
    last_exit: str | None
    stoppable: bool


class ProcessList(BaseModel):
    supervised: bool
    processes: list[ProcessStatus]


class Refused(Exception):
    """The supervisor would not do it; `unknown` when there is no such process."""

    def __init__(self, reply: dict[str, Any]) -> None:
        super().__init__(str(reply.get("error", "refused")))
        self.unknown = bool(reply.get("unknown"))


def ask(state_dir: Path, payload: dict[str, Any]) -> dict[str, Any]:
    """One request to the supervisor; raises control.ControlUnavailable when there is none."""
    return control.request(control.socket_path(state_dir), payload)


def process_list(state_dir: Path) -> ProcessList:
    try:
        reply = ask(state_dir, {"command": "status"})
    except control.ControlUnavailable:
        return ProcessList(supervised=False, processes=[])
    return ProcessList(supervised=True, processes=reply.get("processes", []))


def act(state_dir: Path, name: str, action: Action) -> None:
    reply = ask(state_dir, {"command": action, "name": name})
    if not reply.get("ok"):
        raise Refused(reply)


def tail(state_dir: Path, name: str, lines: int) -> list[str]:
    reply = ask(state_dir, {"command": "tail", "name": name, "lines": lines})
    if not reply.get("ok"):
        raise Refused(reply)
    return [str(line) for line in reply.get("lines", [])]
