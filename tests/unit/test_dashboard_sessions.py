"""Dashboard sessions, CSRF tokens and cookie rules: the pure core, with frozen time."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ivr.errors import ConfigError
from ivr.store.models.auth import Role
from ivr.web.dashboard.sessions import (
    SessionBook,
    csrf_ok,
    csrf_token,
    effective_scheme,
    is_loopback,
    safe_next,
    same_origin,
    sign,
    transport,
    unsign,
)
from ivr.web.dashboard.shell import load_or_create_secret

SECRET = b"k" * 32
OTHER = b"o" * 32


def test_a_signed_value_verifies_and_any_change_to_it_does_not() -> None:
    cookie = sign(SECRET, "abc123")
    assert unsign(SECRET, cookie) == "abc123"
    value, _, signature = cookie.rpartition(".")
    assert unsign(SECRET, f"abc124.{signature}") is None
    assert unsign(SECRET, f"{value}.{signature[:-1]}A") is None
    assert unsign(SECRET, value) is None  # no signature at all
    assert unsign(SECRET, "") is None
    assert unsign(SECRET, "." + signature) is None


def test_a_cookie_signed_by_another_installation_is_refused() -> None:
    assert unsign(OTHER, sign(SECRET, "abc123")) is None


def test_a_session_is_found_by_its_cookie_until_it_is_idle_too_long() -> None:
    book = SessionBook(SECRET, idle_s=100, max_age_s=1000)
    session, cookie = book.open(7, "alice", Role.COORDINATOR, now=0)
    assert book.find(cookie, now=99) is session
    # each request moves the idle deadline on
    assert book.find(cookie, now=198) is session
    assert book.find(cookie, now=298) is None
    assert len(book) == 0  # an expired session is forgotten, not just refused


def test_a_busy_session_still_ends_at_its_maximum_age() -> None:
    book = SessionBook(SECRET, idle_s=100, max_age_s=250)
    _, cookie = book.open(7, "alice", Role.STAFF, now=0)
    for t in (90, 180, 240):
        assert book.find(cookie, now=t) is not None
    assert book.find(cookie, now=250) is None


def test_a_forged_or_unknown_cookie_finds_nothing() -> None:
    book = SessionBook(SECRET)
    book.open(1, "alice", Role.STAFF, now=0)
    assert book.find(None, now=1) is None
    assert book.find("garbage", now=1) is None
    assert book.find(sign(SECRET, "never-issued"), now=1) is None
    assert book.find(sign(OTHER, "never-issued"), now=1) is None


def test_signing_out_ends_only_that_session() -> None:
    book = SessionBook(SECRET)
    mine, my_cookie = book.open(1, "alice", Role.STAFF, now=0)
    _, other_cookie = book.open(1, "alice", Role.STAFF, now=0)
    book.close(mine.id)
    assert book.find(my_cookie, now=1) is None
    assert book.find(other_cookie, now=1) is not None


def test_revoking_a_token_ends_every_session_it_opened() -> None:
    book = SessionBook(SECRET)
    _, a = book.open(1, "alice", Role.STAFF, now=0)
    _, b = book.open(1, "alice", Role.STAFF, now=0)
    _, c = book.open(2, "bob", Role.COORDINATOR, now=0)
    assert book.close_token(1) == 2
    assert book.find(a, now=1) is None and book.find(b, now=1) is None
    assert book.find(c, now=1) is not None


def test_memory_is_bounded_by_dropping_the_longest_idle_session() -> None:
    book = SessionBook(SECRET, max_sessions=2)
    _, first = book.open(1, "a", Role.STAFF, now=0)
    _, second = book.open(2, "b", Role.STAFF, now=1)
    book.find(first, now=2)  # first is now the most recently used
    book.open(3, "c", Role.STAFF, now=3)
    assert len(book) == 2
    assert book.find(first, now=4) is not None
    assert book.find(second, now=4) is None


def test_every_sign_in_gets_a_new_unpredictable_session_id() -> None:
    book = SessionBook(SECRET)
    ids = {book.open(1, "alice", Role.STAFF, now=0)[0].id for _ in range(50)}
    assert len(ids) == 50 and all(len(i) >= 40 for i in ids)


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        SessionBook(b"short")


def test_a_csrf_token_is_valid_only_for_its_own_session() -> None:
    book = SessionBook(SECRET)
    mine, _ = book.open(1, "alice", Role.STAFF, now=0)
    theirs, _ = book.open(2, "bob", Role.STAFF, now=0)
    token = book.csrf(mine)
    assert csrf_ok(SECRET, mine.id, token)
    assert not csrf_ok(SECRET, theirs.id, token)
    assert not csrf_ok(SECRET, mine.id, None)
    assert not csrf_ok(SECRET, mine.id, "")
    assert not csrf_ok(SECRET, mine.id, token[:-1])
    assert not csrf_ok(OTHER, mine.id, token)


def test_a_session_signature_can_never_pass_as_a_csrf_token() -> None:
    _, _, signature = sign(SECRET, "sid").rpartition(".")
    assert signature != csrf_token(SECRET, "sid")
    assert not csrf_ok(SECRET, "sid", signature)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1:8080", True),
        ("127.8.9.10", True),
        ("localhost:8080", True),
        ("[::1]:8080", True),
        ("192.168.1.10:8080", False),
        ("watchline.example.org", False),
        ("localhost.example.org", False),
        ("", False),
    ],
)
def test_loopback_hosts_are_recognised(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_cookies_are_secure_except_on_plain_http_to_loopback() -> None:
    local = transport("http", "127.0.0.1:8080")
    assert not local.secure and local.sign_in_allowed
    assert local.cookie_name == "watchline-session"
    tls = transport("https", "watchline.example.org")
    assert tls.secure and tls.sign_in_allowed
    assert tls.cookie_name.startswith("__Host-")
    # plain http over a network: the token would travel in clear text, so no sign-in
    assert not transport("http", "192.168.1.10:8080").sign_in_allowed


def test_a_forwarded_scheme_is_believed_only_from_a_proxy_on_this_machine() -> None:
    assert effective_scheme("http", "127.0.0.1", "https") == "https"
    assert effective_scheme("http", "::1", "https, http") == "https"
    assert effective_scheme("http", "203.0.113.5", "https") == "http"
    assert effective_scheme("http", "127.0.0.1", "gopher") == "http"
    assert effective_scheme("http", "127.0.0.1", None) == "http"


def test_a_post_from_another_origin_is_refused_but_a_missing_origin_is_left_to_csrf() -> None:
    assert same_origin("http://127.0.0.1:8080", "http", "127.0.0.1:8080")
    assert not same_origin("http://127.0.0.1:9999", "http", "127.0.0.1:8080")
    assert not same_origin("https://evil.example", "https", "watchline.example.org")
    assert not same_origin("null", "http", "127.0.0.1:8080")
    assert same_origin(None, "http", "127.0.0.1:8080")


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/dashboard/campaigns/3", "/dashboard/campaigns/3"),
        ("/dashboard/reports?status=new", "/dashboard/reports?status=new"),
        ("https://evil.example/dashboard", "/home"),
        ("//evil.example/dashboard", "/home"),
        ("/\\evil.example", "/home"),
        ("/dashboard\\..\\x", "/home"),
        ("/api/campaigns", "/home"),
        ("/dashboard/\r\nSet-Cookie: x", "/home"),
        ("", "/home"),
        (None, "/home"),
    ],
)
def test_after_sign_in_only_dashboard_paths_are_followed(target: str | None, expected: str) -> None:
    assert safe_next(target, "/home") == expected


def test_the_secret_file_is_made_private_on_first_use_and_reused_after(tmp_path: Path) -> None:
    path = tmp_path / "dashboard-secret"
    first = load_or_create_secret(path)
    assert len(first) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secret(path) == first


def test_a_secret_file_readable_by_others_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "dashboard-secret"
    secret = load_or_create_secret(path)
    path.chmod(0o644)
    assert load_or_create_secret(path) == secret
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_damaged_secret_file_is_reported_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "dashboard-secret"
    path.write_text("not hex\n")
    path.chmod(0o600)
    with pytest.raises(ConfigError, match="delete it"):
        load_or_create_secret(path)
