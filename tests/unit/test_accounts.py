"""Accounts without HTTP: passwords, users, sessions, tokens, the login throttle, migrations."""

import logging
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from redis import Redis
from sqlalchemy import text
from sqlmodel import Session

from dashboard import migrate
from dashboard.accounts import sessions, tokens, users
from dashboard.accounts.crossorigin import from_another_site
from dashboard.accounts.lookalikes import (
    COMBINING,
    COMPATIBILITY,
    INVISIBLE,
    MIXED,
    lookalike_reason,
)
from dashboard.accounts.passwords import hash_password, verify_password
from dashboard.accounts.throttle import (
    REGISTRATION_KEY_PREFIX,
    AddressLimit,
    LoginThrottle,
    describe_wait,
)
from dashboard.db import make_engine
from dashboard.errors import login_url
from dashboard.models import LoginSession, Task, utcnow
from dashboard.redisserver import EmbeddedRedis
from dashboard.routes.auth import safe_next
from tests.processes import free_port

PASSWORD = "correct horse battery"


def test_passwords_are_argon2id_and_only_the_right_one_verifies() -> None:
    hashed = hash_password(PASSWORD)
    assert hashed.startswith("$argon2id$") and PASSWORD not in hashed
    assert verify_password(hashed, PASSWORD)
    assert not verify_password(hashed, PASSWORD + "!")
    assert not verify_password(None, PASSWORD)  # unknown user: a decoy hash is checked
    assert not verify_password("not a hash", PASSWORD)


def test_users_register_once_per_email_whatever_its_case(session: Session) -> None:
    user = users.register(session, email=" Ann@Example.COM ", password=PASSWORD)
    assert user.email == "ann@example.com" and not user.is_admin
    with pytest.raises(users.EmailTaken):
        users.register(session, email="ann@example.com", password=PASSWORD)
    assert users.authenticate(session, email="ANN@example.com", password=PASSWORD) == user
    assert users.authenticate(session, email="ann@example.com", password="wrong one") is None
    assert users.authenticate(session, email="bob@example.com", password=PASSWORD) is None


@pytest.mark.parametrize(
    ("registered", "typed"),
    [
        ("a@xn--bcher-kva.example", "a@xn--bcher-kva.example"),  # Punycode: kept in Unicode
        ("a@xn--bcher-kva.example", "A@Bücher.example"),
        ("zoe\u0301@example.com", "zoe\u0301@example.com"),  # kept composed (NFC)
        ("zoe\u0301@example.com", "zo\u00e9@example.com"),
    ],
)
def test_a_login_finds_the_account_by_the_address_registered_however_written(
    session: Session, registered: str, typed: str
) -> None:
    email = users.Credentials(email=registered, password=PASSWORD).email  # as the routes do
    users.register(session, email=email, password=PASSWORD)
    assert users.authenticate(session, email=typed, password=PASSWORD) is not None


def test_make_admin_creates_or_promotes(session: Session) -> None:
    created, was_new = users.make_admin(session, email="boss@example.com", password=PASSWORD)
    assert was_new and created.is_admin
    plain = users.register(session, email="ann@example.com", password=PASSWORD)
    promoted, was_new = users.make_admin(session, email="ann@example.com", password=None)
    assert not was_new and promoted.id == plain.id and promoted.is_admin
    assert users.authenticate(session, email="ann@example.com", password=PASSWORD) is not None
    with pytest.raises(ValueError, match="needs a password"):
        users.make_admin(session, email="new@example.com", password=None)


def test_sessions_are_found_by_cookie_until_they_expire_or_end(session: Session) -> None:
    user = users.register(session, email="ann@example.com", password=PASSWORD)
    assert user.id is not None
    cookie, login = sessions.start(session, user_id=user.id, lifetime=timedelta(hours=1))
    assert login.token_hash != cookie and login.csrf_token
    found = sessions.find(session, cookie=cookie)
    assert found is not None and found[1].id == user.id
    assert sessions.find(session, cookie=cookie + "x") is None
    sessions.end(session, cookie=cookie)
    assert sessions.find(session, cookie=cookie) is None
    stale, _ = sessions.start(session, user_id=user.id, lifetime=timedelta(seconds=-1))
    assert sessions.find(session, cookie=stale) is None
    sessions.start(session, user_id=user.id, lifetime=timedelta(hours=1))
    # The next login of the user cleared the expired row away.
    assert session.get(LoginSession, login.token_hash) is None


