"""`intentops train-scorer`: train governance-v2, the learned alignment scorer, from a history of decided
intents (a file in the bundled history's form, or a generated one), write the model and its training report,
and prove it by shadow evaluation beside the line's scorer on the bundled example history (decisions it was
not trained on) and the fixed adversarial set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.markup import escape

from bot.cli.output import FormatOption, OutputFormat, err, fail, out, print_json
from bot.settings import Settings
from bot.vcs.github import GithubRepoClient, token_connection
from pipeline.factory.contracts import Stage
from pipeline.factory.routing import StageRegistry
from pipeline.governance.floor import FloorLoadError, load_floor
from pipeline.governance.historygen import generate, history_text
from pipeline.governance.learned import LearnedModel, LearnedScorer, examples_of, train
from pipeline.history.export import history_of
from pipeline.ledger import Ledger
from pipeline.monitor.rules import dump_yaml_text
from pipeline.shadow import (
    BUNDLED_SOURCE,
    Referees,
    ShadowDataError,
    ShadowReport,
    cases_from_ledger,
    evaluate,
    load_history,
)
from pipeline.shadow.cases import MAX_CASES
from pipeline.state import Database

MAX_HISTORY = 10_000
CANDIDATE = "governance-v2"
MODEL_FILE = "model.json"
REPORT_FILE = "training-report.md"
SHADOW_FILE = "shadow.json"
HISTORY_FILE = "history.yaml"
INTENT_FILE = "governance-v2.yaml"
INTENT_HEADER = """\
# governance-v2: a new alignment scorer for the line, learned from what people decided (intentops
# train-scorer). The model is its stage hint; a stage service serves it once two people approve. The line
# proves it by shadow evaluation before proposing it; its scores only inform, they never grant
# auto-approval. Trained on {examples} decisions from {source};
# cross-validated AUC {auc}, accuracy {accuracy} (the model's `training` says the rest).
"""
INTENT_PURPOSE = (
    "Alignment scoring learned from what people decided about the line's past intents: a linear model over "
    "the intent's words, the blueprint's evidence against it and its fields, whose words can only lower a "
    "score."
)
GENERATED_SOURCE = "a generated history ({size} intents, seed {seed})"
ONE_SOURCE = "give one of --history FILE, --generate N or --from-ledger OWNER/NAME"
LEDGER_SOURCE = "the ledger of {repo}"
NEEDS_TOKEN = "reading {repo}'s intents at their commits needs GITHUB_TOKEN (and GITHUB_BASE_URL for a forge)"
REPORT = """\
# governance-v2: training report

- data: {examples} decided intents from {source} ({signed_off} signed off; {refused} rejected, blocked or
  reverted; undecided ones left out)
