"""Guessing tokens at the sign-in form is slowed down: five refused tokens a minute per client address and
per token prefix, then 429 with Retry-After, without asking the forge. The address is the connection's, or a
configured proxy's X-Forwarded-For; the counts are in the state database, shared by every bot process."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from bot.dashboard import create_dashboard_app
from bot.dashboard.signinlimit import MAX_FAILURES, PREFIX_CHARS
from tests.dashboard.rig import AppServer, Rig, csrf_of
from tests.fixtures.clock import ManualClock


def attempt(client: httpx.Client, token: str) -> httpx.Response:
    form = client.get("/signin")
    return client.post("/signin", data={"csrf_token": csrf_of(form.text), "token": token})


def guesses(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{n:030d}" for n in range(count)]


def test_after_five_refused_tokens_an_address_waits_even_with_a_good_token(rig: Rig) -> None:
    with rig.client() as client:
        refused = [attempt(client, guess).status_code for guess in guesses("ghp_guessing", MAX_FAILURES)]
        blocked = attempt(client, rig.people.approver.token)
        after = client.get("/")
    assert refused == [401] * MAX_FAILURES
    assert blocked.status_code == 429
    assert 1 <= int(blocked.headers["retry-after"]) <= 60
    assert "Too many refused tokens" in blocked.text and rig.people.approver.token not in blocked.text
    assert after.status_code == 303, "the good token was not even tried"


def test_another_address_is_not_held_up_by_a_guesser(rig: Rig) -> None:
    with rig.client(address="127.0.0.2") as guesser:
        for guess in guesses("ghp_guesser2", MAX_FAILURES + 1):
            attempt(guesser, guess)
    with rig.client(address="127.0.0.3") as someone:
        assert attempt(someone, rig.people.approver.token).status_code == 303


def test_a_token_prefix_guessed_from_many_addresses_is_limited_too(rig: Rig) -> None:
    prefix = "ghp_spread00"
    assert len(prefix) == PREFIX_CHARS
    for n, guess in enumerate(guesses(prefix, MAX_FAILURES)):
        with rig.client(address=f"127.0.1.{n + 1}") as client:
            assert attempt(client, guess).status_code == 401
    with rig.client(address="127.0.1.100") as fresh:
        same_prefix = attempt(fresh, f"{prefix}-another-guess")
        other_prefix = attempt(fresh, "ghp_elsewhere-0123456789")
    assert same_prefix.status_code == 429
    assert other_prefix.status_code == 401


def test_the_limit_lifts_a_minute_after_the_first_failure(rig: Rig) -> None:
    clock = ManualClock()
    rig.restart(clock=clock)
    with rig.client() as client:
        for guess in guesses("ghp_patience", MAX_FAILURES):
            attempt(client, guess)
        clock.advance(seconds=30)
        assert attempt(client, rig.people.approver.token).headers["retry-after"] == "30"
        clock.advance(seconds=31)
        assert attempt(client, rig.people.approver.token).status_code == 303


def distinct_guesses(count: int) -> list[str]:
    """Guesses whose prefixes all differ, so only the address limit can stop them."""
    return [f"ghp_dist{n:04d}{'x' * 24}" for n in range(count)]


def attempt_as(client: httpx.Client, token: str, forwarded_for: str) -> httpx.Response:
    form = client.get("/signin")
    return client.post(
        "/signin",
        data={"csrf_token": csrf_of(form.text), "token": token},
        headers={"X-Forwarded-For": forwarded_for},
    )


def test_a_new_x_forwarded_for_on_each_try_does_not_reset_the_count(rig: Rig) -> None:
    with rig.client() as client:  # 127.0.0.1: uvicorn's default would believe its X-Forwarded-For
        codes = [
            attempt_as(client, guess, f"203.0.113.{n}").status_code
            for n, guess in enumerate(distinct_guesses(MAX_FAILURES + 1))
        ]
    assert codes == [401] * MAX_FAILURES + [429]


def test_a_configured_proxy_is_believed_and_anyone_else_is_not(rig: Rig) -> None:
    rig.restart(trusted_proxies=("127.0.0.1",))
    guesses_left = iter(distinct_guesses(3 * MAX_FAILURES))
    with rig.client() as proxy:
        for _ in range(MAX_FAILURES):
            attempt_as(proxy, next(guesses_left), "198.51.100.1")
        held = attempt_as(proxy, next(guesses_left), "198.51.100.1")
        other_client = attempt_as(proxy, next(guesses_left), "198.51.100.2")
    with rig.client(address="127.0.0.9") as stranger:  # not a proxy: its header is ignored
        for n in range(MAX_FAILURES):
            attempt_as(stranger, next(guesses_left), f"192.0.2.{n}")
        stranger_held = attempt_as(stranger, next(guesses_left), "192.0.2.200")
    assert held.status_code == 429
    assert other_client.status_code == 401, "another client behind the proxy is counted apart"
    assert stranger_held.status_code == 429


def test_two_dashboards_on_one_database_share_the_count(rig: Rig) -> None:
    other = AppServer(create_dashboard_app(rig.context, rig.settings), settings=rig.settings).start()
    try:
        tries = iter(guesses("ghp_twoapps0", MAX_FAILURES + 1))
        with rig.client() as first, httpx.Client(base_url=other.url, timeout=30) as second:
            codes = [attempt(first, next(tries)).status_code for _ in range(3)]
            codes += [attempt(second, next(tries)).status_code for _ in range(2)]
            held = attempt(second, rig.people.approver.token)
    finally:
        other.stop()
    assert codes == [401] * MAX_FAILURES
    assert held.status_code == 429


def test_a_restart_keeps_the_count(rig: Rig) -> None:
    with rig.client() as client:
        for guess in guesses("ghp_restarts", MAX_FAILURES):
            attempt(client, guess)
    rig.restart()
    with rig.client() as client:
        assert attempt(client, rig.people.approver.token).status_code == 429


def test_guesses_sent_all_at_once_get_no_more_than_the_limit_past_the_check(rig: Rig) -> None:
    burst = distinct_guesses(4 * MAX_FAILURES)
    clients = [rig.client() for _ in burst]
    forms = [csrf_of(client.get("/signin").text) for client in clients]
    start = threading.Barrier(len(burst))

    def guess(n: int) -> int:
        start.wait()
        data = {"csrf_token": forms[n], "token": burst[n]}
        return clients[n].post("/signin", data=data).status_code

    with ThreadPoolExecutor(len(burst)) as pool:
        codes = list(pool.map(guess, range(len(burst))))
    for client in clients:
        client.close()
    assert codes.count(401) <= MAX_FAILURES
    assert set(codes) <= {401, 429}
