"""The metrics of each stage's shadow evaluation, declared before any run: what each measures, which way is
better, how the line computes it (never the candidate), and the rule that makes a comparison.

Every stage also has `failures` (calls that raised, timed out or answered outside the contract: one more
than the incumbent makes the candidate worse) and `time` (its median call, worse when much slower).
"""

from __future__ import annotations

from pipeline.factory.contracts import Stage
from pipeline.shadow.model import Aggregate, Direction, MetricSpec, Role
from pipeline.spec.optimizer import MAX_ROUNDS

NEVER = float(MAX_ROUNDS + 1)
"""Rounds counted for a SPEC that never reaches the gate: one more than the optimizer may take."""
TIME_MARGIN_MS = 10_000.0
CODE_TIME_MARGIN_MS = 60_000.0
AUC_MARGIN = 0.02

FAILURES = MetricSpec(
    name="failures",
    measures="calls that raised, timed out, or answered outside the stage's contract",
    direction=Direction.LOWER,
    computed="one per call that gave no usable answer, counted by the line as it calls each side",
    aggregate=Aggregate.TOTAL,
    role=Role.GUARDS,
    unit="calls",
)


def _time(margin_ms: float) -> MetricSpec:
    return MetricSpec(
        name="time",
        measures="how long one call takes",
        direction=Direction.LOWER,
        computed="the wall-clock time of each call that answered, measured by the line",
        aggregate=Aggregate.MEDIAN,
        role=Role.GUARDS,
        margin=margin_ms,
        unit="ms",
    )


TIME = _time(TIME_MARGIN_MS)

# -- spec-builder -------------------------------------------------------------------------------------

SPEC_SCORE = MetricSpec(
    name="spec_score",
    measures="the quality of each SPEC as built",
    direction=Direction.HIGHER,
    computed="the line's own verifier scores each SPEC (0-100); a SPEC that could not be built counts 0",
    aggregate=Aggregate.MEAN,
    role=Role.DECIDES,
    margin=1.0,
    unit="points",
    missing=0.0,
)
ROUNDS_TO_GATE = MetricSpec(
    name="rounds_to_gate",
    measures="how much repair each SPEC needs",
    direction=Direction.LOWER,
    computed=(
        "rounds of the line's own optimizer until the line's verifier passes the SPEC at the gate; a SPEC "
        f"that never reaches it (or was not built) counts {NEVER:g}"
    ),
    aggregate=Aggregate.MEAN,
    role=Role.DECIDES,
    missing=NEVER,
)
GATE_RATE = MetricSpec(
    name="gate_rate",
    measures="the share of intents whose SPEC reaches the gate",
    direction=Direction.HIGHER,
    computed="after the line's own optimizer, judged by the line's own verifier",
    aggregate=Aggregate.RATE,
    role=Role.DECIDES,
    missing=0.0,
)
HINTS_DROPPED = MetricSpec(
    name="hints_dropped",
    measures="what the intent asked for that the SPEC leaves out",
    direction=Direction.LOWER,
    computed="endpoints (method and path) and resources of the intent that the SPEC leaves out",
    aggregate=Aggregate.TOTAL,
    role=Role.GUARDS,
    unit="hints",
)
TESTS_RATE = MetricSpec(
    name="tests_rate",
    measures="the share of intents whose service passes its generated tests",
    direction=Direction.HIGHER,
    computed=(
        "for each SPEC at the gate, the line's own code generator writes the service and the line's sandbox "
        "runs its tests; a SPEC below the gate counts as failing"
    ),
    aggregate=Aggregate.RATE,
    role=Role.DECIDES,
    missing=0.0,
)

# -- spec-verifier ------------------------------------------------------------------------------------

GATE_AUC = MetricSpec(
    name="gate_auc",
    measures="how well its scores predict which SPECs reach the gate after optimization",
    direction=Direction.HIGHER,
    computed=(
        "the line's own builder writes each intent's SPEC and its own optimizer and verifier say whether it "
        "reaches the gate; the AUC of the score given to the SPEC as built, computed by the line"
    ),
    aggregate=Aggregate.AUC,
    role=Role.DECIDES,
    margin=AUC_MARGIN,
)
SIGNOFF_AUC = MetricSpec(
    name="signoff_auc",
    measures="how well its scores predict what people decided",
    direction=Direction.HIGHER,
    computed=(
        "over intents people signed off or rejected (blocked, reverted), the AUC of the score against "
        "the sign-off recorded in the ledger, computed by the line"
    ),
    aggregate=Aggregate.AUC,
    role=Role.DECIDES,
    margin=AUC_MARGIN,
)
KNOWN_BAD_LOW = MetricSpec(
    name="known_bad_low",
    measures="the share of known-bad SPECs it keeps below the gate",
    direction=Direction.HIGHER,
    computed=(
        "a fixed set of SPECs with one defect each (no security section, a vague requirement, an endpoint "
        "without errors, ...): the verification must not pass the gate"
    ),
    aggregate=Aggregate.RATE,
    role=Role.GUARDS,
    missing=0.0,
)
KNOWN_GOOD_PASS = MetricSpec(
    name="known_good_pass",
    measures="the share of known-good SPECs it passes at the gate",
    direction=Direction.HIGHER,
    computed="the fixed good SPECs the known-bad ones were made from: the verification must pass the gate",
    aggregate=Aggregate.RATE,
    role=Role.GUARDS,
    missing=0.0,
)

