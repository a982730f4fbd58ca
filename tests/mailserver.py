"""A real SMTP server for tests (aiosmtpd), which can be told to refuse the next messages."""

import email
import email.policy
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, cast

from aiosmtpd.controller import Controller

from tests.processes import free_port


@dataclass
class _Handler:
    received: list[EmailMessage] = field(default_factory=list)
    refusals_left: int = 0
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if self.refusals_left > 0:
                self.refusals_left -= 1
                self.refused += 1
                return "451 4.3.0 try again later"
            self.received.append(_parse(envelope.content))
        return "250 OK"


class MailServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.handler = _Handler()
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def refuse_next(self, count: int) -> None:
        with self.handler.lock:
            self.handler.refusals_left = count

    def messages_about(self, task_id: str) -> list[EmailMessage]:
        with self.handler.lock:
            return [m for m in self.handler.received if task_id in str(m.get_content())]


def _parse(content: bytes) -> EmailMessage:
    return cast(EmailMessage, email.message_from_bytes(content, policy=email.policy.default))
