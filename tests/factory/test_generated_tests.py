"""The generated tests check what each endpoint answers, not only its status: a service whose behaviour is
broken in one place (a condition, the sort, a page, a change, a counter, a fixed answer, a relation, a
figure, the seed rows) fails that behaviour's tests in the sandbox, and no others."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline.sandbox import ProcessSandbox

MUTATIONS = [
    # (example, file, what the code says, what the broken code says, the check whose test must fail)
    ("todo", "app/behaviours.py", '"lt": actual < wanted', '"lt": True', "query_ok"),
    (
        "todo",
        "app/behaviours.py",
        "for name, descending in reversed(tuple(order)):",
        "for name, descending in ():",
        "query_ok",
    ),
    ("todo", "app/routes.py", "rows[offset : offset + limit]", "rows[:limit]", "query_page"),
    ("todo", "app/behaviours.py", "values = {**plan.set, ", "values = {", "action_ok"),
    ("links", "app/storage.py", 'COALESCE("{n}", 0) + ?', 'COALESCE("{n}", 0) + 0 * ?', "redirect_ok"),
    ("hello-world", "app/routes.py", '"message": "Hello, world!"}', '"message": "Hello!"}', "static_ok"),
    ("hello-world", "app/main.py", "            plant_seed(app.state.storage)", "            pass", "seeded"),
    (
        "notebooks",
        "app/behaviours.py",
        '_plan_delete(storage, child, int(row["id"]), doomed)',
        "pass",
        "relation_delete",
    ),
    (
        "notebooks",
        "app/behaviours.py",
        "for parent, name in PARENTS.get(resource, ()):",
        "for parent, name in ():",
        "relation_refused",
    ),
    ("bookmarks", "app/behaviours.py", "return sum(values)", "return len(values)", "aggregate_ok"),
]


@pytest.mark.parametrize(("example", "file", "good", "bad", "check"), MUTATIONS, ids=lambda v: str(v)[:24])
def test_a_broken_behaviour_fails_its_own_test(
    example: str,
    file: str,
    good: str,
    bad: str,
    check: str,
    generated: dict[str, Path],
    sandbox_python: Path,
    tmp_path: Path,
) -> None:
    service = tmp_path / example
    shutil.copytree(generated[example], service)
    source = (service / file).read_text()
    assert good in source, f"{file} no longer says {good!r}"
    (service / file).write_text(source.replace(good, bad))
    result = ProcessSandbox(sandbox_python).run_tests(service)
    assert not result.ok
    failing = [failure.test for failure in result.failures]
    assert any(name.endswith(f"_{check}") for name in failing), failing
    family = check.split("_")[0]  # the sort is what a page shows too: query_ok and query_page may both fail
    assert all(f"_{family}" in name for name in failing), failing
