"""Benchmark: offline hello-world from intent to tested service (spec to the gate, code, sandboxed tests).

Prints the cold time (venv built from the wheelhouse), the warm median over several runs, and ratios
against baselines measured in the same run: the 5 s budget, and a bare `python -m pytest` of the same
tests in the same venv (what the sandbox costs on top). Run: .venv/bin/python bench/bench_factory.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.codegen.generator import generate_service  # noqa: E402
from pipeline.intents import load_intent_file  # noqa: E402
from pipeline.sandbox import ProcessSandbox, SandboxResult  # noqa: E402
from pipeline.spec.builder import build_spec  # noqa: E402
from pipeline.spec.optimizer import optimize  # noqa: E402
from pipeline.wheelhouse import cached_venv, prepare_wheelhouse, service_requirements, venv_python  # noqa: E402

INTENT = ROOT / "examples" / "intents" / "hello-world.yaml"
BLUEPRINT = (ROOT / "examples" / "BLUEPRINT.md").read_text(encoding="utf-8")
WHEELHOUSE = ROOT / ".data" / "wheelhouse"
BUDGET_S = 5.0
WARM_RUNS = 5


def line(workdir: Path, cache_dir: Path) -> tuple[float, SandboxResult]:
    started = time.perf_counter()
    report = optimize(build_spec(load_intent_file(INTENT), blueprint=BLUEPRINT))
    assert report.reached_gate
    service = generate_service(report.spec, workdir / "hello-world")
    venv = cached_venv(service_requirements(with_tests=True), wheelhouse=WHEELHOUSE, cache_dir=cache_dir)
    result = ProcessSandbox(venv_python(venv)).run_tests(service.directory)
    assert result.ok, result.output
    return time.perf_counter() - started, result


def bare_pytest(service: Path, python: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=service,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def main() -> None:
    prepare_wheelhouse(WHEELHOUSE)
    # Under .data, not /tmp: the sandbox's unprivileged user must be able to reach the venv.
    (ROOT / ".data").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=ROOT / ".data", prefix="bench-") as scratch:
        Path(scratch).chmod(0o755)
        root = Path(scratch)
        cold, _ = line(root / "cold", root / "venvs")
        warm = []
        for run in range(WARM_RUNS):
            elapsed, result = line(root / f"warm{run}", root / "venvs")
            warm.append(elapsed)
        python = venv_python(
            cached_venv(
                service_requirements(with_tests=True), wheelhouse=WHEELHOUSE, cache_dir=root / "venvs"
            )
        )
        bare = statistics.median(bare_pytest(root / "warm0" / "hello-world", python) for _ in range(3))
    median = statistics.median(warm)
    print(
        f"hello-world, offline: cold {cold:.2f}s (venv built from the wheelhouse), warm median {median:.2f}s "
        f"over {WARM_RUNS} runs ({result.passed} tests, isolation {result.isolation.value})"
    )
    print(
        f"warm / {BUDGET_S:.0f}s budget: {median / BUDGET_S:.2f}   cold / warm: {cold / median:.2f}   "
        f"sandboxed run / bare pytest ({bare:.2f}s): {result.duration_s / bare:.2f}"
    )


if __name__ == "__main__":
    main()
