"""The terminal: output that never garbles the prompt, and input read off the event loop."""

import asyncio
import contextlib
import ctypes
import queue
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import TextIO

readline: ModuleType | None
try:  # GNU readline (or libedit): line editing and history for input(), where Python has it
    import readline
except ImportError:  # pragma: no cover - Windows
    readline = None

PROMPT = "dashboard> "
CLEAR_SCREEN = "\x1b[2J\x1b[H"
CLEAR_LINE = "\r\x1b[K"
CURSOR_LEFT = "\x1b[{}D"


class Console:
    """All output, so a notification printed while the prompt waits does not garble it.

    On a terminal the prompt's line is cleared, the notification printed and the prompt put
    back, with what has been typed after it so far (`typed`, from the LineEditor); anywhere
    else (a pipe, a test) lines are just written and flushed.
    """

    def __init__(
        self,
        out: TextIO,
        terminal: bool,
        typed: Callable[[], tuple[str, int]] | None = None,
        *,
        reader_draws_prompt: bool = False,
    ) -> None:
        self.out = out
        self.terminal = terminal
        self.typed = typed or (lambda: ("", 0))  # and how much of it is right of the cursor
        self.reader_draws_prompt = reader_draws_prompt  # input(prompt) writes it itself
        self._prompt: str | None = None  # what is on screen waiting for input, if anything

    def say(self, text: str) -> None:
        self._write(text + "\n")

    def notify(self, text: str) -> None:
        if self.terminal and self._prompt is not None:
            typed, after = self.typed()
            back = CURSOR_LEFT.format(after) if after > 0 else ""
            self._write(f"{CLEAR_LINE}{text}\n{self._prompt}{typed}{back}")
        else:
            self.say(text)

    def show_prompt(self, prompt: str = PROMPT) -> None:
        self._prompt = prompt
        if self.terminal and not self.reader_draws_prompt:
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


class LineEditor:
    """Reads a command with readline on a terminal: the arrow keys, Ctrl-U and the rest edit
    the line, and Up brings back earlier commands. It says what has been typed so far, so a
    notification printed meanwhile puts the line back as it was (QA: the typed text vanished
    from the screen, and Up was read as a command)."""

    def __init__(self) -> None:
        self._reading = False
        self._point = _cursor_index()

    @staticmethod
    def usable(stdin: TextIO, out: TextIO) -> bool:
        """input() edits with readline only on the process's own terminal."""
        own = stdin is sys.stdin and out is sys.stdout
        return readline is not None and own and stdin.isatty() and out.isatty()

    def read(self, prompt: str) -> str:
        """Runs on the input thread; a line with its newline, "" at the end of input."""
        self._reading = True
        try:
            return input(prompt) + "\n"
        except EOFError:
            return ""
        finally:
            self._reading = False

    def typed(self) -> tuple[str, int]:
        """The line typed so far, and how many of its characters stand right of the cursor."""
        if readline is None or not self._reading:
            return "", 0  # between commands the buffer still holds the last one
        line = str(readline.get_line_buffer())
        if self._point is None:
            return line, 0
        # The cursor's index counts bytes of the line as readline holds it (UTF-8 here).
        before = line.encode()[: self._point.value].decode(errors="ignore")
        return line, len(line) - len(before)


def _cursor_index() -> ctypes.c_int | None:
    """readline's rl_point, the cursor's place in the line, which Python does not expose."""
    if readline is None or not getattr(readline, "__file__", None):
        return None
    try:
        return ctypes.c_int.in_dll(ctypes.CDLL(readline.__file__), "rl_point")
    except (OSError, ValueError):
        return None


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
