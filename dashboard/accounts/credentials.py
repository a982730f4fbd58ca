"""Random tokens and their digests: what a cookie or a client holds, and what SQL keeps.

Session cookies and API tokens are 256-bit random values, so a plain SHA-256 is enough to
store them (a stolen table cannot be turned back into working tokens); passwords, which are
guessable, get argon2 instead.
"""

import hashlib
import hmac
import secrets


def new_token(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(32)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def same(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison; a missing value never matches."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())