# -- spec-optimizer -----------------------------------------------------------------------------------

FINAL_SCORE = MetricSpec(
    name="final_score",
    measures="the quality of each SPEC after optimization",
    direction=Direction.HIGHER,
    computed="the line's own verifier scores the SPEC the optimizer returns; a failed call counts 0",
    aggregate=Aggregate.MEAN,
    role=Role.DECIDES,
    margin=1.0,
    unit="points",
    missing=0.0,
)
OPTIMIZED_ROUNDS = ROUNDS_TO_GATE.model_copy(
    update={
        "computed": (
            "the rounds the optimizer took, when the line's own verifier passes its result at the gate; "
            f"a result below the gate (or a failed call) counts {NEVER:g}"
        )
    }
)
OPTIMIZED_GATE_RATE = GATE_RATE.model_copy(
    update={"computed": "the line's own verifier passes the optimizer's result at the gate"}
)
WEAKENED = MetricSpec(
    name="weakened",
    measures="what optimization removed",
    direction=Direction.LOWER,
    computed="acceptance criteria, requirements, endpoints and non-functional requirements whose id is gone",
    aggregate=Aggregate.TOTAL,
    role=Role.GUARDS,
    unit="items",
)
FALSE_CLAIMS = MetricSpec(
    name="false_claims",
    measures="results it says reach the gate that the line's verifier does not pass",
    direction=Direction.LOWER,
    computed="its report's reached_gate against the line's own verification of the returned SPEC",
    aggregate=Aggregate.TOTAL,
    role=Role.GUARDS,
    unit="claims",
)

# -- alignment-scorer ---------------------------------------------------------------------------------

ALIGNMENT_SIGNOFF_AUC = SIGNOFF_AUC.model_copy(
    update={
        "measures": "agreement with what people decided",
        "computed": (
            "over intents people signed off or rejected (blocked, reverted), the AUC of the alignment score "
            "against the sign-off recorded in the ledger, computed by the line"
        ),
    }
)
APPROVED_BLOCKED = MetricSpec(
    name="approved_blocked",
    measures="intents people signed off that its score would have blocked",
    direction=Direction.LOWER,
    computed="each signed-off intent decided again with this score, under the policies and floor of its time",
    aggregate=Aggregate.TOTAL,
    role=Role.GUARDS,
    unit="intents",
)
ADVERSARIAL_HELD = MetricSpec(
    name="adversarial_held",
    measures="the share of adversarial pairs where padding or injected text buys nothing",
    direction=Direction.HIGHER,
    computed=(
        "a fixed set of intents written plainly and again padded with the blueprint's words or with text "
        "addressed to the scorer: the variant must not score higher than the plain one (beyond the set's "
        "tolerance)"
    ),
    aggregate=Aggregate.RATE,
    role=Role.GUARDS,
    missing=0.0,
)

# -- code-generator -----------------------------------------------------------------------------------

GENERATED_TESTS = MetricSpec(
    name="tests_rate",
    measures="the share of services whose tests pass",
    direction=Direction.HIGHER,
    computed=(
        "the line's own SPEC at the gate for each intent; the generated service's tests run in the line's "
        "sandbox, never taken from the generator's word; a failed call counts as failing"
    ),
    aggregate=Aggregate.RATE,
    role=Role.DECIDES,
    missing=0.0,
)
TESTS_PASSED = MetricSpec(
    name="tests_passed",
    measures="how many generated tests pass per service",
    direction=Direction.HIGHER,
    computed="the passing tests of each run in the line's sandbox",
    aggregate=Aggregate.MEAN,
    role=Role.INFORMS,
    unit="tests",
)
FILES = MetricSpec(
    name="files",
    measures="how many files each service has",
    direction=Direction.HIGHER,
    computed="the files in the service's folder after generation",
    aggregate=Aggregate.MEAN,
    role=Role.INFORMS,
    unit="files",
)


def metrics_for(stage: Stage, *, run_tests: bool = False) -> tuple[MetricSpec, ...]:
    """The metrics of `stage`, in report order; `run_tests` adds the spec-builder's costly tests metric."""
    if stage is Stage.SPEC_BUILDER:
        tests = (TESTS_RATE,) if run_tests else ()
        return (SPEC_SCORE, ROUNDS_TO_GATE, GATE_RATE, *tests, HINTS_DROPPED, FAILURES, TIME)
    if stage is Stage.SPEC_VERIFIER:
        return (GATE_AUC, SIGNOFF_AUC, KNOWN_BAD_LOW, KNOWN_GOOD_PASS, FAILURES, TIME)
    if stage is Stage.SPEC_OPTIMIZER:
        return (FINAL_SCORE, OPTIMIZED_ROUNDS, OPTIMIZED_GATE_RATE, WEAKENED, FALSE_CLAIMS, FAILURES, TIME)
    if stage is Stage.ALIGNMENT_SCORER:
        return (ALIGNMENT_SIGNOFF_AUC, APPROVED_BLOCKED, ADVERSARIAL_HELD, FAILURES, TIME)
    return (GENERATED_TESTS, TESTS_PASSED, FILES, FAILURES, _time(CODE_TIME_MARGIN_MS))
