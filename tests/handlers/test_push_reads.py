"""A push of many intents asks the forge for each file once, not once per intent that checks the others
(against the strict in-memory repository, counting what it is asked)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from bot.events import Commit, PushEvent
from bot.handlers.intents import on_push, read_intent
from bot.queue import Job, JobQueue
from bot.routing import BotContext
from bot.settings import Settings
from bot.vcs.commitfiles import CommitFiles
from tests.conftest import EXAMPLES
from tests.fixtures.fake_repo import FakeRepo, handler_line

REPO = "acme/intents"
BEFORE, AFTER = "a" * 40, "d" * 40
INTENTS = 30


class CountingRepo(FakeRepo):
    """The fake repository, counting every file read by (path, ref)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.reads: Counter[tuple[str, str]] = Counter()

    def read_file(self, path: str, ref: str) -> bytes | None:
        self.reads[(path, ref)] += 1
        return super().read_file(path, ref)


def intent(n: int) -> bytes:
    purpose = "Keep short team notes, so the team shares them."
    return f"service_name: notes-{n}\npurpose: {purpose}\ntier: 1\n".encode()


def test_every_intent_of_a_push_checks_the_others_names_with_one_read_of_each_file(tmp_path: Path) -> None:
    paths = [f"intents/notes-{n}.yaml" for n in range(INTENTS)]
    blueprint = {"BLUEPRINT.md": (EXAMPLES / "BLUEPRINT.md").read_bytes()}
    pushed = {**blueprint, **{path: intent(n) for n, path in enumerate(paths)}}
    repo = CountingRepo(REPO, files={"main": pushed, BEFORE: blueprint, AFTER: pushed})
    line = handler_line(tmp_path, repo)
    context = BotContext(
        Settings(INTENTOPS_DATA_DIR=str(tmp_path)),
        line.ledger.database,
        JobQueue(line.ledger.database),
        line,
    )
    on_push(push(paths), context)
    reads = claimed(context)
    assert len(reads) == INTENTS
    for job in reads:
        read_intent(job, context)

    assert len(claimed(context)) == INTENTS  # every intent is valid and owns its name: one build each
    assert {path: repo.reads[(path, AFTER)] for path in paths} == {path: 1 for path in paths}


def test_reads_at_a_branch_go_to_the_forge_each_time_and_the_cache_stays_bounded() -> None:
    commits = {f"{n:02d}" * 20: {"a.yaml": b"z" * 100} for n in range(20)}
    repo = CountingRepo(
        REPO, files={"main": {"a.yaml": b"x" * 100}, AFTER: {"a.yaml": b"y" * 100}, **commits}
    )
    files = CommitFiles(max_bytes=1000)
    reader = files.reader(repo)
    assert [reader.read_file("a.yaml", "main") for _ in range(2)] == [b"x" * 100] * 2
    assert [reader.read_file("a.yaml", AFTER) for _ in range(2)] == [b"y" * 100] * 2
    assert repo.reads == {("a.yaml", "main"): 2, ("a.yaml", AFTER): 1}
    for sha in commits:
        assert files.read_file(repo, "a.yaml", sha) == b"z" * 100
    assert files._size <= files.max_bytes  # the oldest were dropped
    files.read_file(repo, "a.yaml", next(iter(commits)))
    assert repo.reads[("a.yaml", next(iter(commits)))] == 2


def push(paths: list[str]) -> PushEvent:
    return PushEvent(
        repo=REPO,
        sender="alice",
        installation_id=None,
        ref="refs/heads/main",
        before=BEFORE,
        after=AFTER,
        default_branch="main",
        pusher="alice",
        commits=(Commit(AFTER, "intents", tuple(paths), (), ()),),
        deleted=False,
        forced=False,
    )


def claimed(context: BotContext) -> list[Job]:
    jobs = []
    while (job := context.queue.claim("test")) is not None:
        jobs.append(job)
    return jobs
