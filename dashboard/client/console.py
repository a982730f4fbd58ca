"""The terminal: output that never garbles the prompt, and input read off the event loop."""

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TextIO

PROMPT = "dashboard> "
CLEAR_SCREEN = "\x1b[2J\x1b[H"
CLEAR_LINE = "\r\x1b[K"


class Console:
    """All output, so a notification printed while the prompt waits does not garble it.

    On a terminal the prompt's line is cleared, the notification printed and the prompt put
    back; anywhere else (a pipe, a test) lines are just written and flushed.
    """

    def __init__(self, out: TextIO, terminal: bool) -> None:
        self.out = out
        self.terminal = terminal
        self._prompt: str | None = None  # what is on screen waiting for input, if anything

    def say(self, text: str) -> None:
        self._write(text + "\n")

    def notify(self, text: str) -> None:
        if self.terminal and self._prompt is not None:
            self._write(f"{CLEAR_LINE}{text}\n{self._prompt}")
        else:
            self.say(text)

    def show_prompt(self, prompt: str = PROMPT) -> None:
        self._prompt = prompt
        if self.terminal:
            self._write(prompt)

    def input_taken(self) -> None:
        self._prompt = None

    @contextlib.contextmanager
    def prompt_shown_by_other(self, prompt: str) -> Iterator[None]:
        """Something else (getpass) prints this prompt; redraw it, not ours, meanwhile."""
        self._prompt = prompt
        try:
            yield
        finally:
            self._prompt = None

    def clear_screen(self) -> None:
        if self.terminal:
            self._write(CLEAR_SCREEN)

    def _write(self, text: str) -> None:
        try:
            self.out.write(text)
        except UnicodeEncodeError:  # a terminal that cannot show ✓: show "?" rather than die
            encoding = getattr(self.out, "encoding", None) or "ascii"
            self.out.write(text.encode(encoding, "replace").decode(encoding))
        self.out.flush()


class InputThread:
    """Runs blocking reads (a line, a password) one at a time on a daemon thread.

    Only one read is ever outstanding, so getpass and the command loop never race for the
    terminal, and a daemon thread stuck in a read never keeps the process from exiting (the
    default executor would be joined at exit).
    """

    def __init__(self) -> None:
        self._requests: queue.SimpleQueue[_ReadRequest] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="client-input", daemon=True)
        self._thread.start()

    async def read(self, blocking_read: Callable[[], str]) -> str:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[str] = loop.create_future()
        self._requests.put(_ReadRequest(blocking_read, answer, loop))
        return await answer

    def _serve(self) -> None:
        while True:
            self._requests.get().run()


@dataclass
class _ReadRequest:
    blocking_read: Callable[[], str]
    answer: asyncio.Future[str]
    loop: asyncio.AbstractEventLoop

    def run(self) -> None:
        try:
            text = self.blocking_read()
        except UnicodeDecodeError:
            text = "\n"  # a line that is not text is skipped, like a blank one
        except Exception:  # EOFError, a closed stream: input is over, so the client ends
            text = ""
        with contextlib.suppress(RuntimeError):  # the loop closed while we read: nobody waits
            self.loop.call_soon_threadsafe(self._deliver, text)

    def _deliver(self, text: str) -> None:
        if not self.answer.done():  # cancelled by Ctrl-C meanwhile
            self.answer.set_result(text)
