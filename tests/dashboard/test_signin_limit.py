"""Guessing tokens at the sign-in form is slowed down: five refused tokens a minute per client address and
per token prefix, then 429 with Retry-After, without asking the forge."""

from __future__ import annotations

import httpx

from bot.dashboard.signinlimit import MAX_FAILURES, PREFIX_CHARS
from tests.dashboard.rig import Clock, Rig, csrf_of


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
    clock = Clock()
    rig.restart(clock=clock)
    with rig.client() as client:
        for guess in guesses("ghp_patience", MAX_FAILURES):
            attempt(client, guess)
        clock.advance(seconds=30)
        assert attempt(client, rig.people.approver.token).headers["retry-after"] == "30"
        clock.advance(seconds=31)
        assert attempt(client, rig.people.approver.token).status_code == 303
