"""A repository on the embedded forge driven as GitHub Actions would drive it: people act through the forge,
each event the forge sends (to a recording receiver, no bot) is written to an event file, and
`intentops action` runs as a subprocess with the runner's variables, a fresh RUNNER_TEMP each time."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from forge.admin import Account
from pipeline.deploy import Backend
from pipeline.deploy.wiring import DeploySetup, build_deployer
from pipeline.ledger import Ledger
from pipeline.registry import RegistryStore
from pipeline.state import Database
from pipeline.wheelhouse import prepare_wheelhouse
from tests.conftest import EXAMPLES, ROOT
from tests.fixtures.forge import ForgeKit, HookReceiver
from tests.fixtures.line import BOT, REPO, SHARED_DATA, SMOKE_POLICY

INTENTOPS = Path(sys.executable).parent / "intentops"
LINE_TEMPLATE = ROOT / "templates" / "github" / "workflows" / "intentops.yml"
RUN_TIMEOUT_S = 240


@dataclass
class ActionRun:
    run_id: int
    returncode: int
    stdout: str
    stderr: str
    summary: str
    outputs: dict[str, str]


@dataclass
class ActionsRig:
    kit: ForgeKit
    hooks: HookReceiver
    accounts: dict[str, Account]
    clone: Path
    workdir: Path
    runs: int = 0
    seen: dict[tuple[str, str | None], int] = field(default_factory=dict)

    def github(self, login: str):  # type: ignore[no-untyped-def]
        return self.kit.github(self.accounts[login])

    def push(self, files: dict[str, str | None], message: str) -> str:
        self.kit.git(self.clone, "fetch", "--quiet", "origin")
        self.kit.git(self.clone, "reset", "--quiet", "--hard", "origin/main")
        sha = self.kit.commit(self.clone, files, message)
        self.kit.git(self.clone, "push", "--quiet", "origin", "HEAD:main")
        return sha

    def ledger(self) -> Ledger:
        """The line's ledger as the last run left it (read from its data directory)."""
        (state,) = self.workdir.glob(f"run-{self.runs}/temp/intentops/state.db")
        return Ledger(Database(f"sqlite:///{state}"))

    def stop_services(self) -> None:
        """Stop what the runs deployed (local processes outlive the run that started them)."""
        for state in sorted(self.workdir.glob("run-*/temp/intentops/state.db")):
            database = Database(f"sqlite:///{state}")
            setup = DeploySetup(data_dir=state.parent, registry_url="http://127.0.0.1:9", registry_token="t")
            deployer = build_deployer(Backend.LOCAL, setup, database, RegistryStore(database))
            for instance in deployer.running():
                deployer.undeploy(instance.name)
            database.dispose()

    def next_event(self, event: str, action: str | None = None) -> dict[str, Any]:
        """The next delivery of `event` (and `action`) the forge sent that a person caused."""
        count = self.seen.get((event, action), 0) + 1
        while True:
            hooks = self.hooks.wait_for(event, action, count=count, timeout=30)
            hook = hooks[count - 1]
            self.seen[(event, action)] = count
            if hook.payload.get("sender", {}).get("login") != BOT:  # the bot's own start no run
                return hook.payload
            count += 1

    def env(self, event: str, payload: dict[str, Any], *, run_id: int, token_of: str = BOT) -> dict[str, str]:
        self.runs += 1
        run = self.workdir / f"run-{self.runs}"
        temp = run / "temp"
        data = temp / "intentops"
        data.mkdir(parents=True)
        (data / "wheelhouse").symlink_to(SHARED_DATA / "wheelhouse")
        (data / "venvs").symlink_to(SHARED_DATA / "venvs")
        event_path = run / "event.json"
        event_path.write_text(json.dumps(payload), encoding="utf-8")
        for name in ("summary.md", "output.txt"):
            (run / name).touch()
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(run),
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": event,
            "GITHUB_EVENT_PATH": str(event_path),
            "GITHUB_REPOSITORY": REPO,
            "GITHUB_SHA": str(payload.get("after") or ""),
            "GITHUB_API_URL": self.kit.api_url,
            "GITHUB_SERVER_URL": self.kit.url,
            "GITHUB_TOKEN": self.accounts[token_of].token,
            "GITHUB_RUN_ID": str(run_id),
            "GITHUB_RUN_ATTEMPT": "1",
            "GITHUB_STEP_SUMMARY": str(run / "summary.md"),
            "GITHUB_OUTPUT": str(run / "output.txt"),
            "RUNNER_TEMP": str(temp),
        }

    def action(
        self,
        event: str,
        payload: dict[str, Any],
        *args: str,
        run_id: int | None = None,
        env: dict[str, str] | None = None,
    ) -> ActionRun:
        """`intentops action` as a workflow step runs it, in a new workflow run unless `run_id` names one
        (a later job of the same run: a fresh runner, the same event); `env`: variables the job adds."""
        run_id = run_id or 1000 + self.runs + 1
        variables = {**self.env(event, payload, run_id=run_id), **(env or {})}
        done = subprocess.run(
            [str(INTENTOPS), "action", *args],
            env=variables,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            check=False,
        )
        summary = Path(variables["GITHUB_STEP_SUMMARY"]).read_text(encoding="utf-8")
        lines = Path(variables["GITHUB_OUTPUT"]).read_text(encoding="utf-8").splitlines()
        outputs = dict(line.split("=", 1) for line in lines if "=" in line)
        return ActionRun(run_id, done.returncode, done.stdout, done.stderr, summary, outputs)


def workflow(path: Path = LINE_TEMPLATE) -> dict[str, Any]:
    loaded: dict[str, Any] = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    return loaded


def action_args(job: str, path: Path = LINE_TEMPLATE) -> list[str]:
    """The arguments a workflow's job gives `intentops action` (what the tests run it with too)."""
    runs = [step.get("run", "") for step in workflow(path)["jobs"][job]["steps"]]
    (command,) = [run for run in runs if run.startswith("intentops action")]
    return shlex.split(command)[2:]


def repo_files() -> dict[str, bytes]:
    policies = {f"policies/{p.name}": p.read_bytes() for p in (ROOT / "policies").iterdir() if p.is_file()}
    return {
        "BLUEPRINT.md": (EXAMPLES / "BLUEPRINT.md").read_bytes(),
        **policies,
        "policies/smoke.yaml": SMOKE_POLICY,
    }


@pytest.fixture
def actions_rig(forge_kit: ForgeKit, hook_receiver: HookReceiver, tmp_path: Path) -> Iterator[ActionsRig]:
    kit = forge_kit
    accounts = {login: kit.user(login) for login in ("acme", BOT, "alice", "bob", "carol")}
    kit.repo(REPO, files=repo_files(), collaborators={BOT: "write", "alice": "write", "bob": "write"})
    kit.admin.add_webhook(REPO, hook_receiver.url)
    prepare_wheelhouse(SHARED_DATA / "wheelhouse")  # a no-op once set-up has run
    (SHARED_DATA / "venvs").mkdir(parents=True, exist_ok=True)
    clone = kit.clone(REPO, accounts["alice"])
    rig = ActionsRig(kit=kit, hooks=hook_receiver, accounts=accounts, clone=clone, workdir=tmp_path)
    yield rig
    rig.stop_services()
