"""What the flow handlers share: the job kinds, the layout of an intents repository, the line itself."""

from __future__ import annotations

from enum import StrEnum

from bot.line import Line
from bot.routing import BotContext, PermanentJobError

INTENTS_DIR = "intents/"
INTENT_SUFFIXES = (".yaml", ".yml")
SERVICE_BRANCH = "intentops/{service}"
ISSUE_BRANCH = "intentops/issue-{number}"
SERVICES_DIR = "services/{service}"
# One GitHub environment per service: GitHub marks a deployment inactive when a newer one in the same
# environment succeeds, which must not happen to one service because another was deployed.
DEPLOY_ENVIRONMENT = "intentops-{service}"


class JobKind(StrEnum):
    READ = "intent.read"
    BUILD = "intent.build"
    UNDEPLOY = "intent.undeploy"
    SIGNOFF = "pr.signoff"
    DEPLOY = "pr.deploy"
    CLOSED = "pr.closed"
    COMMAND = "pr.command"
    ISSUE = "issue.intent"
    SHADOW = "stage.shadow"
    """A stage service was deployed: prove it beside the incumbent on recent work; propose it if better."""
    STAGES = "line.stages"
    """`line/stages.yaml` changed on the default branch: record the lineage, route to what it names."""
    CHANGED = "pr.changed"
    """New commits on a pull request, or a new one: test a head the line did not build, govern a policy
    change."""


def require_line(context: BotContext) -> Line:
    if context.line is None:
        raise PermanentJobError("this worker has no forge connection (start it with `intentops up`)")
    return context.line


def is_intent_path(path: str) -> bool:
    return path.startswith(INTENTS_DIR) and path.endswith(INTENT_SUFFIXES)
