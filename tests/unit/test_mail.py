"""Finish notices say what happened, cannot smuggle headers, and reach the outbox or a real
SMTP server; every way delivery can fail raises, so the calling task can retry."""

import email
import re
import smtplib
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from dashboard.mail import (
    MailConfigError,
    SmtpTarget,
    TaskNotice,
    compose,
    deliver,
    parse_smtp_url,
)

SENDER = "Dashboard <dashboard@example.com>"
RECIPIENT = "owner@example.org"


def notice(**changes: Any) -> TaskNotice:
    values: dict[str, Any] = {
        "task_id": "3f2a9c1e-0000-4000-8000-000000000001",
        "title": "pi to 1,000 digits",
        "state": "FAILURE",
        "error": "ZeroDivisionError: division by zero",
        "runtime_seconds": 2.43,
        "finished_at": datetime(2024, 5, 1, 12, 30, 5, tzinfo=UTC),
        "url": "https://dash.example.com/tasks/3f2a9c1e-0000-4000-8000-000000000001",
    }
    return TaskNotice(**(values | changes))


def message(**changes: Any) -> EmailMessage:
    return compose(notice(**changes), sender=SENDER, recipient=RECIPIENT)


def body_of(parsed: email.message.Message) -> str:
    assert isinstance(parsed, EmailMessage)
    return str(parsed.get_content())


# --- compose ---------------------------------------------------------------------------------


def test_compose_says_what_happened_and_where_to_look() -> None:
    composed = message()
    assert composed["Subject"] == "[dashboard] pi to 1,000 digits: FAILURE"
    assert composed["From"] == SENDER
    assert composed["To"] == RECIPIENT
    assert composed["Date"] and composed["Message-ID"].endswith("@example.com>")
    body = composed.get_content()
    assert "pi to 1,000 digits" in body and "FAILURE" in body
    assert "ZeroDivisionError: division by zero" in body
    assert "2.4 s" in body
    assert "2024-05-01 12:30:05 UTC" in body
    assert "https://dash.example.com/tasks/3f2a9c1e-0000-4000-8000-000000000001" in body


def test_a_quick_task_says_its_runtime_as_the_page_does() -> None:
    assert "Runtime:  7 ms" in message(runtime_seconds=0.007).get_content()
    assert "Runtime:  3 min 5 s" in message(runtime_seconds=185).get_content()


def test_body_is_plain_text_not_html_escaped() -> None:
    body = message(title="a & b <c>", error="x < y").get_content()
    assert "a & b <c>" in body and "x < y" in body
    assert "&amp;" not in body and "&lt;" not in body


def test_success_without_error_or_times_says_unknown() -> None:
    body = message(state="SUCCESS", error=None, runtime_seconds=None, finished_at=None)
    text = body.get_content()
    assert "Error" not in text
    assert text.count("unknown") == 2
    assert body["Subject"].endswith(": SUCCESS")


def test_finish_time_is_shown_in_utc() -> None:
    in_berlin = datetime(2024, 5, 1, 14, 30, 5, tzinfo=timezone(timedelta(hours=2)))
    assert "2024-05-01 12:30:05 UTC" in message(finished_at=in_berlin).get_content()


def test_a_title_with_line_breaks_cannot_add_headers() -> None:
    composed = message(title="pi\r\nBcc: x@y")
    assert composed["Bcc"] is None
    assert "\r" not in composed["Subject"] and "\n" not in composed["Subject"]
    parsed = email.message_from_bytes(composed.as_bytes(), policy=policy.default)
    assert parsed["Bcc"] is None
    assert parsed["Subject"] == "[dashboard] pi Bcc: x@y: FAILURE"


def test_non_ascii_title_survives_the_round_trip() -> None:
    composed = message(title="π to 1,000 digits")
    parsed = email.message_from_bytes(composed.as_bytes(), policy=policy.default)
    assert parsed["Subject"] == "[dashboard] π to 1,000 digits: FAILURE"
    assert "π to 1,000 digits" in body_of(parsed)


# --- outbox ----------------------------------------------------------------------------------


