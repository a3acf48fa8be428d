"""The registry store: self-registration, heartbeats and TTL, blue/green switching, provenance."""

from __future__ import annotations

from pipeline.registry import Provenance, RegistryStore, ServiceStatus
from pipeline.registry.model import RegistrationOutcome
from pipeline.state import Database
from tests.fixtures.clock import ManualClock

PROVENANCE = Provenance(
    intent_path="intents/hello-world.yaml",
    spec_hash="sha256:abc",
    commit_sha="0123456789abcdef0123456789abcdef01234567",
    pr_number=7,
    approvers=("alice", "bob"),
    image_digest="sha256:def",
)


def test_a_registered_service_is_listed_and_healthy(store: RegistryStore) -> None:
    registration = store.register(
        name="hello-world", version="v1", url="http://127.0.0.1:9001", health_path="/health"
    )

    assert registration.outcome is RegistrationOutcome.CREATED and registration.serves
    assert registration.entry.status is ServiceStatus.HEALTHY
    assert [e.name for e in store.entries()] == ["hello-world"]
    fetched = store.get("hello-world")
    assert fetched is not None and fetched.url == "http://127.0.0.1:9001"
    assert store.get("unknown") is None


def test_no_heartbeat_within_the_ttl_turns_the_entry_unhealthy(
    store: RegistryStore, clock: ManualClock
) -> None:
    store.register(name="hello-world", version="v1", url="http://127.0.0.1:9001")
    clock.advance(29)
    assert store.get("hello-world").status is ServiceStatus.HEALTHY  # type: ignore[union-attr]
    clock.advance(2)
    assert store.get("hello-world").status is ServiceStatus.UNHEALTHY  # type: ignore[union-attr]

    beat = store.heartbeat("hello-world", "v1")

    assert beat is not None and beat.status is ServiceStatus.HEALTHY
    assert beat.last_heartbeat == clock.now


def test_a_heartbeat_for_an_unknown_version_is_refused(store: RegistryStore) -> None:
    store.register(name="hello-world", version="v1", url="http://127.0.0.1:9001")

    assert store.heartbeat("hello-world", "v2") is None
    assert store.heartbeat("nobody", "v1") is None


def test_an_announced_version_does_not_serve_until_activated(store: RegistryStore) -> None:
    store.register(name="hello-world", version="v1", url="http://127.0.0.1:9001")

    store.announce(
        name="hello-world",
        version="v2",
        url="http://127.0.0.1:9002",
        health_path="/health",
        provenance=PROVENANCE,
    )
    # The new version registering itself at start-up must not take the name before its health check.
    early = store.register(name="hello-world", version="v2", url="http://127.0.0.1:9002")
    assert early.outcome is RegistrationOutcome.UPDATED and not early.serves
    assert early.serving is not None and early.serving.version == "v1"
    assert store.get("hello-world").version == "v1"  # type: ignore[union-attr]

    switched = store.activate("hello-world", "v2")

    assert switched.version == "v2" and switched.provenance == PROVENANCE
    assert store.get("hello-world").url == "http://127.0.0.1:9002"  # type: ignore[union-attr]
    store.retire("hello-world", "v1")
    assert [e.version for e in store.versions("hello-world")] == ["v2"]


def test_an_announced_version_is_starting_until_it_registers(store: RegistryStore) -> None:
    store.announce(
        name="notes", version="v1", url="http://127.0.0.1:9003", health_path="/health", provenance=PROVENANCE
    )
    entry = store.activate("notes", "v1")
    assert entry.status is ServiceStatus.HEALTHY

    store.announce(
        name="notes", version="v2", url="http://127.0.0.1:9004", health_path="/health", provenance=PROVENANCE
    )
    assert store.versions("notes")[1].status is ServiceStatus.STARTING


def test_retiring_a_failed_candidate_leaves_the_serving_version_alone(store: RegistryStore) -> None:
    store.register(name="hello-world", version="v1", url="http://127.0.0.1:9001")
    store.announce(
        name="hello-world",
        version="bad",
        url="http://127.0.0.1:9002",
        health_path="/health",
        provenance=PROVENANCE,
    )

    store.retire("hello-world", "bad")
    store.retire("hello-world", "v1")  # the active version is never retired behind the deployer's back

    assert [e.version for e in store.versions("hello-world")] == ["v1"]


def test_deregister_marks_the_service_gone_and_says_what_it_removed(store: RegistryStore) -> None:
    store.register(name="hello-world", version="v1", url="http://127.0.0.1:9001")

    assert [(e.version, e.status) for e in store.deregister("hello-world")] == [("v1", ServiceStatus.HEALTHY)]
    assert store.get("hello-world").status is ServiceStatus.GONE  # type: ignore[union-attr]
    assert store.deregister("hello-world") == []
    assert store.entries(include_gone=False) == []
    assert store.heartbeat("hello-world", "v1") is None


def test_a_deregistered_version_does_not_register_itself_again_until_deployed_again(
    store: RegistryStore,
) -> None:
    store.register(name="hello-world", version="v1", url="http://127.0.0.1:9001")
    store.deregister("hello-world")

    refused = store.register(name="hello-world", version="v1", url="http://127.0.0.1:9001")
    assert refused.outcome is RegistrationOutcome.REFUSED and refused.serving is None

    store.announce(
        name="hello-world",
        version="v1",
        url="http://127.0.0.1:9005",
        health_path="/health",
        provenance=PROVENANCE,
    )
    assert store.register(name="hello-world", version="v1", url="http://127.0.0.1:9005").serves
    assert store.get("hello-world").url == "http://127.0.0.1:9005"  # type: ignore[union-attr]


def test_a_gone_name_is_taken_over_by_the_next_registration(store: RegistryStore) -> None:
    store.register(name="hello-world", version="v1", url="http://127.0.0.1:9001")
    store.deregister("hello-world")

    store.register(name="hello-world", version="v2", url="http://127.0.0.1:9002")

    entry = store.get("hello-world")
    assert entry is not None and entry.version == "v2" and entry.status is ServiceStatus.HEALTHY
    assert [e.version for e in store.versions("hello-world")] == ["v2"]


def test_deregistering_one_version_keeps_the_serving_one(store: RegistryStore) -> None:
    store.register(name="hello-world", version="v1", url="http://127.0.0.1:9001")
    store.announce(
        name="hello-world",
        version="v2",
        url="http://127.0.0.1:9002",
        health_path="/health",
        provenance=PROVENANCE,
    )
    store.activate("hello-world", "v2")

    assert [e.version for e in store.deregister("hello-world", "v1")] == ["v1"]

    entry = store.get("hello-world")
    assert entry is not None and entry.version == "v2" and entry.status is ServiceStatus.HEALTHY


def test_entries_survive_a_new_store_on_the_same_database(
    store: RegistryStore, clock: ManualClock, database: Database
) -> None:
    store.announce(
        name="hello-world",
        version="v1",
        url="http://127.0.0.1:9001",
        health_path="/health",
        provenance=PROVENANCE,
    )
    store.activate("hello-world", "v1")

    reopened = RegistryStore(database, clock=clock)

    entry = reopened.get("hello-world")
    assert entry is not None and entry.provenance.approvers == ("alice", "bob")
    assert entry.registered_at == clock.now
