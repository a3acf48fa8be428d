"""The last good policy set survives the process (real SQLite): a restart with broken files keeps it."""

from __future__ import annotations

import threading

from pipeline.governance import PolicyAction, PolicyStore
from pipeline.governance.kept import PolicyKeeper
from pipeline.state import Database

GOOD = b"""\
- name: Auto-approve tier 3
  rule: tier == 3
  action: auto_approve
  reason: Internal tools.
"""
STRICTER = GOOD.replace(b"auto_approve", b"requires_approval")
BROKEN = b"- name: broken\n  rule: tier ==\n  action: blocked\n  reason: x\n"


def _actions(store_update: object) -> list[PolicyAction]:
    in_force = store_update.in_force  # type: ignore[attr-defined]
    return [p.policy.action for p in in_force.policies]


def test_a_restarted_store_falls_back_to_the_last_set_that_loaded(database: Database) -> None:
    before_restart = PolicyStore(keeper=PolicyKeeper(database, "acme/intents"))
    assert before_restart.update({"policies/a.yaml": GOOD}).accepted

    after_restart = PolicyStore(keeper=PolicyKeeper(database, "acme/intents"))
    refused = after_restart.update({"policies/a.yaml": GOOD, "policies/b.yaml": BROKEN})

    assert not refused.accepted and {p.file for p in refused.problems} == {"policies/b.yaml"}
    assert _actions(refused) == [PolicyAction.AUTO_APPROVE]
    assert after_restart.current is refused.in_force


def test_the_newest_good_set_of_any_process_wins_and_repositories_stay_apart(database: Database) -> None:
    worker_one = PolicyStore(keeper=PolicyKeeper(database, "acme/intents"))
    worker_two = PolicyStore(keeper=PolicyKeeper(database, "acme/intents"))
    other_repo = PolicyStore(keeper=PolicyKeeper(database, "acme/other"))
    worker_one.update({"policies/a.yaml": GOOD})
    worker_two.update({"policies/a.yaml": STRICTER})  # a newer commit, seen by the other process

    refused = worker_one.update({"policies/a.yaml": BROKEN})
    nothing = other_repo.update({"policies/a.yaml": BROKEN})

    assert _actions(refused) == [PolicyAction.REQUIRES_APPROVAL]
    assert nothing.in_force is None and not nothing.accepted


def test_without_a_keeper_a_new_store_has_nothing_in_force() -> None:
    PolicyStore().update({"policies/a.yaml": GOOD})
    assert PolicyStore().update({"policies/a.yaml": BROKEN}).in_force is None


def test_workers_saving_a_repositorys_first_set_at_once_all_succeed(database: Database) -> None:
    """Four worker threads building the first intents of a push each keep the policy set they loaded."""
    threads, start = 8, threading.Barrier(8)
    errors: list[BaseException] = []

    def save(content: bytes) -> None:
        start.wait()
        try:
            PolicyKeeper(database, "acme/intents").save({"policies/a.yaml": content})
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=save, args=(GOOD if n % 2 else STRICTER,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert errors == []
    assert PolicyKeeper(database, "acme/intents").load() in (
        {"policies/a.yaml": GOOD},
        {"policies/a.yaml": STRICTER},
    )


def test_a_set_kept_on_postgresql_is_replaced_by_a_newer_one(postgres_url: str) -> None:
    database = Database(postgres_url)
    database.create_all()
    try:
        PolicyKeeper(database, "acme/intents").save({"policies/a.yaml": GOOD})
        PolicyKeeper(database, "acme/intents").save({"policies/a.yaml": STRICTER})
        assert PolicyKeeper(database, "acme/intents").load() == {"policies/a.yaml": STRICTER}
    finally:
        database.dispose()