def test_outbox_gets_exactly_one_whole_message(tmp_path: Path) -> None:
    outbox = tmp_path / "state" / "outbox"  # not there yet: deliver makes it
    composed = message()
    where = deliver(composed, smtp_url=None, outbox=outbox)
    files = list(outbox.iterdir())
    assert [path.suffix for path in files] == [".eml"]
    assert where == str(files[0])
    assert re.fullmatch(r"\d{8}T\d{6}-[0-9a-f]+\.eml", files[0].name)
    parsed = email.message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert parsed["Subject"] == composed["Subject"]
    assert parsed["To"] == RECIPIENT
    assert "ZeroDivisionError" in body_of(parsed)


def test_two_messages_get_two_files(tmp_path: Path) -> None:
    first = deliver(message(), smtp_url=None, outbox=tmp_path)
    second = deliver(message(), smtp_url=None, outbox=tmp_path)
    assert first != second
    assert sorted(path.suffix for path in tmp_path.iterdir()) == [".eml", ".eml"]


def test_outbox_that_cannot_be_made_raises(tmp_path: Path) -> None:
    blocker = tmp_path / "outbox"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(OSError):
        deliver(message(), smtp_url=None, outbox=blocker)


# --- SMTP ------------------------------------------------------------------------------------


class Collector:
    """An aiosmtpd handler that keeps what it is given, or refuses it with `answer`."""

    def __init__(self, answer: str = "250 OK") -> None:
        self.answer = answer
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.answer.startswith("250"):
            self.envelopes.append(envelope)
        return self.answer


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def smtp_server(handler: Collector, **options: Any) -> Iterator[int]:
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def received(envelope: Envelope) -> EmailMessage:
    assert isinstance(envelope.content, bytes)
    parsed = email.message_from_bytes(envelope.content, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_smtp_delivery_arrives_whole() -> None:
    handler = Collector()
    with smtp_server(handler) as port:
        where = deliver(message(), smtp_url=f"smtp://127.0.0.1:{port}", outbox=Path("unused"))
    assert where == f"smtp://127.0.0.1:{port}"
    [envelope] = handler.envelopes
    assert envelope.rcpt_tos == [RECIPIENT]
    assert envelope.mail_from == "dashboard@example.com"
    arrived = received(envelope)
    assert arrived["Subject"] == "[dashboard] pi to 1,000 digits: FAILURE"
    assert "https://dash.example.com/tasks/" in body_of(arrived)


def test_smtp_login_uses_the_decoded_password() -> None:
    seen: list[LoginPassword] = []

    def authenticator(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        seen.append(data)
        # handled=False: aiosmtpd itself answers 535 when the password is wrong.
        return AuthResult(success=data == LoginPassword(b"mailer", b"p@ss:w/rd"), handled=False)

    handler = Collector()
    options = {"authenticator": authenticator, "auth_require_tls": False}
    with smtp_server(handler, **options) as port:
        url = f"smtp://mailer:p%40ss%3Aw%2Frd@127.0.0.1:{port}"
        assert "p%40ss" not in deliver(message(), smtp_url=url, outbox=Path("unused"))
    assert seen == [LoginPassword(b"mailer", b"p@ss:w/rd")]
    assert len(handler.envelopes) == 1


def test_wrong_password_raises() -> None:
    def authenticator(*_: Any) -> AuthResult:
        return AuthResult(success=False, handled=False)  # aiosmtpd answers 535

    options = {"authenticator": authenticator, "auth_require_tls": False}
    with (
        smtp_server(Collector(), **options) as port,
        pytest.raises(smtplib.SMTPAuthenticationError),
    ):
        deliver(message(), smtp_url=f"smtp://u:bad@127.0.0.1:{port}", outbox=Path("unused"))


def test_temporary_refusal_of_the_data_raises_for_a_retry() -> None:
    handler = Collector(answer="451 try again later")
    with smtp_server(handler) as port, pytest.raises(smtplib.SMTPException) as raised:
        deliver(message(), smtp_url=f"smtp://127.0.0.1:{port}", outbox=Path("unused"))
    assert isinstance(raised.value, smtplib.SMTPDataError)
    assert raised.value.smtp_code == 451
    assert handler.envelopes == []


class RefusesOne(Collector):
    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address.startswith("gone@"):
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_a_partly_refused_message_still_raises() -> None:
    composed = compose(notice(), sender=SENDER, recipient=f"{RECIPIENT}, gone@example.org")
    with smtp_server(RefusesOne()) as port, pytest.raises(smtplib.SMTPRecipientsRefused) as raised:
        deliver(composed, smtp_url=f"smtp://127.0.0.1:{port}", outbox=Path("unused"))
    assert list(raised.value.recipients) == ["gone@example.org"]


def test_starttls_never_falls_back_to_plain_text() -> None:
    handler = Collector()  # a server that offers no STARTTLS at all
    with smtp_server(handler) as port, pytest.raises(smtplib.SMTPNotSupportedError):
        deliver(message(), smtp_url=f"smtp+starttls://127.0.0.1:{port}", outbox=Path("unused"))
    assert handler.envelopes == []


def test_nothing_listening_raises_oserror(tmp_path: Path) -> None:
    port = free_port()  # bound then released: nothing listens there now
    with pytest.raises(OSError):
        deliver(message(), smtp_url=f"smtp://127.0.0.1:{port}", outbox=tmp_path)
    assert list(tmp_path.iterdir()) == []  # a failed send does not fall back to the outbox


def test_bad_url_raises_before_connecting(tmp_path: Path) -> None:
    with pytest.raises(MailConfigError):
        deliver(message(), smtp_url="http://127.0.0.1", outbox=tmp_path)
    assert list(tmp_path.iterdir()) == []


# --- parse_smtp_url --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("smtp://mail.example.com", SmtpTarget("mail.example.com", 25, None, None, "plain")),
        (
            "smtp+starttls://mail.example.com",
            SmtpTarget("mail.example.com", 587, None, None, "starttls"),
        ),
        ("smtps://mail.example.com", SmtpTarget("mail.example.com", 465, None, None, "ssl")),
        ("smtp://localhost:1025", SmtpTarget("localhost", 1025, None, None, "plain")),
        (
            "smtps://u:p@mail.example.com:2465/",
            SmtpTarget("mail.example.com", 2465, "u", "p", "ssl"),
        ),
        ("smtp://[::1]:2525", SmtpTarget("::1", 2525, None, None, "plain")),
    ],
)
def test_parse_smtp_url(url: str, target: SmtpTarget) -> None:
    assert parse_smtp_url(url) == target


