"""code-generator: both sides write the service for the SPEC the line's own builder and optimizer bring to
the gate for each intent; the line's sandbox runs each service's tests. A generator's own account of its
test run is never taken: a run the line witnessed on exactly the files now in the folder counts, else the
line runs the tests again."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from pipeline.codegen.model_path import CodegenReport
from pipeline.factory.interfaces import CodeGenerator
from pipeline.sandbox.model import SandboxResult
from pipeline.sandbox.runner import Sandbox
from pipeline.shadow.judges.specs import NO_SANDBOX, reach_gate
from pipeline.shadow.metrics import FILES, GENERATED_TESTS, TESTS_PASSED
from pipeline.shadow.model import Row
from pipeline.shadow.run import CANDIDATE, INCUMBENT, Pair, Run, private, same_service
from pipeline.spec.model import Spec

BELOW_GATE = "{case}: its SPEC stays below the gate after the line's optimizer, so no code would be generated"
CANNOT_TEST = "the line's sandbox could not run its tests: {problem}"
TESTS = "{side}: {verdict}, {passed} passed"


class Witness:
    """The line's sandbox, handed to a generator: it runs the tests and remembers what it ran them on."""

    def __init__(self, sandbox_for: Callable[[Path], Sandbox]) -> None:
        self._sandbox_for = sandbox_for
        self._seen: dict[Path, tuple[str, SandboxResult]] = {}

    def run_tests(self, service_dir: Path) -> SandboxResult:
        result = self._sandbox_for(service_dir).run_tests(service_dir)
        self._seen[service_dir.resolve()] = (tree_digest(service_dir), result)
        return result

    def result_for(self, service_dir: Path) -> SandboxResult:
        """The result of a run on exactly the files in `service_dir` now, running the tests if none was."""
        seen = self._seen.get(service_dir.resolve())
        if seen is not None and seen[0] == tree_digest(service_dir):
            return seen[1]
        return self.run_tests(service_dir)


def tree_digest(directory: Path) -> str:
    """A digest of every file's path and content under `directory`."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(path.relative_to(directory).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def judge(run: Run, incumbent: CodeGenerator, candidate: CodeGenerator) -> None:
    sandbox_for, workdir = run.referees.sandbox_for, run.referees.workdir
    if sandbox_for is None or workdir is None:
        raise ValueError(NO_SANDBOX)
    for index, ready in enumerate(run.prepared()):
        reached, problem = reach_gate(run, ready.spec)
        case = ready.case
        if reached is None or not reached.passes:
            run.skipped.append(problem and f"{case.id}: {problem}" or BELOW_GATE.format(case=case.id))
            continue
        witness = Witness(sandbox_for)
        folders = {
            side: workdir / side / f"{index:02d}" / reached.spec.service_name
            for side in (INCUMBENT, CANDIDATE)
        }
        pair = Pair(
            run.call(
                _generating(incumbent, reached.spec, folders[INCUMBENT], witness, case.path),
                CodegenReport,
                _for(reached.spec),
            ),
            run.call(
                _generating(candidate, reached.spec, folders[CANDIDATE], witness, case.path),
                CodegenReport,
                _for(reached.spec),
            ),
        )
        run.record(case.id, pair)
        _rows(run, case.id, pair, folders, witness)


def _rows(run: Run, case: str, pair: Pair[CodegenReport], folders: dict[str, Path], witness: Witness) -> None:
    results: dict[str, SandboxResult | None] = {}
    notes = [pair.note] if pair.note else []
    for side, generated in pair.sides():
        results[side] = None
        if generated.value is None:
            continue
        result, problem = _tested(witness, folders[side])
        results[side] = result
        notes.append(
            f"{side}: {problem}"
            if result is None
            else TESTS.format(side=side, verdict=result.verdict.value, passed=result.passed)
        )
    inc, cand = results[INCUMBENT], results[CANDIDATE]
    note = "; ".join(notes)
    run.add(
        GENERATED_TESTS.name,
        Row(case=case, incumbent=_ok(pair, INCUMBENT, inc), candidate=_ok(pair, CANDIDATE, cand), note=note),
    )
    run.add(TESTS_PASSED.name, Row(case=case, incumbent=_passed(inc), candidate=_passed(cand)))
    run.add(
        FILES.name,
        Row(
            case=case,
            incumbent=_files(pair.incumbent.value, folders[INCUMBENT]),
            candidate=_files(pair.candidate.value, folders[CANDIDATE]),
        ),
    )


def _tested(witness: Witness, folder: Path) -> tuple[SandboxResult | None, str]:
    try:
        return witness.result_for(folder), ""
    except OSError as exc:  # no requirements to build its test environment from, a folder it cannot read
        return None, CANNOT_TEST.format(problem=exc.strerror or exc)


def _ok(pair: Pair[CodegenReport], side: str, result: SandboxResult | None) -> float | None:
    generated = pair.incumbent if side == INCUMBENT else pair.candidate
    if not generated.ok:
        return None
    return float(result is not None and result.ok)


def _passed(result: SandboxResult | None) -> float | None:
    return None if result is None else float(result.passed)


def _files(report: CodegenReport | None, folder: Path) -> float | None:
    if report is None or not folder.is_dir():
        return None
    return float(sum(1 for p in folder.rglob("*") if p.is_file()))


def _generating(
    generator: CodeGenerator, spec: Spec, folder: Path, witness: Witness, intent_path: str
) -> Callable[[], object]:
    return lambda: generator.generate(private(spec), folder, sandbox=witness, intent_path=intent_path)


def _for(spec: Spec) -> Callable[[CodegenReport], str]:
    return lambda report: same_service(spec.service_name, report.service.manifest.name)