def test_tokens_work_until_revoked_and_only_their_owner_revokes(session: Session) -> None:
    ann = users.register(session, email="ann@example.com", password=PASSWORD)
    bob = users.register(session, email="bob@example.com", password=PASSWORD)
    assert ann.id is not None and bob.id is not None
    plain, token = tokens.create(session, user_id=ann.id, name="script", lifetime=None, most=5)
    assert token.expires_at is None
    assert plain.startswith("dsh_") and token.token_hash != plain and plain.startswith(token.prefix)
    found = tokens.find(session, plain=plain)
    assert found is not None and found[1] == ann
    assert tokens.list_for(session, user_id=ann.id)[0].last_used_at is not None
    assert token.id is not None
    assert not tokens.revoke(session, user_id=bob.id, token_id=token.id)
    assert tokens.revoke(session, user_id=ann.id, token_id=token.id)
    assert tokens.find(session, plain=plain) is None
    assert not tokens.revoke(session, user_id=ann.id, token_id=token.id)


def test_a_token_works_until_it_expires(session: Session) -> None:
    ann = users.register(session, email="ann@example.com", password=PASSWORD)
    assert ann.id is not None
    week = timedelta(days=7)
    plain, token = tokens.create(session, user_id=ann.id, name="ci", lifetime=week, most=5)
    assert token.expires_at is not None
    assert week - timedelta(minutes=1) < token.expires_at - utcnow() <= week
    assert tokens.find(session, plain=plain) is not None
    token.expires_at = utcnow() - timedelta(seconds=1)
    session.add(token)
    session.commit()
    assert tokens.find(session, plain=plain) is None
    assert tokens.has_expired(session, plain=plain)
    assert not tokens.has_expired(session, plain=plain + "x")
    assert tokens.count_live(session, user_id=ann.id) == 0


def test_a_user_holds_at_most_so_many_live_tokens(session: Session) -> None:
    ann = users.register(session, email="ann@example.com", password=PASSWORD)
    bob = users.register(session, email="bob@example.com", password=PASSWORD)
    assert ann.id is not None and bob.id is not None
    made = [tokens.create(session, user_id=ann.id, name=f"t{n}", lifetime=None, most=2)[1]
            for n in range(2)]  # fmt: skip
    with pytest.raises(tokens.TooManyTokens, match="2 live tokens"):
        tokens.create(session, user_id=ann.id, name="third", lifetime=None, most=2)
    tokens.create(session, user_id=bob.id, name="bob's", lifetime=None, most=2)  # his own count
    assert made[0].id is not None
    tokens.revoke(session, user_id=ann.id, token_id=made[0].id)  # a revoked one frees a place
    tokens.create(session, user_id=ann.id, name="third", lifetime=None, most=2)


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[Redis]:
    server = EmbeddedRedis(tmp_path / "redis")
    client = Redis.from_url(server.start())
    yield client
    client.close()
    server.stop()


def test_the_throttle_refuses_an_address_after_its_failures(redis: Redis) -> None:
    throttle = LoginThrottle(redis, limit=3, window_seconds=600)
    assert throttle.attempt("10.0.0.1", "ann@example.com") is None
    assert throttle.attempt("10.0.0.1", "ann@example.com") is None
    assert throttle.attempt("10.0.0.1", "bob@example.com") is None  # three failures
    refusal = throttle.attempt("10.0.0.1", "ann@example.com")
    assert refusal is not None and 590 <= refusal.seconds <= 600
    assert refusal.source == "from your address"
    assert throttle.attempt("10.0.0.2", "ann@example.com") is None  # another address is not


