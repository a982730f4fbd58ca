"""Registration, login, logout, CSRF, the login throttle and personal tokens, over real HTTP."""

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from redis import Redis
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from dashboard.accounts.throttle import (
    KEY_PREFIX,
    REGISTRATION_KEY_PREFIX,
    account_failures_key,
)
from dashboard.accounts.viewer import SESSION_COOKIE
from dashboard.models import ApiToken, LoginSession, User, utcnow
from dashboard.settings import Settings
from tests.accounts import (
    PASSWORD,
    Account,
    form_token,
    make_user,
    page_client,
    page_csrf,
    unique_email,
)

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def forget_registrations(redis_client: Redis) -> Iterator[None]:
    """Every test here comes from 127.0.0.1: its registrations must not count against the next's."""
    yield
    redis_client.delete(REGISTRATION_KEY_PREFIX + "127.0.0.1")


@pytest.fixture
def visitor(web: str) -> Iterator[httpx.Client]:
    """A fresh visitor: no cookies yet."""
    with httpx.Client(base_url=web, timeout=10) as client:
        yield client


def register(visitor: httpx.Client, email: str, password: str = PASSWORD) -> httpx.Response:
    visitor.cookies.delete(SESSION_COOKIE)  # as log_in does
    token = form_token(visitor.get("/register").text)
    form = {"email": email, "password": password, "csrf_token": token}
    return visitor.post("/register", data=form, headers={"HX-Request": "true"})


def log_in(
    visitor: httpx.Client, email: str, password: str, then: str = "/account"
) -> httpx.Response:
    """Logs in from a fresh login form (a visitor logged in already is first logged out of
    this client: the login page would send it on)."""
    visitor.cookies.delete(SESSION_COOKIE)
    token = form_token(visitor.get("/login").text)
    form = {"email": email, "password": password, "csrf_token": token, "next": then}
    return visitor.post("/login", data=form, headers={"HX-Request": "true"})


def test_register_logs_in_with_a_safe_cookie_and_an_argon2_hash(
    visitor: httpx.Client, engine: Engine
) -> None:
    email = unique_email("new")
    answer = register(visitor, email.upper())
    assert answer.status_code == 204 and answer.headers["HX-Redirect"] == "/"
    cookie = answer.headers["set-cookie"].lower()
    assert "dashboard_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert "max-age=" in cookie and "secure" not in cookie  # plain http here
    assert visitor.get("/api/me").json()["email"] == email  # stored lower-cased
    with Session(engine) as session:
        user = session.exec(select(User).where(col(User.email) == email)).one()
        assert user.password_hash.startswith("$argon2id$")
        # The cookie holds a random token; the table holds only its digest.
        stored = session.exec(select(LoginSession).where(LoginSession.user_id == user.id)).one()
        assert stored.token_hash not in cookie and len(stored.token_hash) == 64


def test_two_session_cookies_are_taken_as_no_login(web: str, engine: Engine) -> None:
    """Security probe: a page on a sibling subdomain or another port planted its own session
    cookie beside the victim's, and the server took the last one sent: the victim worked as
    the planter. Which of two is ours cannot be told, so neither is taken."""
    victim, planter = make_user(engine), make_user(engine)
    for pair in ((victim.cookie, planter.cookie), (planter.cookie, victim.cookie)):
        cookie = f"{SESSION_COOKIE}={pair[0]}; {SESSION_COOKIE}={pair[1]}"
        with httpx.Client(base_url=web, headers={"Cookie": cookie}, timeout=10) as client:
            assert client.get("/api/me").status_code == 401
            assert client.get("/").headers["location"].startswith("/login")
            # The login page is shown, not skipped as if logged in.
            assert client.get("/login").status_code == 200
    with httpx.Client(base_url=web, cookies=victim.cookies, timeout=10) as client:
        assert client.get("/api/me").json()["email"] == victim.email


def test_a_login_clears_session_cookies_planted_for_a_parent_domain(
    visitor: httpx.Client, user: Account
) -> None:
    """Over a name (not an address) a sibling host can set a cookie for the parent domain."""
    visitor.headers["Host"] = "dash.example.test"
    visitor.cookies.set(SESSION_COOKIE, "planted", domain="127.0.0.1")
    token = form_token(visitor.get("/login").text)
    form = {"email": user.email, "password": PASSWORD, "csrf_token": token}
    answer = visitor.post("/login", data=form, headers={"HX-Request": "true"})
    assert answer.status_code == 204
    set_cookies = answer.headers.get_list("set-cookie")
    for domain in ("dash.example.test", "example.test"):
        assert any(
            f"Domain={domain}" in line and "Max-Age=0" in line and line.startswith(SESSION_COOKIE)
            for line in set_cookies
        ), set_cookies
    assert any("Domain" not in line and "Max-Age=0" not in line for line in set_cookies)


