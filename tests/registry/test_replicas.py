"""Several copies of one version (Swarm tasks): the registry records each, forgets them with the version,
and copies registering at the same moment do not make one of them fail."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.registry import Provenance, RegistryStore, Replica
from pipeline.registry.model import Registration
from pipeline.registry.store import ServiceInstance

URL = "http://127.0.0.1:9001"
TWO = (
    Replica(task_id="t1", slot=1, node="node-a", state="running", address="10.0.1.3"),
    Replica(task_id="t2", slot=2, node="node-a", state="running", address="10.0.1.4"),
)


def _serve(store: RegistryStore, version: str) -> None:
    store.announce(name="notes", version=version, url=URL, health_path="/health", provenance=Provenance())
    store.activate("notes", version)


def test_the_serving_version_s_replicas_are_listed_and_replaced_when_seen_again(store: RegistryStore) -> None:
    _serve(store, "v1")
    store.record_replicas("notes", "v1", TWO)
    store.record_replicas("notes", "v1", TWO[:1])

    entry = store.get("notes")

    assert entry is not None and [r.task_id for r in entry.replicas] == ["t1"]
    assert [e.replicas for e in store.entries()] == [TWO[:1]]


def test_a_retired_or_deregistered_version_has_no_replicas_left(store: RegistryStore) -> None:
    _serve(store, "v1")
    store.record_replicas("notes", "v1", TWO)
    _serve(store, "v2")
    store.record_replicas("notes", "v2", TWO)

    store.retire("notes", "v1")
    store.deregister("notes")

    assert [(e.version, e.replicas) for e in store.versions("notes")] == [("v2", ())]


def test_replicas_registering_at_the_same_moment_both_succeed(
    store: RegistryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second copy read "no such version" just before the first one's row was committed."""
    look_up = RegistryStore._instance
    raced: list[Registration] = []
    calls = []

    def stale(session: Any, name: str, version: str) -> ServiceInstance | None:
        calls.append(version)
        if len(calls) == 1:
            raced.append(store.register(name=name, version=version, url=URL))  # the other replica, first
            return None
        return look_up(session, name, version)

    monkeypatch.setattr(RegistryStore, "_instance", staticmethod(stale))

    second = store.register(name="notes", version="v1", url=URL)

    assert raced[0].outcome == "created" and second.outcome == "updated"
    assert [e.version for e in store.versions("notes")] == ["v1"]
