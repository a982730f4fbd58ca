"""`dashboard create-admin EMAIL`: promote a user to admin, or create one."""

import getpass
import sys

from pydantic import ValidationError
from sqlmodel import Session

from dashboard.accounts import users
from dashboard.accounts.users import Credentials
from dashboard.db import make_engine
from dashboard.settings import Settings
from dashboard.submissions import field_errors

# Stands in for the password while only the e-mail is checked, before asking for one.
PLACEHOLDER_PASSWORD = "p" * users.MIN_PASSWORD_LENGTH


class AdminSetupError(Exception):
    """Why no admin was made, in words for the terminal."""


def setup_admin(settings: Settings, email: str, *, password_stdin: bool) -> str:
    engine = make_engine(settings.effective_database_url)
    try:
        with Session(engine) as session:
            existing = users.find_by_email(session, email=email)
            password = None
            if existing is None or password_stdin:
                _validate(email, PLACEHOLDER_PASSWORD)  # a mistyped address, said at once
                password = _read_password(password_stdin)
                _validate(email, password)
            user, created = users.make_admin(session, email=email, password=password)
    finally:
        engine.dispose()
    return f"{'created admin' if created else 'made admin'} {user.email}"


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not sys.stdin.isatty():
        raise AdminSetupError("no terminal to ask for a password: use --password-stdin")
    first = getpass.getpass("Password for the new admin: ")
    if getpass.getpass("Once more: ") != first:
        raise AdminSetupError("the two passwords differ")
    return first


def _validate(email: str, password: str) -> None:
    try:
        Credentials(email=email, password=password)
    except ValidationError as error:
        reasons = "; ".join(f"{field}: {text}" for field, text in field_errors(error).items())
        raise AdminSetupError(reasons) from error
