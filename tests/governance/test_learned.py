"""governance-v2, the learned alignment scorer: trained reproducibly from a history of decided intents (a
generated one here), kept as a model file whose words can only lower a score, and judged by the line's
shadow evaluation on decisions it never saw and on the fixed adversarial set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.cli.main import build_app
from pipeline.factory.conformance import SCORE_CASES, check_scorer
from pipeline.factory.hintchecks import hint_checks
from pipeline.factory.hinted import hinted_scorer
from pipeline.governance.alignment import LexicalScorer
from pipeline.governance.historygen import generate, history_text
from pipeline.governance.learned import Example, LearnedModel, LearnedScorer, examples_of, train
from pipeline.intents import Intent, load_intent, load_intent_file
from pipeline.ledger import Event, Ledger
from pipeline.shadow import load_history
from pipeline.state import Database, default_sqlite_url
from tests.conftest import EXAMPLES
from tests.fixtures.forge import ForgeKit

SIZE = 100


def decided(history: dict[str, Any]) -> list[Example]:
    """The history's decisions, as training reads them from its file."""
    return examples_of(
        (Intent.model_validate(e["intent"]), history["blueprint"], e["outcome"]) for e in history["intents"]
    )


@pytest.fixture(scope="module")
def model() -> LearnedModel:
    return train(decided(generate(size=SIZE, seed=3)), source="generated")


def test_the_generated_history_is_the_same_for_the_same_seed_and_reads_as_a_history(tmp_path: Path) -> None:
    assert generate(size=SIZE, seed=3) == generate(size=SIZE, seed=3)
    assert generate(size=SIZE, seed=4) != generate(size=SIZE, seed=3)
    path = tmp_path / "history.yaml"
    path.write_text(history_text(generate(size=40, seed=3)))
    cases = load_history(path, floor=None, limit=SIZE)
    outcomes = {c.outcome.value for c in cases}
    assert len(cases) == 40 and {"signed_off", "rejected", "blocked"} <= outcomes


def test_training_is_reproducible_and_reports_its_data_and_cross_validated_auc(model: LearnedModel) -> None:
    again = train(decided(generate(size=SIZE, seed=3)), source="generated")
    assert again.to_text() == model.to_text(), "the same history gives the same model file"
    report = model.report
    assert report["examples"] == report["signed_off"] + report["refused"] == SIZE
    assert report["cv_folds"] == 5 and 0.8 < report["cv_auc"] <= 1.0
    assert all(weight <= 0 for weight in model.lowering.values())
    assert LearnedModel.from_json(json.loads(model.to_text())) == model


def test_too_few_decisions_is_a_clear_refusal() -> None:
    cases = load_history(floor=None)[:6]
    with pytest.raises(ValueError, match="at least 10 decided intents"):
        train(examples_of((c.intent, c.blueprint, c.outcome.value) for c in cases), source="bundled")


def test_intentops_train_scorer_writes_the_model_and_reports_and_judges_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        build_app(),
        ["train-scorer", "--generate", "60", "--seed", "5", "--out", str(tmp_path), "--format", "json"],
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert {p.name for p in tmp_path.iterdir()} == {
        "history.yaml",
        "model.json",
        "training-report.md",
        "shadow.json",
        "governance-v2.yaml",
    }
    written = load_intent((tmp_path / "governance-v2.yaml").read_text(), source="intents/governance-v2.yaml")
    model_file = json.loads((tmp_path / "model.json").read_text())
    assert written.stage_hints.learned_model == model_file  # type: ignore[union-attr]
    assert "cross-validated (5 folds): AUC" in (tmp_path / "training-report.md").read_text()
    shadow = answer["shadow"]
    metrics = {m["metric"]["name"]: m for m in shadow["metrics"]}
    assert metrics["adversarial_held"]["candidate"] == 1.0, "no padded or injected variant scores higher"
    assert metrics["approved_blocked"]["candidate"] == 0
    assert shadow["verdict"] in {"better", "no_better", "worse"} and shadow["rule"]


def test_the_example_governance_v2_is_a_stage_service_that_scores_with_its_model() -> None:
    intent = load_intent_file(EXAMPLES / "intents" / "governance-v2.yaml")
    assert intent.implements == "alignment-scorer@1"
    scorer = hinted_scorer(LexicalScorer(), intent.stage_hints)  # type: ignore[arg-type]
    assert isinstance(scorer, LearnedScorer) and scorer.model.report["examples"] == 300
    assert all(check_scorer(scorer, case) == [] for case in SCORE_CASES), "it passes the stage's conformance"
    (claim,) = hint_checks(intent.stage_hints)
    assert claim.key == "learned_model" and claim.run(scorer) == []
    assert claim.run(LexicalScorer()), "a scorer that is not the model fails the claim"


def test_training_from_the_ledger_exports_its_decisions_first(tmp_path: Path, forge_kit: ForgeKit) -> None:
    alice = forge_kit.user("alice")
    forge_kit.user("acme")
    forge_kit.repo(
        "acme/intents", files={"BLUEPRINT.md": BLUEPRINT.encode()}, collaborators={"alice": "write"}
    )
    clone = forge_kit.clone("acme/intents", alice)
    decided = {
        **{f"tool-{n}": (TOOL.format(n=n), Event.DEPLOYED) for n in range(6)},
        **{f"leak-{n}": (LEAK.format(n=n), Event.BLOCKED) for n in range(6)},
    }
    sha = forge_kit.commit(
        clone, {f"intents/{name}.yaml": text for name, (text, _e) in decided.items()}, "intents"
    )
    forge_kit.git(clone, "push", "--quiet", "origin", "HEAD:main")
    database = Database(default_sqlite_url(tmp_path))
    database.create_all()
    ledger = Ledger(database)
    for name, (_text, event) in decided.items():
        record, _ = ledger.receive(
            repo="acme/intents",
            path=f"intents/{name}.yaml",
            service_name=name,
            content_hash=name,
            commit_sha=sha,
        )
        ledger.apply(record.id, event)
    database.dispose()

    env = {
        "INTENTOPS_DATA_DIR": str(tmp_path),
        "GITHUB_TOKEN": alice.token,
        "GITHUB_BASE_URL": forge_kit.api_url,
    }
    out = tmp_path / "out"
    args = [
        "train-scorer",
        "--from-ledger",
        "acme/intents",
        "--no-shadow",
        "--out",
        str(out),
        "--format",
        "json",
    ]
    result = CliRunner().invoke(build_app(), args, env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["training"]["source"] == "the ledger of acme/intents"
    exported = load_history(out / "history.yaml", floor=None)
    assert sorted((c.intent.service_name, c.outcome.value) for c in exported)[:2] == [
        ("leak-0", "blocked"),
        ("leak-1", "blocked"),
    ]
    assert len(exported) == 12 and all(c.blueprint == BLUEPRINT for c in exported)
    alone = CliRunner().invoke(
        build_app(), ["train-scorer", "--from-ledger", "acme/intents"], env={**env, "GITHUB_TOKEN": ""}
    )
    assert alone.exit_code == 1 and "needs GITHUB_TOKEN" in alone.stderr


BLUEPRINT = "# Blueprint\n\n## Goals\n1. Shared internal tools for the team.\n"
TOOL = "service_name: tool-{n}\npurpose: Keep the team's notes number {n} in one place.\n"
LEAK = "service_name: leak-{n}\npurpose: Copy every password to an external server, batch {n}.\n"
