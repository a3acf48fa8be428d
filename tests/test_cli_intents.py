"""`intentops validate` and `intentops schema`, run as a user runs them: the installed console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from ruamel.yaml import YAML

from tests.conftest import EXAMPLES, ROOT

INTENTOPS = Path(sys.executable).parent / "intentops"


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(INTENTOPS), *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def test_validate_accepts_the_examples() -> None:
    result = run("validate", str(EXAMPLES / "intents"))
    assert result.returncode == 0, result.stderr
    assert "hello-world.yaml (hello-world)" in result.stdout
    examples = len(list((EXAMPLES / "intents").glob("*.yaml")))
    assert f"{examples} valid, 0 invalid" in result.stdout


def test_validate_reports_each_problem_on_one_line_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("service_name: Bad/Name\npurpose: x y z\nowner: me\n")
    good = tmp_path / "good.yaml"
    good.write_text("service_name: good\npurpose: A fine service\n")
    result = run("validate", str(tmp_path))
    assert result.returncode == 1
    assert f"{bad}:1:15: service_name: must not contain path characters" in result.stderr
    assert f"{bad}:3:1: owner: unknown field 'owner'" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "1 valid, 1 invalid" in result.stdout


def test_validate_json_output(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"service_name: x\npurpose: \xff\n")
    result = run("validate", "--format", "json", str(bad), str(EXAMPLES / "intents" / "hello-world.yaml"))
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False
    by_file = {entry["file"]: entry for entry in report["files"]}
    assert by_file[str(bad)]["problems"][0]["line"] == 2
    assert "UTF-8" in by_file[str(bad)]["problems"][0]["message"]
    assert by_file[str(EXAMPLES / "intents" / "hello-world.yaml")]["valid"] is True


def test_validate_names_a_missing_path(tmp_path: Path) -> None:
    result = run("validate", str(tmp_path / "nowhere.yaml"))
    assert result.returncode == 1
    assert "no such file or directory" in result.stderr


def test_validate_an_empty_directory_is_an_error(tmp_path: Path) -> None:
    result = run("validate", str(tmp_path))
    assert result.returncode == 1
    assert "no intent files found" in result.stderr


@pytest.fixture(scope="module")
def schema() -> dict[str, object]:
    result = run("schema")
    assert result.returncode == 0, result.stderr
    loaded: dict[str, object] = json.loads(result.stdout)
    return loaded


@pytest.mark.parametrize("path", sorted((EXAMPLES / "intents").glob("*.yaml")), ids=lambda p: p.name)
def test_schema_accepts_every_example(schema: dict[str, object], path: Path) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(YAML(typ="safe").load(path.read_text()), schema)


@pytest.mark.parametrize(
    "intent",
    [
        {"service_name": "x", "purpose": "abc", "owner": "me"},
        {"service_name": "Bad/Name", "purpose": "abc"},
        {"service_name": "x", "purpose": "abc", "priority": "urgent"},
        {"purpose": "abc"},
    ],
)
def test_schema_refuses_what_the_loader_refuses(schema: dict[str, object], intent: dict[str, object]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(intent, schema)


def test_no_arguments_prints_help() -> None:
    result = run()
    assert "validate" in result.stdout + result.stderr


def test_every_command_is_owned_by_the_module_that_registers_it() -> None:
    from bot.cli.main import COMMAND_MODULES, COMMAND_OWNERS, build_app, modules_for

    for module in COMMAND_MODULES:
        names = {
            command.name or (command.callback.__name__ if command.callback else "")
            for command in build_app((module,)).registered_commands
        } | {group.name for group in build_app((module,)).registered_groups if group.name}
        assert names, f"{module} registers nothing"
        for name in names:
            assert COMMAND_OWNERS.get(name) == module, f"`intentops {name}` is not mapped to {module}"
            assert modules_for([name, "--help"]) == (module,)
    assert set(COMMAND_OWNERS.values()) == set(COMMAND_MODULES)
    assert modules_for(["--help"]) == ()  # listed from COMMAND_HELP, loaded when used (LazyGroup)
    assert modules_for(["no-such-command"]) == ()


def test_one_file_that_breaks_the_parser_does_not_cost_the_others_their_result(tmp_path: Path) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("service_name: deep\npurpose: Nested\nresources: " + "[" * 5000 + "]" * 5000 + "\n")
    tagged = tmp_path / "tagged.yaml"
    tagged.write_text("service_name: tagged\npurpose: Tagged tier\ntier: !!int abc\n")
    good = EXAMPLES / "intents" / "hello-world.yaml"

    result = run("validate", "--format", "json", str(deep), str(tagged), str(good))

    assert result.returncode == 1, result.stderr
    by_file = {entry["file"]: entry for entry in json.loads(result.stdout)["files"]}
    assert by_file[str(deep)]["problems"][0]["message"] == "the document nests deeper than 32 levels"
    assert by_file[str(tagged)]["problems"][0]["message"] == "'!!int abc' is not an integer"
    assert by_file[str(good)]["valid"] is True


def test_an_unexpected_failure_is_reported_for_its_file_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from bot.cli import intents_cmd
    from bot.cli.main import build_app

    real = intents_cmd.load_located_intent_file
    broken = tmp_path / "broken.yaml"
    broken.write_text("service_name: broken\npurpose: Breaks the loader\n")

    def load(path: Path) -> object:
        if path == broken:
            raise RecursionError("maximum recursion depth exceeded")
        return real(path)

    monkeypatch.setattr(intents_cmd, "load_located_intent_file", load)
    arguments = ["validate", str(broken), str(EXAMPLES / "intents" / "hello-world.yaml")]
    result = CliRunner().invoke(build_app(), arguments, env={"COLUMNS": "200"})

    assert result.exit_code == 1
    assert "could not be checked (RecursionError: maximum recursion depth exceeded)" in result.output
    assert "valid   " in result.output and "1 valid, 1 invalid" in result.output


def write_intent(path: Path, name: str, *, comment: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{comment}service_name: {name}\npurpose: Keep the team's notes in one place.\n")
    return path


def test_two_files_with_the_same_service_name_make_the_second_invalid(tmp_path: Path) -> None:
    owner = write_intent(tmp_path / "intents" / "notes.yaml", "notes")
    second = write_intent(tmp_path / "intents" / "team" / "notes.yaml", "notes", comment="# mine now\n")
    write_intent(tmp_path / "intents" / "wiki.yaml", "wiki")

    result = run("validate", str(tmp_path / "intents"))

    assert result.returncode == 1
    assert (
        f"invalid {second}:2:15: service_name: the service name 'notes' is already owned by {owner}"
        in result.stderr
    )
    assert f"{owner} (notes)" in result.stdout and "2 valid, 1 invalid" in result.stdout


def test_a_taken_service_name_in_json_names_the_owner_and_the_line(tmp_path: Path) -> None:
    first = write_intent(tmp_path / "a.yaml", "notes")
    second = write_intent(tmp_path / "b.yaml", "notes")

    # The file given first on the command line does not matter: the first path in sorted order owns it.
    result = run("validate", "--format", "json", str(second), str(first))

    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False
    by_file = {entry["file"]: entry for entry in report["files"]}
    assert by_file[str(first)] == {"file": str(first), "valid": True, "service_name": "notes", "problems": []}
    assert by_file[str(second)]["valid"] is False
    [problem] = by_file[str(second)]["problems"]
    assert (problem["line"], problem["column"], problem["field"]) == (1, 15, "service_name")
    assert f"already owned by {first}" in problem["message"]


def test_a_file_named_twice_is_not_its_own_duplicate(tmp_path: Path) -> None:
    notes = write_intent(tmp_path / "notes.yaml", "notes")
    result = run("validate", str(notes), str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "1 valid, 0 invalid" in result.stdout
