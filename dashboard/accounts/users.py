"""Users: register, authenticate, make admins. Keyword-only data access, no HTTP."""

from collections.abc import Iterable

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from dashboard.accounts.lookalikes import lookalike_reason
from dashboard.accounts.passwords import hash_password, needs_rehash, verify_password
from dashboard.models import User
from dashboard.storabletext import StorableText

MIN_PASSWORD_LENGTH = 8
# argon2 hashes any length, but a megabyte "password" is a cheap way to make the server work.
MAX_PASSWORD_LENGTH = 1024


class Credentials(BaseModel):
    """What registration takes, from a form or from JSON (and create-admin from its options)."""

    model_config = ConfigDict(extra="forbid")  # a misspelt field is refused, not dropped
    email: EmailStr = Field(max_length=320)
    password: StorableText = Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)

    @field_validator("email")
    @classmethod
    def _not_a_lookalike(cls, email: str) -> str:
        reason = lookalike_reason(email)
        if reason is not None:
            raise ValueError(reason)
        return email


class EmailTaken(ValueError):
    """Another account already has this e-mail."""


def normalize_email(email: str) -> str:
    """The form an account's e-mail is kept in: as registration's check leaves it (a domain in
    Unicode, not Punycode; letters composed, NFC), then in lower case. So a login finds the
    account by the very address that was registered, however it was written."""
    stripped = email.strip()
    try:
        normalized = validate_email(stripped, check_deliverability=False).normalized
    except EmailNotValidError:  # no account has it; it is looked up as it is, and not found
        normalized = stripped
    return normalized.lower()


def find_by_email(session: Session, *, email: str) -> User | None:
    if "\x00" in email:  # no account has one, and PostgreSQL refuses it in a query
        return None
    query = select(User).where(col(User.email) == normalize_email(email))
    return session.exec(query).first()


def register(session: Session, *, email: str, password: str, is_admin: bool = False) -> User:
    """Raises EmailTaken when another account has the e-mail (checked first, so no password
    is hashed for nothing; the unique index catches two registrations racing)."""
    if find_by_email(session, email=email) is not None:
        raise EmailTaken(email)
    user = User(
        email=normalize_email(email), password_hash=hash_password(password), is_admin=is_admin
    )
    session.add(user)
    try:
        session.commit()
    except IntegrityError as error:  # two registrations racing for one e-mail
        session.rollback()
        raise EmailTaken(email) from error
    session.refresh(user)
    return user


def authenticate(session: Session, *, email: str, password: str) -> User | None:
    user = find_by_email(session, email=email)
    return user if password_matches(session, user, password) else None


def password_matches(session: Session, user: User | None, password: str) -> bool:
    """Checked against a stand-in hash when there is no such user, so the answer takes as long
    either way; a hash made with older parameters is made again."""
    if not verify_password(user.password_hash if user else None, password):
        return False
    assert user is not None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        session.add(user)
        session.commit()
    return True


def set_password(session: Session, user: User, password: str) -> None:
    user.password_hash = hash_password(password)
    session.add(user)
    session.commit()


def make_admin(session: Session, *, email: str, password: str | None) -> tuple[User, bool]:
    """Promotes an existing user (a new password is optional) or creates one; True if created."""
    user = find_by_email(session, email=email)
    if user is None:
        if password is None:
            raise ValueError("a new user needs a password")
        return register(session, email=email, password=password, is_admin=True), True
    user.is_admin = True
    if password is not None:
        user.password_hash = hash_password(password)
    session.add(user)
    session.commit()
    session.refresh(user)
    return user, False


def emails_by_id(session: Session, *, user_ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {user_id for user_id in user_ids if user_id is not None}
    if not wanted:
        return {}
    query = select(User.id, User.email).where(col(User.id).in_(wanted))
    return {user_id: email for user_id, email in session.exec(query) if user_id is not None}


# An account's e-mail never changes and accounts are never deleted, so a worker may keep what
# it looked up: the events of every task a user starts name them without another query.
_KNOWN_EMAILS: dict[int, str] = {}
KNOWN_EMAILS_LIMIT = 10_000


def email_of(session: Session, *, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    if user_id not in _KNOWN_EMAILS:
        found = emails_by_id(session, user_ids=[user_id])
        if user_id not in found:
            return None
        if len(_KNOWN_EMAILS) >= KNOWN_EMAILS_LIMIT:
            _KNOWN_EMAILS.clear()  # crude but bounded; lookups are cheap to redo
        _KNOWN_EMAILS[user_id] = found[user_id]
    return _KNOWN_EMAILS[user_id]
