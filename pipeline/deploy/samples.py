"""Containers' CPU seconds and memory, sampled from the Docker engine's stats, to price compute per service.

The engine's CPU counter is cumulative since the container started and its memory figure is the current
use; neither outlives the container. So the line samples a container when it stops one (undeployed or
replaced: its final figures) and whenever usage is asked for (the live ones), and keeps the samples here.
Between two samples of one run of a container, the CPU used is the counter's difference and the memory is
the mean of the two readings over the time between them; the first sample of a run counts from its start.
Memory is priced in GB-hours, a GB being 2**30 bytes.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from docker.errors import DockerException, NotFound
from requests import RequestException
from sqlalchemy import BigInteger, Boolean, DateTime, Index, Integer, String, func, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from pipeline.deploy.docker import LABEL_OWNER, LABEL_SERVICE, LABEL_VERSION
from pipeline.state import Base, Database

log = logging.getLogger(__name__)

GB = 2**30
NANOSECONDS = 1_000_000_000
KEEP_EVERY = timedelta(hours=1)
"""Live samples closer together than this are thinned out (see `ContainerSamples.add`)."""
FINAL_NOT_RECORDED = "the final CPU and memory figures of container %s (%s) were not recorded: %s"


class ContainerSampleRow(Base):
    __tablename__ = "container_samples"
    __table_args__ = (Index("ix_container_samples_container", "container_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    container_id: Mapped[str] = mapped_column(String(80))
    service: Mapped[str] = mapped_column(String(63), index=True)
    version: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    cpu_ns: Mapped[int] = mapped_column(BigInteger)
    memory_bytes: Mapped[int] = mapped_column(BigInteger)
    final: Mapped[bool] = mapped_column(Boolean, default=False)


@dataclass(frozen=True)
class ContainerSample:
    """One reading of a container: its CPU time since `started_at`, and the memory it used at `at`."""

    container_id: str
    service: str
    version: str
    started_at: datetime
    at: datetime
    cpu_ns: int
    memory_bytes: int
    final: bool = False


@dataclass
class ComputeUsage:
    """A service's containers in a period: CPU seconds, and memory in GB-hours."""

    cpu_seconds: float = 0.0
    memory_gb_hours: float = 0.0


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_started_at(value: str) -> datetime:
    """Docker's `State.StartedAt` (RFC 3339 with nanoseconds) as an aware datetime."""
    stamp = value.strip().removesuffix("Z")
    whole, _, fraction = stamp.partition(".")
    moment = datetime.fromisoformat(whole + (f".{fraction[:6]}" if fraction else ""))
    return _utc(moment)


def cpu_and_memory(stats: Mapping[str, Any]) -> tuple[int, int]:
    """(CPU nanoseconds since the start, memory bytes in use) from one `container.stats(stream=False)`.
    Memory leaves out the inactive page cache, as `docker stats` does (cgroup v2 and v1 name it apart)."""
    cpu = int(stats.get("cpu_stats", {}).get("cpu_usage", {}).get("total_usage", 0) or 0)
    memory = stats.get("memory_stats", {})
    detail = memory.get("stats", {}) or {}
    cache = detail.get("inactive_file", detail.get("total_inactive_file", 0)) or 0
    return cpu, max(0, int(memory.get("usage", 0) or 0) - int(cache))


def read_sample(container: Any, *, at: datetime, final: bool = False) -> ContainerSample | None:
    """A running container's figures from the engine; None when it is not running (no figures to read).
    Raises docker.errors.DockerException when the engine does not answer."""
    state = container.attrs.get("State", {})
    if not state.get("Running"):
        return None
    cpu, memory = cpu_and_memory(container.stats(stream=False, one_shot=True))
    labels = container.labels
    return ContainerSample(
        container_id=str(container.id),
        service=labels.get(LABEL_SERVICE, ""),
        version=labels.get(LABEL_VERSION, ""),
        started_at=parse_started_at(str(state.get("StartedAt", ""))),
        at=at,
        cpu_ns=cpu,
        memory_bytes=memory,
        final=final,
    )