def test_the_cookie_is_secure_when_served_over_https(visitor: httpx.Client) -> None:
    # uvicorn trusts X-Forwarded-Proto from loopback, as from a TLS-terminating proxy.
    token = form_token(visitor.get("/register").text)
    form = {"email": unique_email("tls"), "password": PASSWORD, "csrf_token": token}
    answer = visitor.post("/register", data=form, headers={"X-Forwarded-Proto": "https"})
    assert answer.status_code == 303 and "secure" in answer.headers["set-cookie"].lower()


@pytest.mark.parametrize(
    ("email", "password", "field", "message"),
    [
        ("not-an-address", PASSWORD, "email", "An email address must have an @-sign."),
        ("", PASSWORD, "email", "fill this in"),
        ("someone@example.com", "short", "password", "at least 8 characters"),
        ("someone@example.com", "", "password", "fill this in"),
    ],
)
def test_bad_registrations_say_why_beside_the_field(
    visitor: httpx.Client, email: str, password: str, field: str, message: str
) -> None:
    answer = register(visitor, email, password)
    assert answer.status_code == 422
    assert f'id="register-{field}-error"' in answer.text and message in answer.text


def test_a_taken_email_is_refused_with_a_clear_message(
    visitor: httpx.Client, user: Account
) -> None:
    answer = register(visitor, user.email)
    assert answer.status_code == 422 and "exists already" in answer.text


def test_registrations_from_one_address_are_limited(
    visitor: httpx.Client, user: Account, redis_client: Redis, web: str
) -> None:
    redis_client.set(REGISTRATION_KEY_PREFIX + "127.0.0.1", 8, ex=3600)  # 8 this hour
    assert register(visitor, unique_email("ninth")).status_code == 204
    assert register(visitor, user.email).status_code == 422  # the tenth: taken, still counted
    short = register(visitor, unique_email("typo"), "short")  # a typo is answered, not counted
    assert short.status_code == 422 and "at least 8 characters" in short.text
    email = unique_email("eleventh")
    refused = register(visitor, email)
    assert refused.status_code == 429 and refused.headers["Retry-After"].isdigit()
    assert "Too many registrations from your address. Try again in 60 minutes." in refused.text
    assert f'value="{email}"' in refused.text  # what was typed is kept
    with httpx.Client(base_url=web, timeout=10) as client:
        api = client.post("/api/users", json={"email": email, "password": PASSWORD})
        assert api.status_code == 429 and "too many registrations" in api.json()["detail"]
        assert int(api.headers["Retry-After"]) > 3500
    # Logins have their own count.
    assert log_in(visitor, user.email, PASSWORD).status_code == 204


