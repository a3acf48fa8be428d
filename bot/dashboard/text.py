"""Every sentence the dashboard shows a person, in one place."""

from __future__ import annotations

SECRET_MISSING = (
    "INTENTOPS_DASHBOARD_SECRET is not set: the dashboard signs its session cookies with it "
    "(outside development it is required)"
)
SECRET_PLACEHOLDER = "INTENTOPS_DASHBOARD_SECRET is a placeholder; set a real secret outside development"
SECRET_TOO_SHORT = "INTENTOPS_DASHBOARD_SECRET must be at least {length} characters outside development"

CSRF_FAILED = "This form expired or did not come from the dashboard. Reload the page and try again."
TOKEN_REFUSED = "The forge did not accept this token. Check it and try again."
TOKEN_MISSING = "Paste a forge token to sign in."
TOO_MANY_ATTEMPTS = "Too many refused tokens from here. Try again in {seconds} seconds."
SIGNED_IN = "Signed in as {login}."
SIGNED_OUT = "Signed out."

NO_PULL_REQUEST = "this intent has no pull request yet"
PULL_CLOSED = "the pull request is {state}"
NOT_SIGNOFF_STAGE = "this intent is not waiting for a sign-off"
NO_ACCESS = "{login} cannot read the repository {repo} on the forge"
TESTS_FAILING = "its tests fail at {head}: an approval cannot help until a fix passes them"
CANNOT_SIGN_OFF = "You cannot sign off on this intent: {reason}."
HEAD_MOVED = (
    "The pull request changed since you looked at it (now at {head}). Review the new commits, then approve."
)
FORGE_UNREACHABLE = "The forge did not answer ({error}); try again in a moment."
UNKNOWN_INTENT = "There is no intent {intent_id}."
BAD_REQUEST = "This address or form is not one the dashboard understands (check: {where})."

APPROVE_REVIEW_BODY = "Approved from the IntentOps dashboard by {login}."
APPROVED = "You approved {service} (pull request #{number}). The sign-off counts once the forge reports it."
ALREADY_APPROVED = "You had already approved {service} at this commit."
REJECT_COMMENT = "Rejected from the IntentOps dashboard by {login}:\n\n> {reason}"
REJECTED = "You rejected {service}: pull request #{number} is closed with your reason."
REJECT_CONFIRM = "Reject {service}? This closes pull request #{number} and comments your reason on it."
REASON_REQUIRED = "Say why you reject it: the reason goes on the pull request."
REASON_TOO_LONG = "Keep the reason under {limit} characters."

BAD_DATE = "{name}: '{value}' is not a date; give it as YYYY-MM-DD (for example 2026-11-24)."
BAD_RANGE = "The range starts ({since}) after it ends ({until}); swap the dates."
RANGE_TOO_LONG = "Show at most {days} days at a time."

WAITING_NOTHING = "nothing"
NO_DATA = "no data yet"

NOT_READY_TO_MERGE = "this intent is not signed off yet"
NO_WRITE = "{login} does not have write permission on the repository"
CANNOT_MERGE = "You cannot merge this intent: {reason}."
MERGE_MESSAGE = "Merge {service} (signed off; merged from the IntentOps dashboard by {login})"
MERGE_REFUSED = "The forge refused the merge: {message}"
MERGED = "You merged {service} (pull request #{number}). The bot deploys it now."