def test_failed_and_refused_logins_are_logged_without_what_was_typed(
    redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """For an operator (fail2ban, alerts): neither was logged (operator probe)."""
    throttle = LoginThrottle(redis, limit=1, window_seconds=600)
    caplog.set_level(logging.INFO, logger="dashboard.accounts.throttle")
    assert throttle.attempt("10.0.0.1", "typed-secret@example.com") is None
    throttle.failed("10.0.0.1", user_id=None)
    throttle.failed("10.0.0.1", user_id=42)
    assert throttle.attempt("10.0.0.1", "typed-secret@example.com") is not None
    said = [record.getMessage() for record in caplog.records]
    assert said[:2] == [
        "failed login to an unknown account from 10.0.0.1",
        "failed login to user 42 from 10.0.0.1",
    ]
    assert len(said) == 3 and re.fullmatch(
        r"login from 10\.0\.0\.1 refused for (59\d|600) s: "
        r"past its address's limit of failed logins",
        said[2],
    )
    assert "typed-secret" not in caplog.text


def test_attempts_sent_all_at_once_are_held_to_the_limit(redis: Redis) -> None:
    """Each attempt is counted as it is let through: twenty at once let five through."""
    throttle = LoginThrottle(redis, limit=5, window_seconds=600)
    with ThreadPoolExecutor(max_workers=20) as pool:
        waits = list(pool.map(lambda n: throttle.attempt("10.0.0.1", f"{n}@x.example"), range(20)))
    assert waits.count(None) == 5
    registrations = AddressLimit(redis, limit=3, window_seconds=3600)
    with ThreadPoolExecutor(max_workers=20) as pool:
        waits = list(pool.map(lambda _: registrations.take("10.0.0.1"), range(20)))
    assert waits.count(0) == 3


def test_a_login_forgives_only_the_failures_against_its_own_account(redis: Redis) -> None:
    throttle = LoginThrottle(redis, limit=3, window_seconds=600)
    throttle.attempt("10.0.0.1", "ann@example.com")  # two wrong guesses at ann
    throttle.attempt("10.0.0.1", "ann@example.com")
    assert throttle.attempt("10.0.0.1", "me@example.com") is None
    throttle.forgive("10.0.0.1", "me@example.com")  # the guesser logs in as themselves
    assert throttle.attempt("10.0.0.1", "ann@example.com") is None  # the third guess
    assert throttle.attempt("10.0.0.1", "ann@example.com")  # the guesses at ann still count

    redis.flushall()
    throttle.attempt("10.0.0.1", "Ann@Example.com ")  # ann mistypes twice, then gets it right
    throttle.attempt("10.0.0.1", "ann@example.com")
    throttle.attempt("10.0.0.1", "ann@example.com")
    throttle.forgive("10.0.0.1", "ann@example.com")
    for _ in range(3):
        assert throttle.attempt("10.0.0.1", "ann@example.com") is None  # a fresh start
    throttle.forgive("10.0.0.1", "ann@example.com")
    assert redis.keys("*") == []  # nothing left behind once all is forgiven


def test_an_account_is_refused_after_its_failures_from_many_addresses(redis: Redis) -> None:
    """Guesses from many addresses (or addresses named in X-Forwarded-For) add up per account."""
    throttle = LoginThrottle(redis, limit=3, window_seconds=600, account_limit=5)
    for address in ("10.0.0.1", "10.0.0.2"):
        assert throttle.attempt(address, "ann@example.com") is None
        assert throttle.attempt(address, "Ann@Example.com") is None  # the same account
    assert throttle.attempt("10.0.0.3", "ann@example.com") is None  # the fifth failure
    refusal = throttle.attempt("10.0.0.4", "ann@example.com")  # even from a fresh address
    assert refusal is not None and refusal.source == "to this account"
    assert 590 <= refusal.seconds <= 600
    assert throttle.attempt("10.0.0.4", "bob@example.com") is None  # other accounts are not


def test_a_login_ends_its_accounts_run_of_failures(redis: Redis) -> None:
    throttle = LoginThrottle(redis, limit=10, window_seconds=600, account_limit=3)
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        throttle.attempt(address, "ann@example.com")
    throttle.forgive("10.0.0.1", "ann@example.com")  # ann, from where she is, gets it right
    for address in ("10.0.0.2", "10.0.0.4", "10.0.0.5"):
        assert throttle.attempt(address, "ann@example.com") is None  # a new run of three
    refusal = throttle.attempt("10.0.0.6", "ann@example.com")
    assert refusal is not None and refusal.source == "to this account"


def test_attempts_an_address_may_not_make_do_not_count_against_the_account(
    redis: Redis,
) -> None:
    """Else one address, refused after its own few, could shut anyone's account."""
    throttle = LoginThrottle(redis, limit=2, window_seconds=600, account_limit=4)
    for _ in range(20):
        throttle.attempt("10.0.0.1", "ann@example.com")  # two go ahead, eighteen are refused
    assert throttle.attempt("10.0.0.2", "ann@example.com") is None  # the third
    assert throttle.attempt("10.0.0.3", "ann@example.com") is None  # the fourth
    refusal = throttle.attempt("10.0.0.4", "ann@example.com")
    assert refusal is not None and refusal.source == "to this account"


def test_registrations_are_limited_per_address_apart_from_logins(redis: Redis) -> None:
    registrations = AddressLimit(redis, limit=2, window_seconds=3600)
    logins = LoginThrottle(redis, limit=2, window_seconds=600)
    assert registrations.take("10.0.0.1") == 0
    assert registrations.take("10.0.0.1") == 0
    assert 3590 <= registrations.take("10.0.0.1") <= 3600
    assert logins.attempt("10.0.0.1", "ann@example.com") is None  # a separate count
    assert registrations.take("10.0.0.2") == 0
    assert redis.exists(REGISTRATION_KEY_PREFIX + "10.0.0.1")


def test_the_throttle_steps_aside_when_redis_is_down() -> None:
    down = Redis(port=free_port(), socket_connect_timeout=0.5)
    throttle = LoginThrottle(down, limit=1, window_seconds=60)
    assert throttle.attempt("10.0.0.1", "ann@example.com") is None
    assert throttle.attempt("10.0.0.1", "ann@example.com") is None
    throttle.forgive("10.0.0.1", "ann@example.com")
    registrations = AddressLimit(down, limit=1, window_seconds=60)
    assert registrations.take("10.0.0.1") == 0 and registrations.take("10.0.0.1") == 0


def test_waits_are_said_in_words() -> None:
    assert describe_wait(1) == "1 s" and describe_wait(59) == "59 s"
    assert describe_wait(60) == "1 minute" and describe_wait(61) == "2 minutes"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/tasks/1?x=2", "/tasks/1?x=2"),
        (None, "/"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\\\evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("/\t/evil.example", "/"),
        ("/\n/evil.example", "/"),
        ("/tasks/\r\nSet-Cookie: x=1", "/"),
        ("/\x7f/evil.example", "/"),
        ("/?q=café", "/?q=café"),
        # They would send someone logged in on to themselves, for ever.
        ("/login?next=/login", "/"),
        ("/register", "/"),
        ("/login/../x", "/login/../x"),
    ],
)
def test_after_login_the_browser_goes_only_to_a_page_of_this_site(
    target: str | None, expected: str
) -> None:
    assert safe_next(target) == expected


