"""The review console's locked-down shell: sign-in, sessions, roles, CSRF, throttling, headers."""

from __future__ import annotations

import logging
import re
import stat

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from claimwright.cli import app as cli_app
from claimwright.console import (
    Role, UsersFileError, create_app, hash_password, load_users, require, set_user,
    verify_password)
from claimwright.console.app import FAILED, LOCKED, UNKNOWN_USER
from claimwright.console.auth import COOKIE, PUBLIC
from claimwright.console.passwords import parse_hash
from claimwright.console.sessions import SessionStore, Throttle
from claimwright.settings import Settings

PASSWORDS = {"alice": "alice-long-passphrase", "vic": "viewer-long-passphrase",
             "adam": "admin-long-passphrase"}
ROLES = {"alice": "reviewer", "vic": "viewer", "adam": "admin"}


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += minutes * 60


@pytest.fixture(scope="module")
def hashes():  # the lowest cost the users file accepts, to keep the tests quick
    return {name: hash_password(pw, n=2**14) for name, pw in PASSWORDS.items()}


@pytest.fixture
def settings(tmp_path, hashes):
    # a file, not "sqlite://": the pages read the ledger from worker threads (one memory
    # database per thread otherwise)
    s = Settings(home=tmp_path, out=tmp_path / "out",
                 database_url=f"sqlite:///{tmp_path}/ledger.db")
    for name, h in hashes.items():
        set_user(s.console_users, name, ROLES[name], h)
    return s


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def events():
    return []


@pytest.fixture
def app(settings, clock, events):
    app = create_app(settings, clock=clock,
                     on_event=lambda actor, action, detail: events.append((actor, action, detail)))

    @app.post("/test/resolve")  # a reviewer-only action, as the review pages will have
    def resolve(user=Depends(require("reviewer"))):
        return {"resolved_by": user.name}

    @app.get("/test/items/{item_id}")
    def item(item_id: int):
        return {"item": item_id}

    return app


@pytest.fixture
def client(app):
    return TestClient(app, follow_redirects=False)


def token_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(client, name, password=None):
    form = client.get("/login")
    assert form.status_code == 200
    return client.post("/login", data={"csrf_token": token_of(form.text), "username": name,
                                       "password": PASSWORDS[name] if password is None
                                       else password})


def signed_in(client, name="alice"):
    assert sign_in(client, name).status_code == 303
    return token_of(client.get("/").text)


def test_every_route_refuses_a_request_without_a_session(app, client):
    public = set()
    for route in app.routes:
        path = re.sub(r"\{[^}]+\}", "1", route.path)
        for method in sorted(getattr(route, "methods", None) or {"GET"}):
            response = client.request(method, path)
            if route.path in PUBLIC:
                public.add(route.path)
                continue
            if method in ("GET", "HEAD"):
                assert response.status_code == 303, (method, path)
                assert response.headers["location"] == "/login"
            else:
                assert response.status_code == 401, (method, path)
    assert public == {"/login", "/health", "/static/console.css"}
    assert client.get("/no/such/page").headers["location"] == "/login"  # no route listing
    assert client.get("/health").text == "ok"
    assert client.get("/static/console.css").headers["content-type"].startswith("text/css")
    assert client.get("/docs").status_code == 303 and client.get("/openapi.json").status_code == 303


def test_signing_in_sets_a_locked_down_cookie_and_reaches_the_queue(client, app, events):
    form = client.get("/login")
    before = client.cookies[COOKIE]
    response = client.post("/login", data={"csrf_token": token_of(form.text),
                                           "username": "Alice ", "password": PASSWORDS["alice"]})
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert f"{COOKIE}=" in cookie and "HttpOnly" in cookie and "Path=/" in cookie
    assert "samesite=lax" in cookie.lower() and "Secure" not in cookie
    after = client.cookies[COOKIE]
    assert after != before  # rotated at sign-in
    assert app.state.console.store.get(before) is None
    page = client.get("/")
    assert page.status_code == 200 and "Review queue" in page.text
    assert "alice" in page.text and "reviewer" in page.text
    assert client.get("/login").headers["location"] == "/"
    assert events == [("alice", "sign-in", {"client": "testclient", "role": "reviewer"})]


