"""Personal API tokens: made and revoked on the account page, sent as `Authorization: Bearer`.

The token is shown once when it is made; SQL keeps its digest and a short prefix to tell
tokens apart. A token is live until it is revoked or its expiry passes.
"""

from datetime import timedelta

from sqlalchemy import ColumnElement, and_, func, or_
from sqlmodel import Session, col, select, update

from dashboard.accounts.credentials import digest, new_token
from dashboard.models import ApiToken, User, utcnow

TOKEN_PREFIX = "dsh_"
LAST_USED_PRECISION = timedelta(minutes=1)
SHOWN_PREFIX_LENGTH = 12
DEFAULT_LIFETIME_DAYS = 90
MAX_LIFETIME_DAYS = 3650


class TooManyTokens(Exception):
    """The user holds the most live tokens allowed: one must be revoked (or expire) first."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"you have {limit} live tokens, the most allowed; revoke one first")


def _live() -> ColumnElement[bool]:
    expires_at = col(ApiToken.expires_at)
    unexpired = or_(expires_at.is_(None), expires_at > utcnow())
    return and_(col(ApiToken.revoked_at).is_(None), unexpired)


def create(
    session: Session, *, user_id: int, name: str, lifetime: timedelta | None, most: int
) -> tuple[str, ApiToken]:
    """A new token lasting `lifetime` (None: until revoked); TooManyTokens when the user
    already holds `most` live ones."""
    if count_live(session, user_id=user_id) >= most:
        raise TooManyTokens(most)
    plain = new_token(TOKEN_PREFIX)
    token = ApiToken(
        user_id=user_id,
        name=name,
        token_hash=digest(plain),
        prefix=plain[:SHOWN_PREFIX_LENGTH],
        expires_at=None if lifetime is None else utcnow() + lifetime,
    )
    session.add(token)
    session.commit()
    session.refresh(token)
    return plain, token


def count_live(session: Session, *, user_id: int) -> int:
    query = select(func.count()).where(col(ApiToken.user_id) == user_id).where(_live())
    return session.exec(query).one()


def find(session: Session, *, plain: str) -> tuple[ApiToken, User] | None:
    """A live token and the user it belongs to; notes when it was last used."""
    query = (
        select(ApiToken, User)
        .join(User, col(User.id) == col(ApiToken.user_id))
        .where(col(ApiToken.token_hash) == digest(plain))
        .where(_live())
    )
    found = session.exec(query).first()
    if found is None:
        return None
    token, user = found
    now = utcnow()
    # Noted at most once a minute: a busy script should not turn every read into a write.
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_PRECISION:
        token.last_used_at = now
        session.add(token)
        session.commit()
    return token, user


def has_expired(session: Session, *, plain: str) -> bool:
    """Whether this is a real token, unrevoked, whose time is up: its holder is told so (they
    hold the secret already), rather than a bare 'unknown'."""
    query = (
        select(ApiToken.id)
        .where(col(ApiToken.token_hash) == digest(plain))
        .where(col(ApiToken.revoked_at).is_(None))
        .where(col(ApiToken.expires_at) <= utcnow())
    )
    return session.exec(query).first() is not None


def list_for(session: Session, *, user_id: int) -> list[ApiToken]:
    query = (
        select(ApiToken)
        .where(col(ApiToken.user_id) == user_id)
        .order_by(col(ApiToken.created_at).desc(), col(ApiToken.id).desc())
    )
    return list(session.exec(query))


def revoke(session: Session, *, user_id: int, token_id: int) -> bool:
    """Revokes one of this user's live tokens; False if there is no such token."""
    statement = (
        update(ApiToken)
        .where(col(ApiToken.id) == token_id)
        .where(col(ApiToken.user_id) == user_id)
        .where(col(ApiToken.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )
    changed = session.exec(statement).rowcount
    session.commit()
    return bool(changed)


def revoke_all(session: Session, *, user_id: int) -> list[int]:
    """Revokes every live token of this user (a password reset by an operator); their ids."""
    query = (
        select(ApiToken.id)
        .where(col(ApiToken.user_id) == user_id)
        .where(col(ApiToken.revoked_at).is_(None))
    )
    revoked = [token_id for token_id in session.exec(query) if token_id is not None]
    if revoked:
        statement = (
            update(ApiToken).where(col(ApiToken.id).in_(revoked)).values(revoked_at=utcnow())
        )
        session.exec(statement)
    session.commit()
    return revoked
