"""E-mail a task's owner when the task has finished, because they asked to be told.

A Celery task composes the message and delivers it. Delivery either goes through an SMTP
server named by an URL, or, on the embedded default where there is no server, into an outbox
folder as .eml files a person can open. Every failure raises: the calling task decides whether
to retry, and a notice that silently went nowhere would be worse than one that arrives late.

This module needs only the standard library and Jinja2, so a worker can use it without the
web application.
"""

import os
import secrets
import smtplib
import ssl
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Literal
from urllib.parse import SplitResult, unquote, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from dashboard.rendering import human_duration

Security = Literal["plain", "starttls", "ssl"]

_TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
# Plain text, not HTML: escaping would turn "&" in a title into "&amp;" in the reader's mail.
_TEXT = Environment(
    loader=FileSystemLoader(_TEMPLATES_DIR),
    autoescape=False,
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)
_SCHEMES: dict[str, tuple[Security, int]] = {
    "smtp": ("plain", 25),
    "smtp+starttls": ("starttls", 587),
    "smtps": ("ssl", 465),
}
_UNKNOWN = "unknown"
_ENCODE_HINT = "percent-encode any of ':/?#@' in the user name or password"


@dataclass(frozen=True)
class TaskNotice:
    task_id: str
    title: str  # the task's name as a person reads it, e.g. "pi to 1,000 digits"
    state: str  # "SUCCESS", "FAILURE", "REVOKED", "LOST"
    error: str | None
    runtime_seconds: float | None
    finished_at: datetime | None
    url: str  # absolute link to the task's status page


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    username: str | None
    # Kept out of repr so that logging a target never writes the password to a log.
    password: str | None = field(repr=False)
    security: Security

    def describe(self) -> str:
        """Where mail goes, without credentials: fit for a log line."""
        scheme = next(name for name, (kind, _) in _SCHEMES.items() if kind == self.security)
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"


class MailConfigError(ValueError):
    """SMTP_URL cannot be understood; the message names the problem but never the password."""


def compose(notice: TaskNotice, *, sender: str, recipient: str) -> EmailMessage:
    message = EmailMessage()
    title = _one_line(notice.title) or notice.task_id
    message["Subject"] = f"[dashboard] {title}: {_one_line(notice.state)}"
    message["From"] = sender
    message["To"] = recipient
    # The sending time, not the finish time: the finish time is in the body, and a Date in the
    # past would sort a retried notice among old mail.
    message["Date"] = format_datetime(datetime.now(UTC))
    # An explicit domain: without one make_msgid asks DNS for this host's name, which can hang.
    message["Message-ID"] = make_msgid(domain=_domain_of(sender))
    message.set_content(_render_body(notice, title))
    return message


def _one_line(text: str) -> str:
    """Header values may not span lines; the default policy raises rather than let a title
    with CR/LF inject headers, so join the lines (splitlines knows every line break)."""
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def _domain_of(address: str) -> str:
    _, bare = parseaddr(address)
    domain = bare.rpartition("@")[2]
    return domain or "dashboard.invalid"


def _render_body(notice: TaskNotice, title: str) -> str:
    return _TEXT.get_template("mail/task_finished.txt").render(
        title=title,
        state=notice.state,
        runtime=_runtime(notice.runtime_seconds),
        finished=_utc(notice.finished_at),
        error=notice.error,
        url=notice.url,
    )


def _runtime(seconds: float | None) -> str:
    # As the page says it ("7 ms", "2.4 s", "3 min 5 s").
    return _UNKNOWN if seconds is None else human_duration(seconds)


def _utc(moment: datetime | None) -> str:
    if moment is None:
        return _UNKNOWN
    # A naive value is taken as UTC: that is how the database stores every time.
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def parse_smtp_url(url: str) -> SmtpTarget:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        # urllib's own messages may quote the netloc, and with it the password.
        raise MailConfigError(
            f"SMTP_URL: the host or port cannot be read; {_ENCODE_HINT}"
        ) from None
    if parts.scheme not in _SCHEMES:
        known = ", ".join(f"{name}://" for name in _SCHEMES)
        raise MailConfigError(f"SMTP_URL: scheme must be one of {known}, not {parts.scheme!r}")
    security, default_port = _SCHEMES[parts.scheme]
    host = _checked_host(parts, port)
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    return SmtpTarget(host, port or default_port, username, password, security)


def _checked_host(parts: SplitResult, port: int | None) -> str:
    """The host, once the rest of the URL has been found to hold nothing unexpected."""
    if not parts.hostname:
        raise MailConfigError("SMTP_URL: no host given")
    if port == 0:
        raise MailConfigError("SMTP_URL: port 0 cannot be connected to")
    # A stray path or query usually means an unencoded "/", "?" or "#" in the password.
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise MailConfigError(f"SMTP_URL: unexpected text after the host; {_ENCODE_HINT}")
    return parts.hostname


def deliver(
    message: EmailMessage, *, smtp_url: str | None, outbox: Path, timeout: float = 10.0
) -> str:
    """Sends or files one message and says where it went; raises on any failure."""
    if smtp_url is None:
        return str(_write_to_outbox(message, outbox))
    target = parse_smtp_url(smtp_url)
    _send(message, target, timeout)
    return target.describe()


def _write_to_outbox(message: EmailMessage, outbox: Path) -> Path:
    outbox.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    final = outbox / f"{stamp}-{secrets.token_hex(6)}.eml"
    # A temporary name in the same folder, then a rename: the rename is atomic on one file
    # system, so a reader listing *.eml never opens half a message.
    with tempfile.NamedTemporaryFile(dir=outbox, suffix=".tmp", delete=False) as partial:
        try:
            partial.write(message.as_bytes())
            partial.flush()
            os.fsync(partial.fileno())
        except BaseException:
            Path(partial.name).unlink(missing_ok=True)
            raise
    Path(partial.name).replace(final)
    return final


def _send(message: EmailMessage, target: SmtpTarget, timeout: float) -> None:
    # smtplib's own default context does not verify certificates; this one does.
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if target.security == "ssl":
        client = smtplib.SMTP_SSL(target.host, target.port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(target.host, target.port, timeout=timeout)
    with client:
        if target.security == "starttls":
            # Raises SMTPNotSupportedError if the server offers no STARTTLS: never fall back
            # to sending in the clear.
            client.starttls(context=context)
        if target.username is not None:
            client.login(target.username, target.password or "")
        refused = client.send_message(message)
        # send_message only raises when every recipient is refused; a partial refusal is
        # still a notice that did not arrive.
        if refused:
            raise smtplib.SMTPRecipientsRefused(refused)
