"""One service name, one owner: which of several intent files saying the same service_name owns it."""

from __future__ import annotations

import pytest

from pipeline.intents import (
    IntentProblem,
    duplicate_names,
    load_intent,
    name_claims,
    name_owners,
    owner_of,
)


def intent(name: str, *, comment: str = "") -> bytes:
    head = f"# {comment}\n" if comment else ""
    return f"{head}purpose: A service for the team's notes.\nservice_name: {name}\n".encode()


def test_a_second_file_with_the_same_name_is_invalid_at_its_service_name_line() -> None:
    files = {
        "intents/notes.yaml": intent("notes"),
        "intents/team/notes.yaml": intent("notes", comment="copy"),
    }
    problems = duplicate_names(files)
    assert problems == [
        IntentProblem(
            "intents/team/notes.yaml",
            3,
            15,
            "the service name 'notes' is already owned by intents/notes.yaml; one service name has one "
            "intent file: change intents/notes.yaml to change that service, or give this one another name",
            "service_name",
        )
    ]
    assert str(problems[0]).startswith("intents/team/notes.yaml:3:15: service_name: the service name 'notes'")


def test_distinct_names_and_invalid_files_claim_nothing_of_each_other() -> None:
    files = {
        "intents/a.yaml": intent("notes"),
        "intents/b.yaml": intent("wiki"),
        "intents/broken.yaml": b"service_name: notes\npurpose: [\n",
        "intents/bad-field.yaml": intent("notes") + b"owner: me\n",
    }
    assert duplicate_names(files) == []
    assert [c.service_name for c in name_claims(files)] == ["notes", "wiki"]


def test_among_new_files_the_first_path_in_sorted_order_owns_the_name() -> None:
    files = {path: intent("notes") for path in ("intents/z.yaml", "intents/b.yaml", "intents/a/x.yaml")}
    assert name_owners(files) == {"notes": "intents/a/x.yaml"}
    assert [p.file for p in duplicate_names(files)] == ["intents/b.yaml", "intents/z.yaml"]


def test_a_file_already_on_the_default_branch_owns_the_name_over_a_new_one() -> None:
    files = {"intents/a.yaml": intent("notes"), "intents/notes.yaml": intent("notes")}
    problems = duplicate_names(files, earlier={"intents/notes.yaml"})
    assert [p.file for p in problems] == ["intents/a.yaml"]
    assert "already owned by intents/notes.yaml" in problems[0].message


def test_the_known_owner_keeps_its_name_while_it_still_says_it() -> None:
    files = {"intents/a.yaml": intent("notes"), "intents/b.yaml": intent("notes")}
    known = {"notes": "intents/b.yaml"}
    assert [p.file for p in duplicate_names(files, known_owners=known, earlier={"intents/a.yaml"})] == [
        "intents/a.yaml"
    ]
    # Once the known owner says another name, the name goes by the other rules.
    files["intents/b.yaml"] = intent("wiki")
    assert duplicate_names(files, known_owners=known) == []
    assert name_owners(files, known_owners=known) == {"notes": "intents/a.yaml", "wiki": "intents/b.yaml"}


def test_loaded_intents_can_be_given_instead_of_bytes_without_a_position() -> None:
    files = {"intents/a.yaml": load_intent(intent("notes"), source="a"), "intents/b.yaml": intent("notes")}
    assert duplicate_names(files, known_owners={"notes": "intents/b.yaml"})[0].line == 0
    assert duplicate_names(files)[0].line == 2


def test_owner_of_needs_a_claimant() -> None:
    with pytest.raises(ValueError, match="at least one path"):
        owner_of([])
    assert owner_of(["b", "a"], known_owner="c") == "a"