def test_parse_decodes_user_and_password() -> None:
    target = parse_smtp_url("smtp+starttls://me%40example.com:p%40ss%3Aw%2Frd%20x@mx.example.com")
    assert target.username == "me@example.com"
    assert target.password == "p@ss:w/rd x"
    assert target.port == 587
    assert "p@ss" not in repr(target)  # a logged target does not leak the password


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://u:s3cret-pw@mail.example.com", "scheme"),
        ("mail.example.com:25", "scheme"),
        ("", "scheme"),
        ("smtp://", "no host"),
        ("smtp://u:s3cret-pw@:25", "no host"),
        ("smtp://u:s3cret-pw@mail.example.com:abc", "port"),
        ("smtp://u:s3cret-pw@mail.example.com:99999", "port"),
        ("smtp://u:s3cret-pw@mail.example.com:0", "port"),
        ("smtp://u:s3cret/pw@mail.example.com", "percent-encode"),
        ("smtp://u:s3cret-pw@mail.example.com/path?x=1", "percent-encode"),
        ("smtp://u:s3cret-pw@[::1", "host or port"),
    ],
)
def test_bad_urls_name_the_problem_but_not_the_password(url: str, problem: str) -> None:
    with pytest.raises(MailConfigError) as raised:
        parse_smtp_url(url)
    assert problem in str(raised.value)
    assert "s3cret" not in str(raised.value)
    assert isinstance(raised.value, ValueError)