def test_the_login_redirect_remembers_the_page_as_a_local_path() -> None:
    assert login_url("http://host:8000/tasks/abc?x=1") == "/login?next=%2Ftasks%2Fabc%3Fx%3D1"
    assert login_url("http://host:8000") == "/login?next=%2F"


@pytest.mark.parametrize(
    ("email", "reason"),
    [
        ("paul@example.com", None),
        ("иван@пример.рф", None),  # wholly Cyrillic
        ("δοκιμή@παράδειγμα.δοκιμή", None),  # wholly Greek
        ("taroたろう山田@example.jp", None),  # Latin beside kana and Han, as Japanese is written
        ("jörg.müller@bücher.de", None),  # accents are Latin
        ("\uff50aul@example.com", COMPATIBILITY),  # a fullwidth "p"
        ("\ufb01le@example.com", COMPATIBILITY),  # the ligature "fi"
        ("p\u0430ul@example.com", MIXED),  # a Cyrillic "a" in a Latin name
        ("paul@ex\u0430mple.com", MIXED),  # and in the domain
        ("\u03bfscar@example.com", MIXED),  # a Greek omicron for the "o"
        # Found by the probe of the first version, which looked at Latin, Cyrillic, Greek only:
        ("\u0585scar@example.com", MIXED),  # an Armenian "oh"
        ("paul@g\u0585\u0585gle.com", MIXED),
        ("\u13aalice@example.com", MIXED),  # a Cherokee "A"
        ("\ua4d1aul@example.com", MIXED),  # a Lisu "P"
        ("pau\u0661@example.com", MIXED),  # an Arabic-Indic one for the "l"
        ("pa\u034ful@example.com", INVISIBLE),  # a combining grapheme joiner
        ("pau\ufe0fl@example.com", INVISIBLE),  # a variation selector
        ("\u3164paul@example.com", INVISIBLE),  # a Hangul filler
        ("\u0130van@example.com", COMBINING),  # kept lower-cased: "i" and a combining dot
        ("e\u0301mile@example.com", None),  # composes to an "é"
        ("\u0648\u0644\u064a\u062f\u0663@\u0645\u062b\u0627\u0644.\u0645\u0635\u0631", None),
        ("\u0905\u091c\u092f@example.in", None),  # Devanagari, with its vowel signs
        ("\uc0ac\uc6a9\uc790@\uc608\uc2dc.kr", None),  # Hangul
    ],
)
def test_an_address_that_could_pass_for_another_says_why(email: str, reason: str | None) -> None:
    assert lookalike_reason(email) == reason


