"""The words of the offline spec-builder: every sentence it writes, in one place."""

from __future__ import annotations

from pipeline.intents.hints import plural

NO_SUMMARY = "Behaviour described by the intent."
NO_GOAL = "(no blueprint goal given)"
SCOPE_OPERATIONS = "Health, metrics and registration with the service registry."
OUT_OF_SCOPE = (
    "Authentication of end users (the service runs behind the platform's gateway).",
    "Data migration from other systems.",
)
SECURITY = (
    "Every request body is validated against its schema; unknown fields are rejected with 422.",
    "Request bodies larger than 64 KiB are rejected with 413 before they are parsed.",
    "The registry token is read from REGISTRY_TOKEN and never logged or returned.",
    "The service listens on 127.0.0.1 unless HOST says otherwise.",
)
OBSERVABILITY = (
    "GET /metrics exposes Prometheus counters of requests by method, route and status.",
    "GET /metrics exposes a request latency histogram by route.",
    "GET /health reports status, service name and version.",
)
INVALID_BODY = "the body is not a valid {name} (missing required field, wrong type, or unknown field)"
TOO_LARGE = "the body is larger than {limit} KiB"
NOT_TEXT = "the body is not UTF-8 text"
STORED_URL = "the stored URL is not an absolute http(s) URL (a row written around the API)"

FR_HEALTH = "The service MUST answer GET /health with status ok, its name and version while it can serve."
FR_METRICS = "The service MUST expose Prometheus metrics at GET /metrics."
FR_REGISTER = (
    "When REGISTRY_URL is set, the service MUST register itself at start-up and send heartbeats, "
    "retrying with backoff while the registry is down, without ever stopping because of it."
)
NFR_LATENCY = "95% of requests MUST complete within 200 ms at up to 50 requests per second."
NFR_AVAILABILITY = "The service MUST be available 99.5% of each calendar month."
NFR_BODY = "Request bodies MUST be at most {limit} KiB."
NFR_LIST = "A list response MUST hold at most {limit} items."

Q_RESOURCES = (
    "[NEEDS CLARIFICATION] Which resources does the service keep, with which fields? "
    "(the intent gives no `resources`)"
)
Q_ENDPOINTS = (
    "[NEEDS CLARIFICATION] Which endpoints must it serve, and what does each return? "
    "(the intent gives no `endpoints`)"
)
Q_GOAL = "[NEEDS CLARIFICATION] Which blueprint goal does this service serve? (no `blueprint_context`)"

AC_HEALTH = ("the service is running", "a client sends GET /health", "it answers 200 with status ok")
AC_METRICS = (
    "the service has answered a request",
    "a client sends GET /metrics",
    "it answers 200 with a Prometheus request counter",
)
AC_REGISTER = (
    "REGISTRY_URL and REGISTRY_TOKEN are set",
    "the service starts",
    "it sends POST /services/register with its name, version, URL and health path and the bearer token",
)
AC_REGISTRY_DOWN = (
    "REGISTRY_URL points at a registry that does not answer",
    "the service starts and a client sends GET /health",
    "it answers 200 with status ok",
)


def title(service_name: str) -> str:
    return " ".join(part.capitalize() for part in service_name.split("-"))


def scope_line(name: str, many: str) -> str:
    return f"Create, list, read, change and delete {many} (one {name} per id)."


def purpose_requirement(purpose: str) -> str:
    sentence = purpose.strip().rstrip(".")
    return f"The service MUST {sentence[0].lower()}{sentence[1:]}."


def fr_create(name: str, required: list[str]) -> str:
    needs = f" and MUST refuse one without {', '.join(required)}" if required else ""
    return f"The service MUST create a {name} from a JSON body, give it an id{needs}."


def fr_list(many: str, limit: int) -> str:
    return f"The service MUST list {many}, oldest first, at most {limit} per response."


def fr_get(name: str) -> str:
    return f"The service MUST return one {name} by id, and 404 when there is none."


def fr_update(name: str) -> str:
    return f"The service MUST change the given fields of a {name} by id, and 404 when there is none."


def fr_delete(name: str) -> str:
    return f"The service MUST delete a {name} by id, and 404 when there is none."


def fr_persist(many: str) -> str:
    return f"The service MUST keep {many} in SQLite under DATA_DIR so they survive a restart."


def fr_custom(method: str, path: str, summary: str) -> str:
    return f"The service MUST serve {method} {path}: {summary.rstrip('.')}."


def custom_response(operation: str, resource: str | None) -> str:
    if operation == "custom":
        return "what a model writes (no hint says what it returns; offline it answers 501 Not Implemented)"
    return f"the {resource} result of the {operation} operation"


def ac_create_ok(name: str) -> tuple[str, str, str]:
    return (f"a valid {name}", "a client POSTs it", f"it answers 201 with the {name} and a new id")


def ac_missing_required(name: str, field: str) -> tuple[str, str, str]:
    return (f"a {name} without '{field}'", "a client POSTs it", "it answers 422 and stores nothing")


def ac_wrong_type(name: str, field: str) -> tuple[str, str, str]:
    return (f"a {name} whose '{field}' has the wrong type", "a client POSTs it", "it answers 422")


def ac_too_large(name: str, limit_kib: int) -> tuple[str, str, str]:
    return (
        f"a {name} body larger than {limit_kib} KiB, streamed in chunks without a Content-Length",
        "a client POSTs it",
        "it answers 413 and stores nothing",
    )


def ac_list(many: str) -> tuple[str, str, str]:
    return (f"two {many} were created", f"a client lists {many}", "it answers 200 with both, oldest first")


