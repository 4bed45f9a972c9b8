"""Dashboard login hardening: throttling with lockout, audit of every failure, timing, password policy.

Real databases (a SQLite file, and PostgreSQL where ``WINDOWQA_TEST_PG_URL`` is set) and real
bcrypt. The throttle lives in the database, so two engines on one database (two dashboard
processes) see one another's failures.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from _store_support import db_url, pg_url, sqlite_url  # noqa: F401
from models.db import AuditLog, LoginThrottle, UserAccount, init_db, make_engine, make_session_factory
from scoring.accounts import AccountError, LoginError, authenticate, create_account, set_password

GOOD = "Window-pass-7"


@pytest.fixture
def url(db_url):
    return db_url


@pytest.fixture
def factory(url):
    engine = init_db(make_engine(url))
    with make_session_factory(engine)() as s, s.begin():
        create_account(s, "insp", GOOD, "inspector", by="test", rounds=4)
    yield make_session_factory(engine)
    engine.dispose()


def _try(factory, username, password, **kw):
    """One login attempt in its own transaction, as the dashboard does it; the error or the actor."""
    with factory() as s:
        try:
            who = authenticate(s, username, password, **kw)
        except LoginError as exc:
            s.commit()
            return exc
        s.commit()
        return who


def _failures(factory) -> list[AuditLog]:
    with factory() as s:
        return list(s.scalars(select(AuditLog).where(AuditLog.action == "login.failed").order_by(AuditLog.id)))


def _throttle_keys(factory) -> set[str]:
    with factory() as s:
        return set(s.scalars(select(LoginThrottle.key)))


def test_repeated_wrong_passwords_lock_the_account(factory):
    for _ in range(30):
        assert isinstance(_try(factory, "insp", "wrong-guess-1"), LoginError)
    refused = _try(factory, "insp", GOOD)  # the right password no longer helps
    assert isinstance(refused, LoginError) and "分钟后再试" in str(refused)
    assert len(_failures(factory)) == 31  # every failed attempt is audited, the refused one too


def test_lockout_ends_and_a_success_clears_the_count(factory):
    from scoring.accounts import ThrottleOptions

    opts = ThrottleOptions(account_failures=3, address_failures=100, window_minutes=10, lockout_minutes=15)
    t0 = datetime(2026, 3, 2, 9, 0)
    for k in range(3):
        assert isinstance(_try(factory, "insp", "wrong-guess-1", throttle=opts, now=t0 + timedelta(seconds=k)), LoginError)
    locked = _try(factory, "insp", GOOD, throttle=opts, now=t0 + timedelta(minutes=5, seconds=2))
    assert isinstance(locked, LoginError) and "登录失败次数过多" in str(locked) and "10 分钟" in str(locked)
    assert _try(factory, "insp", GOOD, throttle=opts, now=t0 + timedelta(minutes=16)).username == "insp"
    # a success clears the account's count: two more failures do not lock it
    for k in range(2):
        _try(factory, "insp", "wrong-guess-1", throttle=opts, now=t0 + timedelta(minutes=17, seconds=k))
    assert _try(factory, "insp", GOOD, throttle=opts, now=t0 + timedelta(minutes=18)).username == "insp"
    # failures spread wider than the window never lock
    for k in range(6):
        _try(factory, "insp", "wrong-guess-1", throttle=opts, now=t0 + timedelta(minutes=30 + 6 * k))
    assert _try(factory, "insp", GOOD, throttle=opts, now=t0 + timedelta(minutes=67)).username == "insp"


def test_one_address_trying_many_names_is_locked_out(factory):
    from scoring.accounts import ThrottleOptions

    opts = ThrottleOptions(account_failures=5, address_failures=4, window_minutes=15, lockout_minutes=15)
    t0 = datetime(2026, 3, 2, 9, 0)
    for k in range(4):
        _try(factory, f"guess{k}", "wrong-guess-1", address="10.0.0.66", throttle=opts, now=t0 + timedelta(seconds=k))
    refused = _try(factory, "insp", GOOD, address="10.0.0.66", throttle=opts, now=t0 + timedelta(minutes=1))
    assert isinstance(refused, LoginError) and "分钟后再试" in str(refused)
    assert _try(factory, "insp", GOOD, address="10.0.0.7", throttle=opts, now=t0 + timedelta(minutes=1)).username == "insp"
    rows = _failures(factory)
    assert len(rows) == 5 and all(r.detail.get("address") == "10.0.0.66" for r in rows)
    before = _throttle_keys(factory)
    for k in range(10):  # a locked-out address cannot fill the table with names
        _try(factory, f"flood{k}", "wrong-guess-1", address="10.0.0.66", throttle=opts, now=t0 + timedelta(minutes=2))
    assert _throttle_keys(factory) == before


def test_a_success_forgets_failures_that_no_longer_count(factory):
    from scoring.accounts import ThrottleOptions

    opts = ThrottleOptions(window_minutes=10, lockout_minutes=15)
    t0 = datetime(2026, 3, 2, 9, 0)
    for k in range(3):
        _try(factory, f"typo{k}", "wrong-guess-1", address="10.0.0.8", throttle=opts, now=t0)
    assert len(_throttle_keys(factory)) == 4
    _try(factory, "insp", GOOD, address="10.0.0.9", throttle=opts, now=t0 + timedelta(minutes=20))
    assert _throttle_keys(factory) == {"account:insp", "address:10.0.0.9"}


def test_throttle_is_shared_by_dashboard_processes(url, factory):
    from scoring.accounts import ThrottleOptions

    opts = ThrottleOptions(account_failures=4, address_failures=100)
    other = make_engine(url)  # a second dashboard process: its own engine and connections
    try:
        for k in range(4):
            _try(factory if k % 2 else make_session_factory(other), "insp", "wrong-guess-1", throttle=opts)
        assert "分钟后再试" in str(_try(make_session_factory(other), "insp", GOOD, throttle=opts))
    finally:
        other.dispose()


def test_parallel_attempts_cannot_outrun_the_limit(factory):
    from concurrent.futures import ThreadPoolExecutor

    from scoring.accounts import LoginThrottled, ThrottleOptions

    opts = ThrottleOptions(account_failures=3, address_failures=100)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda k: _try(factory, "insp", f"wrong-guess-{k}", throttle=opts), range(8)))
    assert all(isinstance(r, LoginError) for r in results)
    assert sum(isinstance(r, LoginThrottled) for r in results) == 6  # the third failure locks, the rest are refused
    assert [r.detail["reason"] for r in _failures(factory)].count("bad_password") == 3  # only three passwords checked


def test_a_password_typed_as_user_name_is_not_stored(factory):
    secret = "My-Secret-Pw-42"
    for _ in range(2):
        _try(factory, secret, "whatever-123")
    rows = _failures(factory)
    assert len(rows) == 2 and rows[0].actor == rows[1].actor  # the same typo is still recognisable
    stored = " ".join(f"{r.actor} {r.entity} {r.detail}" for r in rows)
    assert secret not in stored and secret.lower() not in stored.lower() and "Secret" not in stored


@pytest.fixture
def real_cost(tmp_path):
    """A database with one account hashed at the real default bcrypt cost."""
    engine = init_db(make_engine(f"sqlite:///{tmp_path / 'real.db'}"))
    with make_session_factory(engine)() as s, s.begin():
        create_account(s, "insp", GOOD, "inspector", by="test")
    yield make_session_factory(engine)
    engine.dispose()


def test_the_dummy_hash_costs_what_real_hashes_cost(real_cost):
    from scoring.accounts import bcrypt_cost, dummy_hash

    with real_cost() as s:
        real = s.scalar(select(UserAccount.password_hash))
        assert bcrypt_cost(dummy_hash(s)) == bcrypt_cost(real) == 12


def test_unknown_user_names_take_as_long_as_known_ones(real_cost):
    def fastest(username: str) -> float:
        times = []
        for k in range(3):
            t = time.perf_counter()
            assert isinstance(_try(real_cost, username, f"wrong-guess-{k}"), LoginError)
            times.append(time.perf_counter() - t)
        return min(times)

    known, unknown = fastest("insp"), fastest("nobody")
    assert 0.5 < unknown / known < 2.0, (known, unknown)


@pytest.mark.parametrize("password", ["short-1A", "abcdefghijkl", "1234567890123", "ABCDEFGHIJKL", "insp-newuser-9"])
def test_weak_passwords_are_refused_in_chinese(factory, password):
    with factory() as s, s.begin():
        with pytest.raises(AccountError) as err:
            create_account(s, "newuser", password, "manager", rounds=4)
        assert "密码" in str(err.value)
        with pytest.raises(AccountError, match="密码"):
            set_password(s, "insp", password, rounds=4)


def test_generated_passwords_meet_the_policy():
    from scoring.accounts import check_password_policy, generate_password

    seen = {generate_password() for _ in range(300)}
    assert len(seen) == 300
    for password in seen:
        check_password_policy(password)