def test_cookies_are_secure_over_https_or_when_the_setting_says_so(app, settings, clock):
    https = TestClient(app, base_url="https://testserver", follow_redirects=False)
    assert "Secure" in https.get("/login").headers["set-cookie"]
    forced = create_app(Settings(home=settings.home, out=settings.out, database_url="sqlite://",
                                 console_secure_cookies=True), clock=clock)
    assert "Secure" in TestClient(forced).get("/login").headers["set-cookie"]


def test_a_wrong_password_and_an_unknown_user_look_the_same(client, events, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = sign_in(client, "alice", "not-her-password")
    unknown = client.post("/login", data={"csrf_token": token_of(client.get("/login").text),
                                          "username": "mallory", "password": "guess-guess"})
    assert wrong.status_code == unknown.status_code == 401
    assert FAILED in wrong.text and FAILED in unknown.text
    assert wrong.text == unknown.text  # same page, same token: nothing tells them apart
    assert [e[:2] for e in events] == [("alice", "sign-in failed"),
                                       (UNKNOWN_USER, "sign-in failed")]
    logged = caplog.text + repr(events)
    assert "not-her-password" not in logged and "guess-guess" not in logged
    assert "mallory" not in logged  # a name nobody has may be a password typed in the wrong box


def test_five_failures_lock_the_name_until_the_window_passes(client, app, clock, events):
    for _ in range(4):
        assert sign_in(client, "alice", "wrong-wrong").status_code == 401
    assert sign_in(client, "alice").status_code == 303  # success resets the count
    client.post("/logout", data={"csrf_token": token_of(client.get("/").text)})
    for _ in range(5):
        assert sign_in(client, "alice", "wrong-wrong").status_code == 401
    assert ("alice", "sign-in locked", {"client": "testclient", "by": "user name"}) in events
    locked = sign_in(client, "alice")  # even the right password
    assert locked.status_code == 429 and LOCKED in locked.text
    clock.advance(14)
    assert sign_in(client, "alice").status_code == 429
    other = TestClient(app, follow_redirects=False)
    assert sign_in(other, "vic").status_code == 303  # other names are not locked
    clock.advance(1)
    assert sign_in(client, "alice").status_code == 303


def test_an_unknown_name_is_throttled_like_a_known_one(client):
    for _ in range(5):
        sign_in(client, "alice", "wrong-wrong")
    for _ in range(5):
        client.post("/login", data={"csrf_token": token_of(client.get("/login").text),
                                    "username": "nobody", "password": "wrong-wrong"})
    page = client.post("/login", data={"csrf_token": token_of(client.get("/login").text),
                                       "username": "nobody", "password": "x"})
    assert page.status_code == 429 and LOCKED in page.text


def test_the_throttle_counts_per_key_within_its_window_and_forgets_old_keys():
    clock = Clock()
    throttle = Throttle(limit=3, window=600, lockout=900, clock=clock, max_keys=2)
    throttle.fail("a")
    clock.advance(11)  # outside the 10-minute window of the next two
    throttle.fail("a")
    assert throttle.fail("a") is False and not throttle.locked("a")
    assert throttle.fail("a") is True and throttle.locked("a")
    clock.advance(14.9)
    assert throttle.locked("a")
    clock.advance(0.2)
    assert not throttle.locked("a")
    throttle.fail("b"), throttle.fail("c"), throttle.fail("d")
    assert len(throttle) == 2  # bounded


def test_an_idle_session_ends_and_a_busy_one_ends_after_its_lifetime(client, clock):
    signed_in(client)
    clock.advance(14)
    assert client.get("/").status_code == 200  # activity restarts the idle time
    clock.advance(14)
    assert client.get("/").status_code == 200
    clock.advance(15)
    assert client.get("/").headers["location"] == "/login"
    signed_in(client)
    for _ in range(8 * 6 - 1):
        clock.advance(10)
        assert client.get("/").status_code == 200
    clock.advance(10)  # 8 hours after sign-in
    assert client.get("/").headers["location"] == "/login"


def test_the_session_store_is_bounded():
    store = SessionStore(idle=60, lifetime=3600, clock=Clock(), max_sessions=3)
    first = store.create(None)
    for _ in range(3):
        store.create("alice")
    assert len(store) == 3 and store.get(first.token) is None


def test_signing_out_ends_the_session_on_the_server(client, app, events):
    csrf = signed_in(client)
    old = client.cookies[COOKIE]
    response = client.post("/logout", data={"csrf_token": csrf})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert app.state.console.store.get(old) is None
    replay = TestClient(app, follow_redirects=False, cookies={COOKIE: old})
    assert replay.get("/").headers["location"] == "/login"
    assert replay.post("/logout", data={"csrf_token": csrf}).status_code == 401
    assert events[-1] == ("alice", "sign-out", {})


def test_a_post_without_the_right_csrf_token_is_refused(client, app):
    csrf = signed_in(client, "alice")
    assert client.post("/test/resolve").status_code == 403
    assert client.post("/test/resolve", data={"csrf_token": "x" * 43}).status_code == 403
    assert client.post("/test/resolve", headers={"X-CSRF-Token": "nope"}).status_code == 403
    assert client.post("/logout", data={"csrf_token": ""}).status_code == 403
    assert client.get("/").status_code == 200  # still signed in
    assert client.post("/test/resolve", data={"csrf_token": csrf}).json() == {
        "resolved_by": "alice"}
    assert client.post("/test/resolve", headers={"X-CSRF-Token": csrf}).status_code == 200
    files = {"upload": ("a.pdf", b"%PDF-1.4", "application/pdf")}
    assert client.post("/test/resolve", data={"csrf_token": csrf}, files=files).status_code == 200
    assert client.post("/test/resolve", files=files).status_code == 403


def test_the_login_form_needs_its_own_sign_in_token(client, app):
    assert client.post("/login", data={"username": "alice",
                                       "password": PASSWORDS["alice"]}).status_code == 403
    stranger = TestClient(app, follow_redirects=False)
    their_token = token_of(stranger.get("/login").text)
    client.get("/login")
    assert client.post("/login", data={"csrf_token": their_token, "username": "alice",
                                       "password": PASSWORDS["alice"]}).status_code == 403
    fresh = TestClient(app, follow_redirects=False)  # no sign-in session at all
    assert fresh.post("/login", data={"csrf_token": their_token, "username": "alice",
                                      "password": PASSWORDS["alice"]}).status_code == 403


def test_a_viewer_cannot_do_what_a_reviewer_can(app):
    for name, allowed in (("vic", False), ("alice", True), ("adam", True)):
        client = TestClient(app, follow_redirects=False)
        csrf = signed_in(client, name)
        response = client.post("/test/resolve", data={"csrf_token": csrf})
        assert response.status_code == (200 if allowed else 403), name
    assert Role.admin.allows("reviewer") and not Role.viewer.allows(Role.reviewer)


def test_a_user_removed_from_the_file_is_signed_out(client, settings, hashes):
    signed_in(client, "alice")
    settings.console_users.write_text(
        f'users:\n  vic:\n    role: viewer\n    password_hash: "{hashes["vic"]}"\n')
    assert client.get("/").headers["location"] == "/login"


def test_security_headers_on_every_response(client):
    responses = [client.get("/login"), client.get("/"), client.get("/health"),
                 client.post("/logout"), client.get("/static/console.css")]
    csrf = signed_in(client)
    responses += [client.get("/"), client.post("/test/resolve"),
                  client.post("/logout", data={"csrf_token": csrf})]
    for r in responses:
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert "script-src" not in csp and "unsafe-inline" not in csp
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["x-content-type-options"] == "nosniff"


USERS_ERRORS = [
    ("users:\n  bob:\n    role: boss\n    password_hash: \"{h}\"\n",
     r"console-users.yaml:3: users\.bob\.role: Input should be 'viewer', 'reviewer' or 'admin'"),
    ("users:\n  bob:\n    role: viewer\n    password_hash: \"scrypt$1$8$1$AAAA$AAAA\"\n",
     r"console-users.yaml:4: users\.bob\.password_hash: malformed password hash: n must be"),
    ("users:\n  bob:\n    role: viewer\n    password_hash: \"plain-text\"\n",
     r"console-users.yaml:4: users\.bob\.password_hash: malformed password hash: expected"),
    ("users:\n  bob:\n    role: viewer\n    password_hash: \"{h}\"\n    email: b@x\n",
     r"console-users.yaml:5: users\.bob\.email: Extra inputs are not permitted"),
    ("# users\nuser:\n  bob: {{}}\n", r"console-users.yaml:2: user: Extra inputs"),
    ("users:\n  ok:\n    role: viewer\n    password_hash: \"{h}\"\n  Bob Smith:\n    role: admin\n",
     r"console-users.yaml:1: users: user name 'Bob Smith'"),
    ("users:\n  bob: [\n", r"console-users.yaml:3: not valid YAML"),
]


@pytest.mark.parametrize("text,error", USERS_ERRORS)
def test_users_file_errors_name_the_line(tmp_path, hashes, text, error):
    path = tmp_path / "console-users.yaml"
    path.write_text(text.format(h=hashes["vic"]))
    with pytest.raises(UsersFileError, match=error):
        load_users(path)


def test_an_empty_users_file_has_no_users(tmp_path):
    (tmp_path / "console-users.yaml").write_text("# nobody yet\n")
    assert load_users(tmp_path / "console-users.yaml") == {}


def test_user_add_writes_an_owner_only_file_and_never_prints_the_password(tmp_path):
    env = {"CLAIMWRIGHT_HOME": str(tmp_path)}
    runner = CliRunner()
    secret = "synthetic-test-passphrase-42"  # a test value, never a real credential
    out = runner.invoke(cli_app, ["console", "user-add", "jdoe", "--role", "reviewer",
                                  "--password-stdin"], input=secret + "\n", env=env)
    assert out.exit_code == 0, out.output
    assert "added jdoe (reviewer)" in out.output and secret not in out.output
    path = tmp_path / "console-users.yaml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secret not in path.read_text()
    user = load_users(path)["jdoe"]
    assert user.role is Role.reviewer and verify_password(secret, user.password_hash)
    assert parse_hash(user.password_hash).n == 2**15
    prompted = runner.invoke(cli_app, ["console", "user-add", "jdoe", "--role", "admin"],
                             input="another long secret\nanother long secret\n", env=env)
    assert prompted.exit_code == 0, prompted.output
    assert "changed jdoe (admin)" in prompted.output
    assert "another long secret" not in prompted.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert verify_password("another long secret", load_users(path)["jdoe"].password_hash)
    short = runner.invoke(cli_app, ["console", "user-add", "kim", "--password-stdin"],
                          input="short\n", env=env)
    assert short.exit_code == 2 and "at least 12 characters" in short.output
    assert "kim" not in load_users(path)


def test_password_hashes_verify_and_a_tampered_one_fails():
    encoded = hash_password("a long enough secret", n=2**14)
    assert encoded.startswith("scrypt$16384$8$1$")
    assert verify_password("a long enough secret", encoded)
    assert not verify_password("a long enough secreT", encoded)
    assert hash_password("a long enough secret", n=2**14) != encoded  # a fresh salt each time
    parts = encoded.split("$")
    key = bytearray(parse_hash(encoded).key)
    key[0] ^= 1
    import base64

    tampered = "$".join([*parts[:5], base64.b64encode(bytes(key)).decode()])
    assert not verify_password("a long enough secret", tampered)
    assert not verify_password("a long enough secret", "$".join(["scrypt", "32768", *parts[2:]]))
    assert not verify_password("a long enough secret", "plain")


def test_serve_refuses_without_users_and_warns_beyond_loopback(tmp_path, hashes, monkeypatch):
    import uvicorn

    runs = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: runs.append(kw))
    env = {"CLAIMWRIGHT_HOME": str(tmp_path)}
    runner = CliRunner()
    missing = runner.invoke(cli_app, ["console", "serve"], env=env)
    assert missing.exit_code == 2 and "no console users file" in missing.output
    (tmp_path / "console-users.yaml").write_text("users: {}\n")
    empty = runner.invoke(cli_app, ["console", "serve"], env=env)
    assert empty.exit_code == 2 and "has no users" in empty.output
    set_user(tmp_path / "console-users.yaml", "adam", "admin", hashes["adam"])
    local = runner.invoke(cli_app, ["console", "serve", "--port", "9999"], env=env)
    assert local.exit_code == 0 and "warning" not in local.output
    assert runs[-1]["host"] == "127.0.0.1" and runs[-1]["port"] == 9999
    wide = runner.invoke(cli_app, ["console", "serve", "--host", "0.0.0.0"], env=env)
    assert wide.exit_code == 0 and "CLAIMWRIGHT_CONSOLE_SECURE_COOKIES=1" in wide.output


@pytest.mark.parametrize("command", [["review", "serve"], ["console", "serve"]])
def test_serve_refuses_to_start_without_users(workspace, command):
    result = CliRunner().invoke(cli_app, command + ["--port", "0"])
    assert result.exit_code == 2
    assert "no console users file" in result.output and "user-add" in result.output