def test_login_and_logout(visitor: httpx.Client, user: Account, web: str) -> None:
    wrong = log_in(visitor, user.email, "not the password")
    assert wrong.status_code == 401 and "Wrong e-mail or password" in wrong.text
    answer = log_in(visitor, user.email, PASSWORD)
    assert answer.status_code == 204 and answer.headers["HX-Redirect"] == "/account"
    assert visitor.get("/api/me").json()["id"] == user.id
    # Logged in, the login and register pages send the browser on to where it was going.
    again = visitor.get("/login", params={"next": "/account"}, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == "/account"
    elsewhere = visitor.get("/login", params={"next": "//evil.example"}, follow_redirects=False)
    assert elsewhere.headers["location"] == "/"
    assert visitor.get("/register", follow_redirects=False).headers["location"] == "/"
    old_cookie = visitor.cookies["dashboard_session"]
    csrf = page_csrf(visitor.get("/").text)
    ended = visitor.post("/logout", headers={"X-CSRF-Token": csrf})
    assert ended.status_code == 303 and "dashboard_session" not in visitor.cookies
    gone = ended.headers["set-cookie"].lower()
    assert "max-age=0" in gone and "httponly" in gone and "samesite=lax" in gone
    # The session is ended on the server, not only forgotten by this visitor.
    with httpx.Client(base_url=web, cookies={"dashboard_session": old_cookie}) as replay:
        assert replay.get("/api/me").status_code == 401
        assert replay.get("/login").status_code == 200  # an ended session gets the form


@pytest.mark.parametrize(
    ("then", "redirect"),
    [
        ("/\t/evil.example", "/"),  # a browser drops the tab: //evil.example
        ("/\r\n/evil.example", "/"),  # no header may carry a newline
        ("/?q=café", "/?q=caf%C3%A9"),  # encoded as a 303's Location is
    ],
)
def test_after_an_htmx_login_the_browser_goes_only_to_a_page_of_this_site(
    visitor: httpx.Client, user: Account, then: str, redirect: str
) -> None:
    answer = log_in(visitor, user.email, PASSWORD, then)
    assert answer.status_code == 204 and answer.headers["HX-Redirect"] == redirect
    assert "dashboard_session=" in answer.headers["set-cookie"]


def test_login_refuses_an_address_after_repeated_failures(
    visitor: httpx.Client, user: Account, redis_client: Redis
) -> None:
    try:
        for _ in range(5):
            assert log_in(visitor, user.email, "wrong guess").status_code == 401
        refused = log_in(visitor, user.email, PASSWORD)  # even the right password, for now
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        assert "Too many failed logins from your address" in refused.text
        assert "Try again in 15 minutes" in refused.text
    finally:
        redis_client.delete(KEY_PREFIX + "127.0.0.1")
    assert log_in(visitor, user.email, PASSWORD).status_code == 204


def test_an_empty_current_password_is_asked_for_not_counted_as_a_guess(
    api: httpx.Client, user: Account, redis_client: Redis
) -> None:
    """QA: an empty field was "Wrong password." and one of the five tries."""
    change = {"current_password": "", "new_password": "a brand new passphrase"}
    failures = account_failures_key(user.email)
    try:
        empty = api.post("/account/password", data=change)
        assert empty.status_code == 422 and "Enter your current password." in empty.text
        assert int(redis_client.get(failures) or 0) == 0
        wrong = api.post("/account/password", data={**change, "current_password": "nope nope"})
        assert wrong.status_code == 422 and "Wrong password." in wrong.text
        assert int(redis_client.get(failures) or 0) == 1
    finally:
        redis_client.delete(failures, KEY_PREFIX + "127.0.0.1")


def test_guesses_from_many_addresses_add_up_against_the_account(
    visitor: httpx.Client, user: Account, redis_client: Redis
) -> None:
    """uvicorn believes X-Forwarded-For from 127.0.0.1 (a proxy on the same host), so a process
    here can name a new address for every guess; the account's own count still holds it."""
    addresses = ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"]
    failures = account_failures_key(user.email)
    try:
        for address in addresses[:3]:
            visitor.headers["X-Forwarded-For"] = address
            assert log_in(visitor, user.email, "wrong guess").status_code == 401
        assert int(redis_client.get(failures) or 0) == 3  # one count, whatever the address
        redis_client.set(failures, 100, keepttl=True)  # as if 97 more had come the same way
        visitor.headers["X-Forwarded-For"] = addresses[3]
        refused = log_in(visitor, user.email, PASSWORD)  # a fresh address, the right password
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        assert "Too many failed logins to this account" in refused.text
        body = {"email": user.email, "password": PASSWORD}
        by_api = visitor.post("/api/tokens", json=body)
        assert by_api.status_code == 429
        assert by_api.json()["detail"].startswith("too many failed logins to this account")
        redis_client.delete(failures)  # the window ends
        assert log_in(visitor, user.email, PASSWORD).status_code == 204
        assert not redis_client.exists(failures)  # a login ends the run of failures
    finally:
        redis_client.delete(failures, *(KEY_PREFIX + address for address in addresses))


def test_logging_in_to_your_own_account_does_not_reset_guesses_at_another(
    visitor: httpx.Client, user: Account, engine: Engine, redis_client: Redis
) -> None:
    guesser = make_user(engine)
    try:
        for _ in range(2):
            for _ in range(2):
                assert log_in(visitor, user.email, "wrong guess").status_code == 401
            assert log_in(visitor, guesser.email, PASSWORD).status_code == 204
        assert log_in(visitor, user.email, "wrong guess").status_code == 401
        assert log_in(visitor, user.email, "wrong guess").status_code == 429  # 5 guesses
    finally:
        redis_client.delete(*redis_client.keys(KEY_PREFIX + "*"))


def test_attempts_sent_all_at_once_do_not_get_past_the_limits(
    web: str, user: Account, redis_client: Redis
) -> None:
    """Each attempt counts before its slow password hash, so attempts sent at once are held
    to the limit as attempts sent one by one are."""

    def at_once(count: int, path: str, body: Callable[[int], dict[str, str]]) -> list[int]:
        def one(number: int) -> int:
            with httpx.Client(base_url=web, timeout=30) as client:
                return client.post(path, json=body(number)).status_code

        with ThreadPoolExecutor(max_workers=count) as pool:
            return sorted(pool.map(one, range(count)))

    try:
        guesses = at_once(12, "/api/tokens", lambda n: {"email": user.email, "password": f"g{n}"})
        assert guesses == [401] * 5 + [429] * 7
        redis_client.set(REGISTRATION_KEY_PREFIX + "127.0.0.1", 8, ex=3600)  # 8 this hour
        made = at_once(6, "/api/users", lambda n: {"email": unique_email(), "password": PASSWORD})
        assert made == [201] * 2 + [429] * 4
    finally:
        redis_client.delete(*redis_client.keys(KEY_PREFIX + "*"))


def test_forms_without_the_right_csrf_token_are_refused(
    web: str, user: Account, visitor: httpx.Client
) -> None:
    # Login and registration: the token must match the form's cookie.
    form_token(visitor.get("/login").text)
    forged = {"email": user.email, "password": PASSWORD, "csrf_token": "forged"}
    assert visitor.post("/login", data=forged).status_code == 403
    assert visitor.post("/register", data={**forged, "csrf_token": ""}).status_code == 403
    # A logged-in session: the header (htmx) or form field must carry the session's token.
    with httpx.Client(base_url=web, cookies=user.cookies, timeout=10) as session:
        for headers in ({}, {"X-CSRF-Token": "wrong"}):
            answer = session.post("/tasks/pi", data={"digits": "5"}, headers=headers)
            assert answer.status_code == 403 and "CSRF" in answer.json()["detail"]
            api = session.post("/api/tasks/pi", json={"digits": 5}, headers=headers)
            # A program (or /docs' "Try it out") is told what it needs: a token.
            assert api.status_code == 403 and "use Authorize" in api.json()["detail"]
            assert session.post("/logout", headers=headers).status_code == 403
        fielded = session.post("/tasks/pi", data={"digits": "5", "csrf_token": user.csrf})
        assert fielded.status_code == 303  # on to the new task's page
    # A Bearer token needs no CSRF token: browsers never attach one by themselves.
    with httpx.Client(base_url=web, headers=user.bearer, timeout=10) as client:
        assert client.post("/api/tasks/pi", json={"digits": 5}).status_code == 202


def test_an_address_that_looks_like_another_is_refused_saying_why(
    web: str, visitor: httpx.Client, engine: Engine
) -> None:
    """So the admin's list of users shows no second "paul@example.com"."""
    cyrillic = "\u0440\u0430ul@example.com"  # "paul" with a Cyrillic "p" and "a"
    answer = register(visitor, cyrillic)
    assert answer.status_code == 422 and "one alphabet" in answer.text
    fullwidth = {"email": "\uff50aul@example.com", "password": PASSWORD}
    api = httpx.post(f"{web}/api/users", json=fullwidth, timeout=10)
    [error] = api.json()["detail"]
    assert api.status_code == 422 and error["loc"] == ["body", "email"]
    assert "plain characters" in error["msg"]
    with Session(engine) as session:
        made = session.exec(select(User).where(col(User.email).contains("aul@example.com")))
        assert made.all() == []


def test_forms_another_site_sent_are_refused_even_with_the_right_token(
    web: str, user: Account, visitor: httpx.Client
) -> None:
    """A planted double-submit cookie gives another site a right token: the browser's own
    headers still tell where the form came from."""
    token = form_token(visitor.get("/login").text)
    login = {"email": user.email, "password": PASSWORD, "csrf_token": token}
    foreign = ("http://evil.example.com", "http://[::1")  # the second unreadable: once a 500
    for headers in ({"Sec-Fetch-Site": "same-site"}, *({"Origin": o} for o in foreign)):
        answer = visitor.post("/login", data=login, headers=headers)
        assert answer.status_code == 403 and "another site" in answer.text
        assert SESSION_COOKIE not in answer.cookies
    registration = {**login, "email": unique_email("tossed")}
    cross_site = {"Sec-Fetch-Site": "cross-site"}
    assert visitor.post("/register", data=registration, headers=cross_site).status_code == 403
    own_page = {"Sec-Fetch-Site": "same-origin", "Origin": web}
    assert visitor.post("/login", data=login, headers=own_page).status_code == 303
    # A session's own token does not make another site's post good either.
    with httpx.Client(base_url=web, cookies=user.cookies, timeout=10) as session:
        sent = session.post(
            "/tasks/pi",
            data={"digits": "5", "csrf_token": user.csrf},
            headers={"Sec-Fetch-Site": "same-site"},
        )
        assert sent.status_code == 403 and "another site" in sent.json()["detail"]
        mine = session.post(
            "/api/tasks/pi", json={"digits": 5}, headers=user.page_headers | own_page
        )
        assert mine.status_code == 202
    # A Bearer token is never attached by a browser on its own: where it came from is moot.
    with httpx.Client(base_url=web, headers=user.bearer | cross_site, timeout=10) as client:
        assert client.post("/api/tasks/pi", json={"digits": 5}).status_code == 202


def test_tokens_are_made_shown_once_used_and_revoked(
    api: httpx.Client, web: str, engine: Engine
) -> None:
    made = api.post("/account/tokens", data={"name": "laptop script"})
    assert made.status_code == 200 and "not shown again" in made.text
    plain = made.text.split('id="new-token"', 1)[1].split(">", 1)[1].split("<", 1)[0]
    assert plain.startswith("dsh_") and plain not in api.get("/account").text
    with Session(engine) as session:
        stored = session.exec(select(ApiToken).where(ApiToken.name == "laptop script")).one()
    assert stored.token_hash != plain and plain.startswith(stored.prefix)
    bearer = {"Authorization": f"Bearer {plain}"}
    with httpx.Client(base_url=web, headers=bearer, timeout=10) as client:
        assert client.get("/api/me").status_code == 200
        assert api.post(f"/account/tokens/{stored.id}/revoke").status_code == 200
        refused = client.get("/api/me")
        assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    assert api.post("/account/tokens", data={"name": ""}).status_code == 422


def test_a_token_cannot_make_itself_a_lasting_one(
    api: httpx.Client, web: str, engine: Engine
) -> None:
    """Security probe: a stolen 7-day token made a never-expiring one on the account form,
    which outlived the revoking of the first and a password change."""
    made = api.post("/account/tokens", data={"name": "week", "expires_in_days": "7"})
    plain = made.text.split('id="new-token"', 1)[1].split(">", 1)[1].split("<", 1)[0]
    bearer = {"Authorization": f"Bearer {plain}"}
    with httpx.Client(base_url=web, headers=bearer, timeout=10) as client:
        refused = client.post("/account/tokens", data={"name": "kept", "expires_in_days": "never"})
    assert refused.status_code == 403 and "cannot make another" in refused.text
    with Session(engine) as session:
        assert session.exec(select(ApiToken).where(ApiToken.name == "kept")).first() is None


def test_tokens_last_as_long_as_asked_and_then_say_they_expired(
    web: str, api: httpx.Client, engine: Engine
) -> None:
    email = unique_email("expiry")
    with httpx.Client(base_url=web, timeout=10) as client:
        assert client.post("/api/users", json={"email": email, "password": PASSWORD}).is_success
        login = {"email": email, "password": PASSWORD}
        lasting = client.post("/api/tokens", json=login).json()  # 90 days unless asked
        forever = client.post("/api/tokens", json={**login, "expires_in_days": None}).json()
        refused = client.post("/api/tokens", json={**login, "expires_in_days": 0})
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["loc"] == ["body", "expires_in_days"]
        expires = datetime.fromisoformat(lasting["expires_at"])
        assert timedelta(days=89) < expires - datetime.now(UTC) <= timedelta(days=90)
        assert forever["expires_at"] is None
        bearer = {"Authorization": f"Bearer {lasting['token']}"}
        listed = client.get("/api/tokens", headers=bearer).json()
        assert {item["id"]: item["expires_at"] for item in listed} == {
            lasting["id"]: lasting["expires_at"],
            forever["id"]: None,
        }
        with Session(engine) as session:
            token = session.get(ApiToken, lasting["id"])
            assert token is not None
            token.expires_at = utcnow() - timedelta(seconds=1)
            session.add(token)
            session.commit()
        expired = client.get("/api/me", headers=bearer)
        assert expired.status_code == 401
        assert expired.json()["detail"] == (
            "the token has expired; make a new one on the account page"
        )
        for not_a_number in ("7", True):  # a JSON number, as everywhere in the API
            answer = client.post("/api/tokens", json={**login, "expires_in_days": not_a_number})
            assert answer.status_code == 422
        still = {"Authorization": f"Bearer {forever['token']}"}
        assert client.get("/api/me", headers=still).status_code == 200


def test_the_account_page_makes_tokens_that_expire_and_shows_when(
    api: httpx.Client, engine: Engine
) -> None:
    made = api.post("/account/tokens", data={"name": "weekly", "expires_in_days": "7"})
    assert made.status_code == 200 and "not shown again" in made.text
    never = api.post("/account/tokens", data={"name": "kept", "expires_in_days": "never"})
    assert never.status_code == 200
    with Session(engine) as session:
        rows = session.exec(select(ApiToken).where(col(ApiToken.name).in_(["weekly", "kept"])))
        expiries = {token.name: token.expires_at for token in rows}
    weekly = expiries["weekly"]
    assert weekly is not None and timedelta(days=6) < weekly - utcnow() <= timedelta(days=7)
    assert expiries["kept"] is None
    odd = api.post("/account/tokens", data={"name": "odd", "expires_in_days": "soon"})
    assert odd.status_code == 422
    assert 'role="alert">choose when it expires: in 1 to 3650 days, or never<' in odd.text
    assert 'value="odd"' in odd.text  # what was typed stays


def test_a_user_past_the_token_limit_is_told_to_revoke_one(web: str, engine: Engine) -> None:
    user = make_user(engine)  # it holds one token already
    limit = Settings.model_fields["user_max_tokens"].default
    with page_client(web, user) as page:
        for number in range(limit - 1):
            assert page.post("/account/tokens", data={"name": f"n{number}"}).status_code == 200
        refused = page.post("/account/tokens", data={"name": "one more"})
        assert refused.status_code == 422
        assert f"You have {limit} live tokens, the most allowed; revoke one first." in refused.text
        assert 'id="token-form-error" class="form-error" role="alert"' in refused.text
        assert 'id="token-name-error" role="alert"></span>' in refused.text  # not the name's
        assert 'value="one more"' in refused.text
    with httpx.Client(base_url=web, timeout=10) as client:
        login = {"email": user.email, "password": PASSWORD}
        answer = client.post("/api/tokens", json=login)
        assert answer.status_code == 409 and "revoke one first" in answer.json()["detail"]


def test_someone_elses_token_cannot_be_revoked(api: httpx.Client, engine: Engine) -> None:
    with Session(engine) as session:
        other = session.exec(select(ApiToken).order_by(col(ApiToken.id))).first()
    assert other is not None
    assert api.post(f"/account/tokens/{other.id}/revoke").status_code == 404


def test_api_clients_register_and_trade_a_password_for_a_token(web: str) -> None:
    email = unique_email("client")
    with httpx.Client(base_url=web, timeout=10) as client:
        made = client.post("/api/users", json={"email": email, "password": PASSWORD})
        assert made.status_code == 201 and made.json()["email"] == email
        again = client.post("/api/users", json={"email": email, "password": PASSWORD})
        assert again.status_code == 422 and again.json()["detail"][0]["loc"] == ["body", "email"]
        wrong = client.post("/api/tokens", json={"email": email, "password": "nope nope"})
        assert wrong.status_code == 401
        body = {"email": email, "password": PASSWORD, "name": "terminal"}
        issued = client.post("/api/tokens", json=body)
        assert issued.status_code == 201
        token, token_id = issued.json()["token"], issued.json()["id"]
        bearer = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/me", headers=bearer).json()["email"] == email
        listed = client.get("/api/tokens", headers=bearer).json()
        assert [item["name"] for item in listed] == ["terminal"]
        assert token not in client.get("/api/tokens", headers=bearer).text
        assert client.delete(f"/api/tokens/{token_id}", headers=bearer).status_code == 204
        assert client.get("/api/me", headers=bearer).status_code == 401
