"""A learned alignment scorer: a linear model over the intent's words and fields, trained on what people
decided about the line's past intents (signed off vs rejected, blocked or reverted).

Trained with scikit-learn (logistic regression, balanced classes, a fixed solver and folds: the same history
gives the same model, byte for byte) and kept as a small JSON file that scoring reads without scikit-learn.
**Words can only lower its score, never raise it**: training drops every word whose weight comes out
positive and fits again, until none is, so text padded with the blueprint's words or addressed to the scorer
adds nothing a plain intent lacks. What raises a score is what the intent *is* (its tier, priority, hints,
whether it changes the line). Like every score a person cannot see the reasons of, it only informs.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.governance import vocabulary
from pipeline.governance.alignment import (
    STOPWORDS,
    Alignment,
    AlignmentMethod,
    BlueprintTerms,
    LexicalScorer,
    clamp,
    concepts_of,
    stem,
)
from pipeline.intents import Intent

MODEL_KIND = "intentops-learned-alignment"
MODEL_VERSION = 1
MAX_REFITS = 30
C = 0.5
"""Regularisation: smaller keeps single words from deciding on their own."""
LOWERING = ("word:", "blueprint:")
FOLDS = 5
SEED = 0
MIN_EXAMPLES = 10
SIGNED_OFF = "signed_off"
NEGATIVE = frozenset({"rejected", "blocked", "reverted"})
TOO_FEW = "training needs at least {need} decided intents with both outcomes; the history has {have}"
NOT_A_MODEL = "{path} is not a learned alignment model ({problem})"
RATIONALE = (
    "learned from {examples} decisions of the line's history (cross-validated AUC {auc:.2f}; a model's "
    "score informs, it cannot grant auto-approval): {evidence}"
)


def tokens(intent: Intent) -> frozenset[str]:
    """The stems of every word the intent writes (name, purpose, context, resource, field and endpoint
    names and summaries). Negation is not read: a word is evidence wherever it is written."""
    parts = [intent.service_name.replace("-", " "), intent.purpose, intent.blueprint_context]
    for resource in intent.resources:
        parts.append(resource.name)
        parts.extend(resource.fields)
    parts.extend(f"{e.path} {e.summary}" for e in intent.endpoints)
    found = set()
    for part in parts:
        for word in vocabulary.WORD.findall(part.lower()):
            if len(word) >= 3 and word not in STOPWORDS:
                found.add(stem(word))
    return frozenset(found)


def _plain_text(intent: Intent) -> str:
    return " ".join((intent.service_name.replace("-", " "), intent.purpose, intent.blueprint_context))


@functools.lru_cache(maxsize=16)
def _terms(blueprint: str) -> BlueprintTerms:
    return BlueprintTerms.parse(blueprint)


def against_blueprint(intent: Intent, blueprint: str) -> dict[str, float]:
    """The blueprint's evidence against the intent, read from every word (negation too): how many
    out-of-scope concepts it names, and whether it names an out-of-scope item. Both can only lower a score."""
    spelling: dict[str, str] = {}
    for word in vocabulary.WORD.findall(_plain_text(intent).lower()):
        if len(word) >= 3 and word not in STOPWORDS:
            for concept in concepts_of(word):
                spelling.setdefault(concept, word)
    evidence = LexicalScorer().evidence(spelling, _terms(blueprint))
    return {"against": float(len(evidence.against)), "out_of_scope": float(bool(evidence.out_of_scope))}


def fields(intent: Intent) -> dict[str, float]:
    """What the intent is, beside its words: tier, priority, build mode, hints, and whether it changes the
    line (a stage's new version)."""
    return {
        f"tier={intent.tier}": 1.0,
        f"priority={intent.priority.value}": 1.0,
        "auto_build": float(intent.auto_build),
        "hinted": float(bool(intent.resources or intent.endpoints)),
        "implements_stage": float(intent.implements is not None),
    }


def lowering(intent: Intent, blueprint: str) -> dict[str, float]:
    """The features whose weight may only be 0 or less: each word (`word:<stem>`) and the blueprint's
    evidence against the intent (`blueprint:against`, `blueprint:out_of_scope`)."""
    found = {f"word:{w}": 1.0 for w in tokens(intent)}
    found.update({f"blueprint:{k}": v for k, v in against_blueprint(intent, blueprint).items() if v})
    return found


def _sigmoid(value: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, value))))


@dataclass(frozen=True)
class LearnedModel:
    lowering: dict[str, float]
    """Word and blueprint features -> weight, each at most 0."""
    field_weights: dict[str, float]
    intercept: float
    report: dict[str, Any]

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.to_text().encode()).hexdigest()[:16]

    def logit(self, intent: Intent, blueprint: str) -> tuple[float, list[tuple[str, float]]]:
        present = lowering(intent, blueprint)
        found = [
            (name, self.lowering[name] * value)
            for name, value in sorted(present.items())
            if name in self.lowering
        ]
        total = self.intercept + sum(self.field_weights.get(k, 0.0) * v for k, v in fields(intent).items())
        return total + sum(weight for _name, weight in found), found

    def probability(self, intent: Intent, blueprint: str) -> float:
        return _sigmoid(self.logit(intent, blueprint)[0])

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": MODEL_KIND,
            "version": MODEL_VERSION,
            "intercept": round(self.intercept, 6),
            "fields": {k: round(v, 6) for k, v in sorted(self.field_weights.items())},
            "lowering": {k: round(v, 6) for k, v in sorted(self.lowering.items())},
            "training": self.report,
        }

    def to_text(self) -> str:
        return json.dumps(self.to_json(), indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, data: Any, *, source: str = "model") -> LearnedModel:
        try:
            if data.get("kind") != MODEL_KIND or data.get("version") != MODEL_VERSION:
                raise ValueError(f"kind {data.get('kind')!r} version {data.get('version')!r}")
            weights = {str(k): float(v) for k, v in data["lowering"].items()}
            raised = sorted(k for k, v in weights.items() if v > 0)
            if raised:
                raise ValueError(f"{raised[0]} has a positive weight: words may only lower a score")
            return cls(
                lowering=weights,
                field_weights={str(k): float(v) for k, v in data["fields"].items()},
                intercept=float(data["intercept"]),
                report=dict(data.get("training") or {}),
            )
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(NOT_A_MODEL.format(path=source, problem=exc)) from None

    @classmethod
    def load(cls, path: Path) -> LearnedModel:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(NOT_A_MODEL.format(path=path, problem=exc)) from None
        return cls.from_json(data, source=str(path))