HOST = {"host": "dash.example.com:8000"}


@pytest.mark.parametrize(
    ("headers", "refused"),
    [
        ({"sec-fetch-site": "same-origin"}, False),
        ({"sec-fetch-site": "none"}, False),  # typed or bookmarked: no page sent it
        ({"sec-fetch-site": "same-site"}, True),  # a sibling subdomain, another port
        ({"sec-fetch-site": "cross-site"}, True),
        # Sec-Fetch-Site wins: a browser that sends it computed it itself.
        ({"sec-fetch-site": "cross-site", "origin": "http://dash.example.com:8000"}, True),
        # An older browser: its Origin must be this host, port included.
        ({"origin": "http://dash.example.com:8000"}, False),
        ({"origin": "http://DASH.example.com:8000"}, False),
        ({"origin": "http://dash.example.com:9000"}, True),
        ({"origin": "http://evil.example.com:8000"}, True),
        ({"origin": "null"}, True),  # a sandboxed frame or a redirect across sites
        ({"origin": "http://[::1"}, True),  # unreadable: no browser sends it
        ({}, False),  # no browser, or one that says nothing: the CSRF token decides
    ],
)
def test_a_request_another_site_sent_is_told_by_the_browsers_headers(
    headers: dict[str, str], refused: bool
) -> None:
    assert from_another_site(HOST | headers) is refused


def test_an_existing_database_upgrades_in_place_keeping_its_tasks(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(migrate.alembic_config(url), "0001")  # a database from before accounts
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO task (id, kind, params, state, queued_at, attempts) "
                """VALUES ('old-1', 'pi', '{"digits": 5}', 'SUCCESS', '2026-11-01 10:00:00', 1)"""
            )
        )
    migrate.upgrade(url)
    with Session(engine) as session:
        kept = session.get(Task, "old-1")
    engine.dispose()
    assert kept is not None and kept.params == {"digits": 5} and kept.state == "SUCCESS"
    assert kept.owner_id is None and kept.notify_email is False and kept.file_expired_at is None
