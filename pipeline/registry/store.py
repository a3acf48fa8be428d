"""The registry's store on the state database: one row per running version of a service.

A service name can have two versions at once during a blue/green switch. The one marked `active` answers
for the name; the other is a candidate (being started) or a predecessor (being drained). Services
register themselves and send heartbeats; deployers announce, activate and retire versions.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Boolean, DateTime, Integer, String, Text, UniqueConstraint, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.orm.exc import StaleDataError

from pipeline.registry.model import (
    Provenance,
    Registration,
    RegistrationOutcome,
    RegistryEntry,
    Replica,
    ServiceStatus,
)
from pipeline.state import Base, Database

Clock = Callable[[], datetime]
DEFAULT_TTL = timedelta(seconds=30)
REGISTER_ATTEMPTS = 3


def utc_now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite hands datetimes back without a zone; every stored one is UTC.
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


class ServiceInstance(Base):
    """A version of a service the registry knows about."""

    __tablename__ = "registry_instances"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_registry_instance"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), index=True)
    version: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(2000))
    health_path: Mapped[str] = mapped_column(String(500), default="/health")
    status: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_heartbeat: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    intent_path: Mapped[str] = mapped_column(String(500), default="")
    spec_hash: Mapped[str] = mapped_column(String(128), default="")
    commit_sha: Mapped[str] = mapped_column(String(64), default="")
    pr_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    approvers: Mapped[str] = mapped_column(Text, default="[]")
    image_digest: Mapped[str] = mapped_column(String(128), default="")

    def set_provenance(self, provenance: Provenance) -> None:
        self.intent_path = provenance.intent_path
        self.spec_hash = provenance.spec_hash
        self.commit_sha = provenance.commit_sha
        self.pr_number = provenance.pr_number
        self.approvers = json.dumps(list(provenance.approvers))
        self.image_digest = provenance.image_digest

    def provenance(self) -> Provenance:
        return Provenance(
            intent_path=self.intent_path,
            spec_hash=self.spec_hash,
            commit_sha=self.commit_sha,
            pr_number=self.pr_number,
            approvers=tuple(json.loads(self.approvers or "[]")),
            image_digest=self.image_digest,
        )


class ReplicaRow(Base):
    """One running copy (a Swarm task) of a registered version, as its deployer last saw it."""

    __tablename__ = "registry_replicas"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), index=True)
    version: Mapped[str] = mapped_column(String(200))
    task_id: Mapped[str] = mapped_column(String(100))
    slot: Mapped[int] = mapped_column(Integer, default=0)
    node: Mapped[str] = mapped_column(String(255), default="")
    state: Mapped[str] = mapped_column(String(32), default="")
    address: Mapped[str] = mapped_column(String(64), default="")
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    def replica(self) -> Replica:
        return Replica(
            task_id=self.task_id, slot=self.slot, node=self.node, state=self.state, address=self.address
        )


ReplicaMap = dict[tuple[str, str], tuple[Replica, ...]]


class RegistryStore:
    """Reads and writes registry entries; statuses age into `unhealthy` when heartbeats stop."""

    def __init__(self, db: Database, *, ttl: timedelta = DEFAULT_TTL, clock: Clock = utc_now) -> None:
        self._db = db
        self.ttl = ttl
        self._clock = clock

    # --- what generated services call (over HTTP) ---

    def register(self, *, name: str, version: str, url: str, health_path: str = "/health") -> Registration:
        """A service announces itself. It takes the name over only if no other version holds it (during a
        switch the deployer does that, after the health check). A version that was deregistered stays so
        (REFUSED) until a deployer announces it again: a service still running after its deregistration
        does not put itself back. Replicas of one version registering at once: the second is an update."""
        for attempt in range(1, REGISTER_ATTEMPTS + 1):
            try:
                return self._register(name=name, version=version, url=url, health_path=health_path)
            except (IntegrityError, StaleDataError):  # another replica's row came (or went) meanwhile
                if attempt == REGISTER_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    def _register(self, *, name: str, version: str, url: str, health_path: str) -> Registration:
        now = self._clock()
        with self._db.session() as session:
            row = self._instance(session, name, version)
            if row is not None and row.status == ServiceStatus.GONE:
                return self._registration(session, RegistrationOutcome.REFUSED, row)
            outcome = RegistrationOutcome.UPDATED if row is not None else RegistrationOutcome.CREATED
            if row is None:
                row = ServiceInstance(name=name, version=version, registered_at=now)
                session.add(row)
            row.url, row.health_path = url, health_path
            row.status, row.last_heartbeat = ServiceStatus.HEALTHY, now
            holder = self._active(session, name)
            if holder is None or holder is row or holder.status == ServiceStatus.GONE:
                self._make_active(session, row)
            session.flush()
            return self._registration(session, outcome, row)

    def heartbeat(self, name: str, version: str) -> RegistryEntry | None:
        """None when that version is unknown (the service should register again)."""
        try:
            with self._db.session() as session:
                row = self._instance(session, name, version)
                if row is None or row.status == ServiceStatus.GONE:
                    return None
                row.status, row.last_heartbeat = ServiceStatus.HEALTHY, self._clock()
                return self._entry(row)
        except StaleDataError:  # a deployer retired that version meanwhile
            return None

    def deregister(self, name: str, version: str | None = None) -> list[RegistryEntry]:
        """Mark a service (or one version of it) gone; the entries deregistered, as they were before (empty:
        nothing registered matched). Gone entries are kept, so the service's history and provenance stay
        readable and the version cannot register itself again; a deploy of it announces it anew."""
        with self._db.session() as session:
            rows = self._instances(session, name)
            live = [
                r
                for r in rows
                if (version is None or r.version == version) and r.status != ServiceStatus.GONE
            ]
            removed = [self._entry(row) for row in live]
            for row in live:
                row.status = ServiceStatus.GONE
                self._forget_replicas(session, row.name, row.version)
            return removed

    # --- what deployers call (Python API) ---

    def announce(
        self, *, name: str, version: str, url: str, health_path: str, provenance: Provenance
    ) -> RegistryEntry:
        """Record a version being started beside the current one; it does not serve the name yet."""
        with self._db.session() as session:
            row = self._instance(session, name, version)
            if row is None:
                row = ServiceInstance(name=name, version=version, registered_at=self._clock())
                session.add(row)
            if row.status in (None, ServiceStatus.GONE):  # new, or deployed again after its deregistration
                row.status = ServiceStatus.STARTING
            row.url, row.health_path = url, health_path
            row.set_provenance(provenance)
            session.flush()
            return self._entry(row)

    def activate(self, name: str, version: str) -> RegistryEntry:
        """Switch the name to this version (after its health check passed)."""
        with self._db.session() as session:
            row = self._instance(session, name, version)
            if row is None:
                raise KeyError(f"{name} {version} was never announced")
            if row.status in (ServiceStatus.STARTING, ServiceStatus.GONE):
                row.status, row.last_heartbeat = ServiceStatus.HEALTHY, self._clock()
            self._make_active(session, row)
            session.flush()
            return self._entry(row)

    def retire(self, name: str, version: str) -> None:
        """Forget a version that no longer runs (a drained predecessor or a failed candidate)."""
        with self._db.session() as session:
            row = self._instance(session, name, version)
            if row is not None and not row.active:
                session.delete(row)
                self._forget_replicas(session, name, version)

    def record_replicas(self, name: str, version: str, replicas: Sequence[Replica]) -> None:
        """The copies of a version now running (a deployer that runs several saw them): they replace the
        ones recorded before for that version."""
        now = self._clock()
        with self._db.session() as session:
            self._forget_replicas(session, name, version)
            for replica in replicas:
                session.add(ReplicaRow(name=name, version=version, seen_at=now, **replica.model_dump()))

    # --- reads ---

    def get(self, name: str) -> RegistryEntry | None:
        with self._db.session() as session:
            row = self._active(session, name)
            if row is None:
                return None
            return self._entry(row, self._replicas(session, [name]))

    def entries(self, *, include_gone: bool = True) -> list[RegistryEntry]:
        with self._db.session() as session:
            rows = session.scalars(
                select(ServiceInstance).where(ServiceInstance.active).order_by(ServiceInstance.name)
            ).all()
            replicas = self._replicas(session, None)
            entries = [self._entry(row, replicas) for row in rows]
        return [e for e in entries if include_gone or e.status is not ServiceStatus.GONE]

    def versions(self, name: str) -> list[RegistryEntry]:
        """Every version recorded under a name, the active one first."""
        with self._db.session() as session:
            rows = sorted(self._instances(session, name), key=lambda r: (not r.active, r.id))
            replicas = self._replicas(session, [name])
            return [self._entry(row, replicas) for row in rows]

    # --- helpers ---

    def _status(self, row: ServiceInstance) -> ServiceStatus:
        status = ServiceStatus(row.status)
        heartbeat = _aware(row.last_heartbeat)
        if status is ServiceStatus.HEALTHY and (heartbeat is None or self._clock() - heartbeat > self.ttl):
            return ServiceStatus.UNHEALTHY
        return status

    @staticmethod
    def _replicas(session: Session, names: Iterable[str] | None) -> ReplicaMap:
        """The recorded copies by (name, version), of the given names (None: of every name), in one query."""
        query = select(ReplicaRow).order_by(ReplicaRow.name, ReplicaRow.slot, ReplicaRow.id)
        if names is not None:
            query = query.where(ReplicaRow.name.in_(list(names)))
        found: dict[tuple[str, str], list[Replica]] = {}
        for row in session.scalars(query).all():
            found.setdefault((row.name, row.version), []).append(row.replica())
        return {key: tuple(value) for key, value in found.items()}

    @staticmethod
    def _forget_replicas(session: Session, name: str, version: str) -> None:
        session.execute(delete(ReplicaRow).where(ReplicaRow.name == name, ReplicaRow.version == version))

    def _entry(self, row: ServiceInstance, replicas: ReplicaMap | None = None) -> RegistryEntry:
        registered_at = _aware(row.registered_at)
        assert registered_at is not None
        return RegistryEntry(
            name=row.name,
            version=row.version,
            url=row.url,
            health_path=row.health_path,
            status=self._status(row),
            registered_at=registered_at,
            last_heartbeat=_aware(row.last_heartbeat),
            provenance=row.provenance(),
            replicas=(replicas or {}).get((row.name, row.version), ()),
        )

    @staticmethod
    def _instance(session: Session, name: str, version: str) -> ServiceInstance | None:
        return session.scalars(
            select(ServiceInstance).where(ServiceInstance.name == name, ServiceInstance.version == version)
        ).first()

    @staticmethod
    def _instances(session: Session, name: str) -> list[ServiceInstance]:
        return list(session.scalars(select(ServiceInstance).where(ServiceInstance.name == name)).all())

    @staticmethod
    def _active(session: Session, name: str) -> ServiceInstance | None:
        return session.scalars(
            select(ServiceInstance).where(ServiceInstance.name == name, ServiceInstance.active)
        ).first()

    def _make_active(self, session: Session, row: ServiceInstance) -> None:
        for other in self._instances(session, row.name):
            if other is row:
                continue
            if other.status == ServiceStatus.GONE:  # a new version holds the name: old deregistrations go
                session.delete(other)
            other.active = False
        row.active = True

    def _registration(
        self, session: Session, outcome: RegistrationOutcome, row: ServiceInstance
    ) -> Registration:
        holder = self._active(session, row.name)
        serving = self._entry(holder) if holder is not None and holder.status != ServiceStatus.GONE else None
        return Registration(outcome=outcome, entry=self._entry(row), serving=serving)
