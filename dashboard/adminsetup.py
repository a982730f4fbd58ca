"""`dashboard create-admin EMAIL`: promote a user to admin, or create one.
`dashboard reset-password EMAIL`: an operator's reset, which leaves the account's role alone."""

import getpass
import sys

from pydantic import ValidationError
from redis import Redis
from sqlmodel import Session

from dashboard import loginends
from dashboard.accounts import sessions, tokens, users
from dashboard.accounts.users import Credentials
from dashboard.accounts.viewer import session_login, token_login
from dashboard.db import engine_for
from dashboard.models import User
from dashboard.redisserver import embedded_url
from dashboard.settings import Settings
from dashboard.submissions import field_errors

# Stands in for the password while only the e-mail is checked, before asking for one.
PLACEHOLDER_PASSWORD = "p" * users.MIN_PASSWORD_LENGTH


class AdminSetupError(Exception):
    """Why no admin was made, in words for the terminal."""


def setup_admin(settings: Settings, email: str, *, password_stdin: bool) -> str:
    engine = engine_for(settings)
    try:
        with Session(engine) as session:
            existing = users.find_by_email(session, email=email)
            password = None
            if existing is None or password_stdin:
                _validate(email, PLACEHOLDER_PASSWORD)  # a mistyped address, said at once
                password = _read_password(password_stdin, email)
            user, created = users.make_admin(session, email=email, password=password)
            said = f"{'created admin' if created else 'made admin'} {user.email}"
            if password is not None and not created:
                said += _end_logins(settings, session, user)
    finally:
        engine.dispose()
    return said


def reset_password(settings: Settings, email: str, *, password_stdin: bool) -> str:
    """Replaces an existing account's password and ends its logins (create-admin with a
    password did the same, but made the account an admin too: operator probe)."""
    engine = engine_for(settings)
    try:
        with Session(engine) as session:
            user = users.find_by_email(session, email=email)
            if user is None:
                raise AdminSetupError(f"no account has the e-mail {email}")
            password = _read_password(password_stdin, email, for_whom="the account")
            users.set_password(session, user, password)
            return f"reset the password of {user.email}" + _end_logins(settings, session, user)
    finally:
        engine.dispose()


def _end_logins(settings: Settings, session: Session, user: User) -> str:
    """A password set by an operator (a reset, after a loss or a theft) ends every login of
    the account: its sessions and its tokens, with their event streams where Redis answers."""
    assert user.id is not None
    sessions_ended = sessions.end_all(session, user_id=user.id)
    tokens_revoked = tokens.revoke_all(session, user_id=user.id)
    ended = [session_login(key) for key in sessions_ended]
    ended += [token_login(token) for token in tokens_revoked]
    said = (
        f"; password replaced, {_count(len(sessions_ended), 'session')} ended and "
        f"{_count(len(tokens_revoked), 'API token')} revoked"
    )
    url = settings.redis_url or embedded_url(settings.state_dir)
    if url is None or not ended:
        return said
    with Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5) as redis:
        told = loginends.announce_to(redis, ended, max_length=settings.event_log_length)
    if not told:
        return f"{said} (their open event streams end at their next reconnect)"
    return f"{said}, with their event streams"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _read_password(from_stdin: bool, email: str, for_whom: str = "the new admin") -> str:
    """Checked before it is asked for again: a short one was refused only after being typed
    twice (QA)."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
        _validate(email, password)
        return password
    if not sys.stdin.isatty():
        raise AdminSetupError("no terminal to ask for a password: use --password-stdin")
    first = getpass.getpass(f"Password for {for_whom}: ")
    _validate(email, first)
    if getpass.getpass("Once more: ") != first:
        raise AdminSetupError("the two passwords differ")
    return first


def _validate(email: str, password: str) -> None:
    try:
        Credentials(email=email, password=password)
    except ValidationError as error:
        reasons = "; ".join(f"{field}: {text}" for field, text in field_errors(error).items())
        raise AdminSetupError(reasons) from error
