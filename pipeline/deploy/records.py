"""Deployment records on the state database: which instances a deployer started, so a restarted bot can
find, adopt or restart them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Boolean, DateTime, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from pipeline.deploy.model import Backend, Instance
from pipeline.state import Base, Database


class DeployedInstance(Base):
    __tablename__ = "deploy_instances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), index=True)
    version: Mapped[str] = mapped_column(String(200))
    backend: Mapped[str] = mapped_column(String(16))
    handle: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(String(2000))
    port: Mapped[int] = mapped_column(Integer)
    health_path: Mapped[str] = mapped_column(String(500))
    service_dir: Mapped[str] = mapped_column(String(2000))
    log_path: Mapped[str] = mapped_column(String(2000), default="")
    started_marker: Mapped[str] = mapped_column(String(100), default="")
    image: Mapped[str] = mapped_column(String(300), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    def to_instance(self) -> Instance:
        return Instance(
            id=self.id,
            name=self.name,
            version=self.version,
            backend=Backend(self.backend),
            handle=self.handle,
            url=self.url,
            port=self.port,
            health_path=self.health_path,
            service_dir=Path(self.service_dir),
            log_path=self.log_path,
            started_marker=self.started_marker,
            image=self.image,
            active=self.active,
        )


class DeploymentRecords:
    """The instances one backend started, active (serving its name) or not (being started or drained);
    `elsewhere` and `active_elsewhere` show what the other backends run."""

    def __init__(self, db: Database, backend: Backend) -> None:
        self._db = db
        self._backend = backend

    def add(self, instance: Instance) -> Instance:
        with self._db.session() as session:
            row = DeployedInstance(
                name=instance.name,
                version=instance.version,
                backend=self._backend,
                handle=instance.handle,
                url=instance.url,
                port=instance.port,
                health_path=instance.health_path,
                service_dir=str(instance.service_dir),
                log_path=instance.log_path,
                started_marker=instance.started_marker,
                image=instance.image,
                active=False,
                created_at=datetime.now(UTC),
            )
            session.add(row)
            session.flush()
            return row.to_instance()

    def activate(self, instance: Instance) -> None:
        """Make `instance` the one serving its name; the others stay recorded until they are stopped."""
        with self._db.session() as session:
            for row in self._rows(session, instance.name):
                row.active = row.id == instance.id

    def remove(self, instance: Instance) -> None:
        with self._db.session() as session:
            row = session.get(DeployedInstance, instance.id)
            if row is not None:
                session.delete(row)

    def for_name(self, name: str) -> list[Instance]:
        """Every instance under a name, the active one first."""
        with self._db.session() as session:
            rows = sorted(self._rows(session, name), key=lambda r: (not r.active, r.id))
            return [row.to_instance() for row in rows]

    def elsewhere(self, name: str) -> list[Instance]:
        """Instances under a name that another backend started (a deploy here replaces them)."""
        with self._db.session() as session:
            rows = session.scalars(
                select(DeployedInstance)
                .where(DeployedInstance.name == name, DeployedInstance.backend != self._backend)
                .order_by(DeployedInstance.id)
            ).all()
            return [row.to_instance() for row in rows]

    def active_elsewhere(self) -> list[Instance]:
        """The active instances of every other backend."""
        with self._db.session() as session:
            rows = session.scalars(
                select(DeployedInstance)
                .where(DeployedInstance.backend != self._backend, DeployedInstance.active.is_(True))
                .order_by(DeployedInstance.name, DeployedInstance.id)
            ).all()
            return [row.to_instance() for row in rows]

    def active(self, name: str) -> Instance | None:
        found = [i for i in self.for_name(name) if i.active]
        return found[0] if found else None

    def all(self) -> list[Instance]:
        with self._db.session() as session:
            rows = session.scalars(
                select(DeployedInstance)
                .where(DeployedInstance.backend == self._backend)
                .order_by(DeployedInstance.name, DeployedInstance.id)
            ).all()
            return [row.to_instance() for row in rows]

    def _rows(self, session: Session, name: str) -> list[DeployedInstance]:
        return list(
            session.scalars(
                select(DeployedInstance).where(
                    DeployedInstance.name == name, DeployedInstance.backend == self._backend
                )
            ).all()
        )