- model: {model}; {library}
- cross-validated ({folds} folds): AUC {auc}, accuracy {accuracy}
- kept: {kept} lowering features (words and the blueprint's evidence against), each weighing 0 or less,
  after {fits} fit(s); model digest `{digest}`

Features that lower a score the most:

| feature | weight |
|---|---|
{lowering}

Fields:

| field | weight |
|---|---|
{fields}
"""


def register(app: typer.Typer) -> None:
    app.command("train-scorer")(train_scorer)


def train_scorer(
    history: Annotated[
        Path | None, typer.Option("--history", help="A history file of decided intents")
    ] = None,
    generated: Annotated[
        int | None, typer.Option("--generate", min=10, max=MAX_HISTORY, help="Train on a generated history")
    ] = None,
    from_ledger: Annotated[
        str | None,
        typer.Option("--from-ledger", help="Export OWNER/NAME's decided intents from the ledger, then train"),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="The generated history's seed")] = 7,
    into: Annotated[Path, typer.Option("--out", help="Where the model and its reports go")] = Path(
        "governance-v2"
    ),
    shadow: Annotated[
        bool, typer.Option("--shadow/--no-shadow", help="Prove it beside the line's scorer")
    ] = True,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Train governance-v2, the learned alignment scorer, from a history of decided intents (or a generated
    one), and prove it beside the line's scorer by shadow evaluation."""
    if sum(given is not None for given in (history, generated, from_ledger)) != 1:
        fail(ONE_SOURCE, code=2)
    try:
        settings = Settings()
        floor = load_floor(settings.policy_floor)
    except ValidationError as exc:
        fail(escape(f"configuration: {exc.errors()[0]['msg']}"))
    except FloorLoadError as exc:
        fail(escape(f"INTENTOPS_POLICY_FLOOR: {exc}"))
    into.mkdir(parents=True, exist_ok=True)
    if generated is not None:
        history = into / HISTORY_FILE
        history.write_text(history_text(generate(size=generated, seed=seed)))
        source = GENERATED_SOURCE.format(size=generated, seed=seed)
    elif from_ledger is not None:
        history = into / HISTORY_FILE
        history.write_text(history_text(export_ledger(settings, from_ledger, floor=floor)))
        source = LEDGER_SOURCE.format(repo=from_ledger)
    else:
        assert history is not None
        source = history.name
    try:
        cases = load_history(history, floor=floor, limit=MAX_HISTORY)
        model = train(examples_of((c.intent, c.blueprint, c.outcome.value) for c in cases), source=source)
    except (ShadowDataError, ValueError) as exc:
        fail(escape(str(exc)))
    (into / MODEL_FILE).write_text(model.to_text())
    (into / REPORT_FILE).write_text(training_report(model))
    (into / INTENT_FILE).write_text(intent_text(model))
    report = prove(model, floor=floor) if shadow else None
    if report is not None:
        (into / SHADOW_FILE).write_text(json.dumps(report.to_json(), indent=1) + "\n")
    _print(model, report, into, output)


def export_ledger(settings: Settings, repo: str, *, floor: Any) -> dict[str, Any]:
    """`repo`'s most recent decided intents (at most MAX_CASES), read from the forge at their commits with
    the blueprint and policies of the commit before, as a history file's content."""
    token = settings.github_token
    if token is None:
        fail(escape(NEEDS_TOKEN.format(repo=repo)))
    client = GithubRepoClient(token_connection(token.get_secret_value(), settings.github_base_url), repo)
    database = Database(settings.state_database_url())
    database.create_all()
    picked = cases_from_ledger(
        Ledger(database),
        repo=repo,
        read=client.read_file,
        parent=client.commit_parent,
        list_dir=client.list_dir,
        floor=floor,
        limit=MAX_CASES,
    )
    for skipped in picked.skipped:
        err.print(escape(f"left out: {skipped}"))
    try:
        return history_of(picked.cases)
    except ValueError as exc:
        fail(escape(f"{repo}: {exc}"))


def intent_text(model: LearnedModel) -> str:
    """The `intents/governance-v2.yaml` that asks the line for this scorer as a stage service."""
    r = model.report
    header = INTENT_HEADER.format(
        examples=r["examples"], source=r["source"], auc=r["cv_auc"], accuracy=r["cv_accuracy"]
    )
    data = {
        "service_name": CANDIDATE,
        "purpose": INTENT_PURPOSE,
        "blueprint_context": "Safe self-improvement: a governance stage measured against the current one.",
        "tier": 0,
        "implements": "alignment-scorer@1",
        "stage_hints": {"learned_model": model.to_json()},
    }
    return header + dump_yaml_text(data)


def training_report(model: LearnedModel) -> str:
    r = model.report
    strongest = sorted(model.lowering.items(), key=lambda item: item[1])[:12]
    return REPORT.format(
        examples=r["examples"],
        source=r["source"],
        signed_off=r["signed_off"],
        refused=r["refused"],
        model=r["model"],
        library=r["library"],
        folds=r["cv_folds"],
        auc=r["cv_auc"],
        accuracy=r["cv_accuracy"],
        kept=r["lowering_kept"],
        fits=r["fits"],
        digest=model.digest,
        lowering="\n".join(f"| `{name}` | {weight:.3f} |" for name, weight in strongest),
        fields="\n".join(
            f"| `{name}` | {weight:.3f} |" for name, weight in sorted(model.field_weights.items())
        ),
    )


def prove(model: LearnedModel, *, floor: Any) -> ShadowReport:
    """The shadow evaluation beside the line's built-in scorer, on decisions the model never saw."""
    line = StageRegistry.from_config({}).resolve(None)
    return evaluate(
        Stage.ALIGNMENT_SCORER,
        incumbent=line.scorer,
        candidate=LearnedScorer(model),
        cases=load_history(floor=floor),
        referees=Referees.of(line),
        candidate_name=CANDIDATE,
        source=BUNDLED_SOURCE,
    )


def _print(model: LearnedModel, report: ShadowReport | None, into: Path, output: OutputFormat) -> None:
    if output is OutputFormat.JSON:
        print_json(
            {
                "model": str(into / MODEL_FILE),
                "digest": model.digest,
                "training": model.report,
                "shadow": report.to_json() if report is not None else None,
            }
        )
        return
    r = model.report
    out.print(
        escape(
            f"trained {CANDIDATE} on {r['examples']} decisions: cross-validated AUC {r['cv_auc']}, "
            f"accuracy {r['cv_accuracy']} -> {into / MODEL_FILE}, {into / REPORT_FILE}, {into / INTENT_FILE}"
        )
    )
    if report is None:
        return
    for metric in report.metrics:
        out.print(
            escape(
                f"  {metric.metric.name}: {metric.incumbent} (builtin) vs {metric.candidate} ({CANDIDATE})"
            )
        )
    out.print(escape(f"verdict: {report.verdict.value} ({report.rule})"))
    if report.verdict.value != "better":
        err.print(escape(f"{CANDIDATE} is not better than the line's scorer: not proposed for adoption"))