def ac_get_ok(name: str) -> tuple[str, str, str]:
    return (f"a {name} was created", "a client GETs it by id", f"it answers 200 with the same {name}")


def ac_missing(name: str, method: str) -> tuple[str, str, str]:
    return (f"no {name} has id 999999", f"a client sends {method} for that id", "it answers 404")


def ac_update_ok(name: str) -> tuple[str, str, str]:
    return (
        f"a {name} was created",
        "a client PATCHes one field",
        "it answers 200, that field changed and the others did not",
    )


def ac_delete_ok(name: str) -> tuple[str, str, str]:
    return (f"a {name} was created", "a client DELETEs it", "it answers 204 and a later GET answers 404")


def ac_persist(name: str) -> tuple[str, str, str]:
    return (
        f"a {name} was created",
        "the service restarts with the same DATA_DIR",
        f"the {name} is still there",
    )


def ac_custom(method: str, path: str, missing: bool) -> tuple[str, str, str]:
    if missing:
        return ("nothing matches the path parameters", f"a client sends {method} {path}", "it answers 404")
    return ("the service is running", f"a client sends {method} {path}", "it answers with success and JSON")


# -- relations, seed rows, URL fields ----------------------------------------------------------------------


def scope_relation(many: str, parent: str) -> str:
    return f"The {many} of each {parent}, and no {many[:-1] if many.endswith('s') else many} without one."


def fr_url(name: str, field: str) -> str:
    return f"The service MUST refuse a {name} whose {field} is not an absolute http(s) URL, with 422."


def ac_bad_url(name: str, field: str) -> tuple[str, str, str]:
    return (
        f"a {name} whose {field} is a javascript: URL, a relative path, or holds a line break",
        "a client POSTs it",
        "it answers 422 and stores nothing",
    )


def fr_relation(name: str, field: str, parent: str) -> str:
    return f"The service MUST refuse a {name} whose {field} names no {parent}, with 422."


def ac_relation_refused(name: str, parent: str) -> tuple[str, str, str]:
    return (
        f"no {parent} has id 999999",
        f"a client POSTs a {name} naming it",
        "it answers 422 and stores nothing",
    )


def fr_parent_delete(name: str, children: str, cascade: bool) -> str:
    if cascade:
        return f"The service MUST delete a {name}'s {children} with it."
    return f"The service MUST refuse to delete a {name} that still has {children}, with 409."


def ac_parent_delete(name: str, children: str, cascade: bool) -> tuple[str, str, str]:
    then = (
        f"it answers 204 and its {children} are gone" if cascade else f"it answers 409 and the {name} stays"
    )
    return (f"a {name} with {children}", f"a client DELETEs the {name}", then)


def fr_seed(many: str, count: int) -> str:
    return f"The service MUST start with the intent's {count} {many} when its storage is new."


def ac_seeded(many: str, count: int) -> tuple[str, str, str]:
    return (
        "a service started on new storage",
        f"a client lists {many}",
        f"it answers the {count} seed rows, in order",
    )


def fr_related(many: str, parent: str) -> str:
    return f"The service MUST list the {many} of a {parent}, and answer 404 when there is no such {parent}."


def ac_related(many: str, parent: str) -> tuple[str, str, str]:
    return (
        f"two {parent}s with {many} each",
        f"a client lists the {many} of one {parent}",
        f"it answers that {parent}'s {many} only, oldest first",
    )


# -- endpoints whose hint says what they do ----------------------------------------------------------------

KIND_SUMMARIES = {
    "query": "Answer the rows that match.",
    "aggregate": "Answer a figure computed over the rows.",
    "action": "Change one row.",
    "redirect": "Redirect to a stored URL.",
    "respond": "Answer a fixed JSON value.",
}


def kind_summary(kind: str | None) -> str:
    return KIND_SUMMARIES.get(kind or "", NO_SUMMARY)


def fr_behaviour(method: str, path: str, words: str) -> str:
    return f"The service MUST serve {method} {path}. {words}"


_HINT_CRITERIA = {
    "query_ok": (
        "{many} that match and, for each condition, one that misses it",
        "a client sends {method} {path}",
        "it answers exactly the matching ones, in the promised order",
    ),
    "query_page": (
        "more matching {many} than one page shows",
        "a client sends {method} {path} with limit=1 and offset=1",
        "it answers only the second match",
    ),
    "query_missing": ("no {name} matches", "a client sends {method} {path}", "it answers 404"),
    "aggregate_ok": (
        "{many} the conditions keep, in more than one group, and one they leave out",
        "a client sends {method} {path}",
        "it answers the figure computed from the kept rows only",
    ),
    "action_ok": (
        "a {name}",
        "a client sends {method} {path} for it, twice",
        "it answers the {name} with the set fields changed, each counter raised once per call, the rest "
        "unchanged",
    ),
    "action_missing": ("no {name} matches the path", "a client sends {method} {path}", "it answers 404"),
    "redirect_ok": (
        "a {name} holding an http(s) URL",
        "a client sends {method} {path} for it",
        "it answers the redirect status with Location set to that URL, and counts the call",
    ),
    "redirect_missing": ("no {name} matches the path", "a client sends {method} {path}", "it answers 404"),
    "static_ok": (
        "the service is running",
        "a client sends {method} {path}",
        "it answers 200 with exactly the JSON the intent gives",
    ),
}


def ac_hint(check: str, method: str, path: str, name: str) -> tuple[str, str, str]:
    many = plural(name) if name else "rows"
    given, when, then = _HINT_CRITERIA[check]
    values = {"many": many, "name": name, "method": method, "path": path}
    return given.format(**values), when.format(**values), then.format(**values)
