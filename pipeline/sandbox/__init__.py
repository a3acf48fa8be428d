"""Sandboxed test runs of generated services: limits, no network, structured results."""

from pipeline.sandbox.locate import Wheelhouse, locate_wheelhouse
from pipeline.sandbox.model import Isolation, SandboxLimits, SandboxResult, TestFailure, Verdict
from pipeline.sandbox.runner import ProcessSandbox, Sandbox, network_namespace_available, sandbox_for

__all__ = [
    "Isolation",
    "ProcessSandbox",
    "Sandbox",
    "SandboxLimits",
    "SandboxResult",
    "TestFailure",
    "Verdict",
    "Wheelhouse",
    "locate_wheelhouse",
    "network_namespace_available",
    "sandbox_for",
]