class ContainerSamples:
    """The samples in the state database: taken from the engine, and summed per service and period."""

    def __init__(self, db: Database, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._db = db
        self._clock = clock

    def add(self, sample: ContainerSample) -> None:
        """Keep `sample`. A live one replaces the container's newest live sample when the one before that
        is less than KEEP_EVERY older (same run, same month): a page asked for every minute keeps about a
        sample an hour per container, and CPU, a counter, loses nothing."""
        with self._db.session() as session:
            newest = session.scalars(
                select(ContainerSampleRow)
                .where(ContainerSampleRow.container_id == sample.container_id)
                .order_by(ContainerSampleRow.at.desc(), ContainerSampleRow.id.desc())
                .limit(2)
            ).all()
            if not sample.final and _replaceable(newest, sample):
                head = newest[0]
                head.at, head.cpu_ns, head.memory_bytes = sample.at, sample.cpu_ns, sample.memory_bytes
                return
            session.add(
                ContainerSampleRow(
                    container_id=sample.container_id,
                    service=sample.service,
                    version=sample.version,
                    started_at=sample.started_at,
                    at=sample.at,
                    cpu_ns=sample.cpu_ns,
                    memory_bytes=sample.memory_bytes,
                    final=sample.final,
                )
            )

    def record_final(self, container: Any) -> ContainerSample | None:
        """The hook the Docker runtime calls before it stops a container. A figure that cannot be read or
        kept is logged and the stop goes on: a lost sample costs a few seconds of pricing, a failed stop
        would keep a replaced version running."""
        try:
            sample = read_sample(container, at=self._clock(), final=True)
            if sample is not None:
                self.add(sample)
            return sample
        except (DockerException, RequestException, SQLAlchemyError) as exc:
            log.warning(FINAL_NOT_RECORDED, container.id, container.labels.get(LABEL_SERVICE, "?"), exc)
            return None

    def sample_live(self, client: Any, *, owner: str) -> list[ContainerSample]:
        """Sample every running container of this installation (`owner`); raises DockerException when the
        engine does not answer. A container that stops meanwhile is skipped."""
        mine = [LABEL_SERVICE, f"{LABEL_OWNER}={owner}"]
        taken = []
        for container in client.containers.list(filters={"label": mine}):
            try:
                sample = read_sample(container, at=self._clock())
            except NotFound:
                continue
            if sample is not None:
                self.add(sample)
                taken.append(sample)
        return taken

    def usage(self, *, lower: datetime, upper: datetime) -> dict[str, ComputeUsage]:
        """Each service's CPU seconds and memory GB-hours between `lower` and `upper`."""
        row = ContainerSampleRow
        later = select(row.container_id).where(row.at >= lower).distinct()
        # Of the samples before `lower`, only each container's newest counts (its counter's base).
        base = (
            select(func.max(row.id))
            .where(row.at < lower, row.container_id.in_(later))
            .group_by(row.container_id)
        )
        query = (
            select(row)
            .where(or_(row.at >= lower, row.id.in_(base)))
            .order_by(row.container_id, row.at, row.id)
        )
        with self._db.session() as session:
            samples = [_sample(row) for row in session.scalars(query)]
        return priced_spans(samples, lower=lower, upper=upper)


def _replaceable(newest: Sequence[ContainerSampleRow], sample: ContainerSample) -> bool:
    if len(newest) < 2:
        return False
    head, before = (_sample(row) for row in newest)
    same_run = head.started_at == before.started_at == sample.started_at
    return (
        same_run
        and not head.final
        and head.cpu_ns <= sample.cpu_ns
        and (head.at.year, head.at.month) == (sample.at.year, sample.at.month)
        and sample.at - before.at < KEEP_EVERY
    )


def _sample(row: ContainerSampleRow) -> ContainerSample:
    return ContainerSample(
        row.container_id,
        row.service,
        row.version,
        _utc(row.started_at),
        _utc(row.at),
        row.cpu_ns,
        row.memory_bytes,
        row.final,
    )


def priced_spans(
    samples: Iterable[ContainerSample], *, lower: datetime, upper: datetime
) -> dict[str, ComputeUsage]:
    """Sum the spans between consecutive samples (ordered per container, then by time) that fall between
    `lower` and `upper`, a span across a bound counting in proportion to its part inside."""
    usage: dict[str, ComputeUsage] = defaultdict(ComputeUsage)
    previous: ContainerSample | None = None
    for sample in samples:
        same_run = (
            previous is not None
            and previous.container_id == sample.container_id
            and previous.started_at == sample.started_at
            and previous.cpu_ns <= sample.cpu_ns
        )
        if same_run and previous is not None:
            begin, cpu_ns = previous.at, sample.cpu_ns - previous.cpu_ns
            memory = (previous.memory_bytes + sample.memory_bytes) / 2
        else:  # a run's first sample: its counter started with the run
            begin, cpu_ns, memory = sample.started_at, sample.cpu_ns, float(sample.memory_bytes)
        _add_span(usage[sample.service], begin, sample.at, cpu_ns, memory, lower=lower, upper=upper)
        previous = sample
    return {service: used for service, used in usage.items() if used.cpu_seconds or used.memory_gb_hours}


def _add_span(
    used: ComputeUsage,
    begin: datetime,
    end: datetime,
    cpu_ns: int,
    memory: float,
    *,
    lower: datetime,
    upper: datetime,
) -> None:
    span = (end - begin).total_seconds()
    if span <= 0:
        if lower <= end < upper:
            used.cpu_seconds += cpu_ns / NANOSECONDS
        return
    inside = max(0.0, (min(end, upper) - max(begin, lower)).total_seconds())
    used.cpu_seconds += cpu_ns / NANOSECONDS * inside / span
    used.memory_gb_hours += memory / GB * inside / 3600