@dataclass(frozen=True)
class LearnedScorer:
    """The alignment-scorer stage answered by a learned model."""

    model: LearnedModel

    def score(self, intent: Intent, blueprint: str) -> Alignment:
        value, found = self.model.logit(intent, blueprint)
        lowered = sorted(found, key=lambda item: item[1])[:5]
        evidence = ", ".join(f"{name.partition(':')[2]} {weight:+.2f}" for name, weight in lowered)
        report = self.model.report
        rationale = RATIONALE.format(
            examples=report.get("examples", 0),
            auc=report.get("cv_auc") or 0.0,
            evidence=evidence or "nothing it says lowers it",
        )
        return Alignment(
            clamp(round(_sigmoid(value), 4)),
            AlignmentMethod.SERVICE,
            rationale,
            f"learned:{self.model.digest}",
        )


# -- training ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    intent: Intent
    blueprint: str
    signed_off: bool


def examples_of(decided: Iterable[tuple[Intent, str, str]]) -> list[Example]:
    """(intent, blueprint of its time, outcome) with what people decided; undecided ones teach nothing."""
    return [
        Example(intent, blueprint, outcome == SIGNED_OFF)
        for intent, blueprint, outcome in decided
        if outcome == SIGNED_OFF or outcome in NEGATIVE
    ]


def _fit(examples: Sequence[Example]) -> tuple[dict[str, float], dict[str, float], float, int]:
    """Fit, drop the lowering features weighted up, fit again: until every one left weighs 0 or less."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    labels = [int(e.signed_off) for e in examples]
    seen = [(fields(e.intent), lowering(e.intent, e.blueprint)) for e in examples]
    banned: set[str] = set()
    for refit in range(1, MAX_REFITS + 1):
        rows = [{**free, **{k: v for k, v in low.items() if k not in banned}} for free, low in seen]
        vectorizer = DictVectorizer(sparse=False, sort=True)
        matrix = vectorizer.fit_transform(rows)
        model = LogisticRegression(C=C, class_weight="balanced", solver="liblinear", random_state=SEED)
        model.fit(matrix, labels)
        weights = dict(zip(vectorizer.get_feature_names_out(), model.coef_[0], strict=True))
        lowered = {k: float(w) for k, w in weights.items() if k.startswith(LOWERING)}
        raised = {k for k, w in lowered.items() if w > 0}
        if not raised:
            free_weights = {k: float(w) for k, w in weights.items() if not k.startswith(LOWERING)}
            return (
                {k: w for k, w in lowered.items() if w < 0},
                free_weights,
                float(model.intercept_[0]),
                refit,
            )
        banned |= raised
    raise RuntimeError(f"training did not settle in {MAX_REFITS} fits")


def _cross_validate(examples: Sequence[Example]) -> tuple[float, float, int]:
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    labels = [int(e.signed_off) for e in examples]
    count = min(FOLDS, labels.count(0), labels.count(1))
    folds = StratifiedKFold(n_splits=count, shuffle=True, random_state=SEED)
    scores: list[float] = [0.0] * len(examples)
    for train, test in folds.split([[0]] * len(examples), labels):
        low, free, intercept, _n = _fit([examples[i] for i in train])
        fold = LearnedModel(low, free, intercept, {})
        for i in test:
            scores[i] = fold.probability(examples[i].intent, examples[i].blueprint)
    auc = float(roc_auc_score(labels, scores))
    accuracy = sum((s >= 0.5) == bool(y) for s, y in zip(scores, labels, strict=True)) / len(labels)
    return round(auc, 4), round(accuracy, 4), count


def train(examples: Sequence[Example], *, source: str) -> LearnedModel:
    """A model from `examples`, with its training report: data size, cross-validated AUC and accuracy."""
    positives = sum(e.signed_off for e in examples)
    if len(examples) < MIN_EXAMPLES or min(positives, len(examples) - positives) < 2:
        raise ValueError(TOO_FEW.format(need=MIN_EXAMPLES, have=len(examples)))
    auc, accuracy, folds = _cross_validate(examples)
    low, free, intercept, refits = _fit(examples)
    import sklearn

    report = {
        "source": source,
        "examples": len(examples),
        "signed_off": positives,
        "refused": len(examples) - positives,
        "cv_folds": folds,
        "cv_auc": auc,
        "cv_accuracy": accuracy,
        "lowering_kept": len(low),
        "fits": refits,
        "library": f"scikit-learn {sklearn.__version__}",
        "model": f"logistic regression (liblinear, C={C}, balanced classes); words weigh 0 or less",
    }
    # What the file says is what scores: the model in memory is the one read back from its JSON.
    return LearnedModel.from_json(LearnedModel(low, free, intercept, report).to_json())
