"""Login sessions: the cookie holds a random token, SQL holds its digest, the user and expiry.

Nothing about the user is in the cookie, so there is nothing in it to forge or to read, and
logging out (or expiry) ends the session on the server, not only in the browser.
"""

from datetime import timedelta

from sqlmodel import Session, col, delete, select

from dashboard.accounts.credentials import digest, new_token
from dashboard.accounts.viewer import session_login
from dashboard.models import LoginSession, User, utcnow


def start(session: Session, *, user_id: int, lifetime: timedelta) -> tuple[str, LoginSession]:
    """Returns the cookie value (shown to no one else, stored nowhere) and the session row."""
    cookie = new_token()
    login = LoginSession(
        token_hash=digest(cookie),
        user_id=user_id,
        csrf_token=new_token(),
        expires_at=utcnow() + lifetime,
    )
    session.add(login)
    session.commit()
    _forget_expired(session, user_id=user_id)
    return cookie, login


def find(session: Session, *, cookie: str) -> tuple[LoginSession, User] | None:
    query = (
        select(LoginSession, User)
        .join(User, col(User.id) == col(LoginSession.user_id))
        .where(col(LoginSession.token_hash) == digest(cookie))
        .where(col(LoginSession.expires_at) > utcnow())
    )
    found = session.exec(query).first()
    return (found[0], found[1]) if found else None


def end(session: Session, *, cookie: str) -> str | None:
    """Ends the session this cookie names; its key (digest), or None if there was none."""
    token_hash = digest(cookie)
    ended = session.exec(delete(LoginSession).where(col(LoginSession.token_hash) == token_hash))
    session.commit()
    return token_hash if ended.rowcount else None


def end_all(session: Session, *, user_id: int, but: str = "") -> list[str]:
    """Ends every session of this user but the one whose login is `but` (after a password
    change, the one that changed it); the keys (digests) of those ended."""
    query = select(LoginSession.token_hash).where(col(LoginSession.user_id) == user_id)
    ended = [key for key in session.exec(query) if session_login(key) != but]
    if ended:
        session.exec(delete(LoginSession).where(col(LoginSession.token_hash).in_(ended)))
    session.commit()
    return ended


def _forget_expired(session: Session, *, user_id: int) -> None:
    """Expired rows of this user go at their next login, so the table does not only grow."""
    statement = (
        delete(LoginSession)
        .where(col(LoginSession.user_id) == user_id)
        .where(col(LoginSession.expires_at) <= utcnow())
    )
    session.exec(statement)
    session.commit()
