"""The offline scorer's small vocabulary: words a team uses for the concepts blueprints talk about.

An intent rarely uses the blueprint's own words: "a to-do list for the team" serves "shared internal tools",
"save useful links" serves "bookmarks". Each group below is a handful of words that stand for one concept;
a group counts for the blueprint when any of its words is in the blueprint, and an intent's word counts for
the concept of its group. Nothing here is specific to one blueprint: a group whose words a blueprint does
not use plays no part in its scores.

`GENERIC` words say little about any goal ("service", "app", "build"): they weigh a quarter as much as
evidence for a goal, and on their own never count as naming out-of-scope work.

`ALWAYS_OUT_OF_SCOPE` lists work no blueprint asks for, whatever it says: sending secrets out, switching
off governance. An intent that names both halves of one of them is capped low, like one naming its
blueprint's out-of-scope work. (This lowers a heuristic score; what keeps such an intent from being
auto-approved is that a lexical score can never grant auto-approval.)

`PHRASES` joins a few multi-word expressions into one word before anything else ("to-do" -> todo,
"turn off" -> disable); `NEGATORS` drop the words they govern ("stores no personal data").
"""

from __future__ import annotations

import re

PHRASES: tuple[tuple[str, str], ...] = (
    (r"\bto[\s-]*dos?\b", "todo"),
    (r"\bon[\s-]*call\b", "oncall"),
    (r"\bwrite[\s-]*ups?\b", "writeup"),
    (r"\bpost[\s-]*mortems?\b", "writeup"),
    (r"\bsign[\s-]*offs?\b", "signoff"),
    (r"\b(?:turn|switch|shut)(?:s|ed|ing)?\s+off\b", "disable"),
    (r"\bthird[\s-]*part(?:y|ies)\b", "external"),
    (r"\bhow[\s-]*tos?\b", "howto"),
    (r"\bnew[\s-]*(?:hires?|joiners?|starters?|colleagues?)\b", "newcomer"),
    (r"\bspeed\s+up\b", "faster"),
    (r"\bapi\s+keys?\b", "apikey"),
    (r"\bcost\s+per\b", "cost"),
)
"""(regular expression, word): applied to the lowercased text in order."""

NEGATORS = frozenset({"no", "not", "never", "without", "nor", "none"})
NEGATED_WORDS = 3
"""How many words after a negator, within its clause, it takes away."""

SYNONYMS: tuple[tuple[str, ...], ...] = (
    # who a tool is for: the team
    ("team", "teams", "colleague", "coworker", "teammate", "engineer", "developer", "dev", "staff",
     "newcomer"),
    ("internal", "inhouse", "intranet"),
    # what kind of thing: a small tool
    ("tool", "utility", "todo", "checklist", "tracker", "board", "directory", "dashboard", "rota", "roster"),
    ("share", "sharing", "post", "publish", "announce", "exchange", "circulate"),
    ("knowledge", "know", "knows", "wiki", "documentation", "docs", "guide", "howto", "runbook", "faq",
     "glossary", "handbook", "manual", "writeup", "lesson", "learn", "decision", "snippet", "answer"),
    ("note", "notes", "memo", "minutes"),
    ("bookmark", "link", "links", "url", "favorite", "favourite", "reference", "article"),
    ("greeting", "greet", "welcome", "hello", "onboarding", "onboard", "newcomer", "introduce"),
    ("status", "uptime", "outage", "incident", "down", "oncall", "alert", "ping", "monitor", "availability"),
    ("page", "pages", "pager"),
    # delivery
    ("fast", "quick", "quicker", "faster", "speed", "sooner", "rapid", "latency", "slow", "cache"),
    ("delivery", "deliver", "ship", "shipped", "release", "rollout", "deploy", "deployment"),
    ("reliable", "reliability", "flaky", "stable", "robust", "resilient"),
    ("test", "tests", "testing"),
    ("pipeline", "assembly", "line", "factory", "ci"),
    ("optimize", "optimise", "optimization", "tune", "tuning"),
    # specifications
    ("spec", "specs", "specification", "rfc"),
    ("requirement", "requirements", "template"),
    ("acceptance", "criteria"),
    ("measure", "measurable", "measured", "benchmark", "metric"),
    # cost
    ("cost", "costs", "spend", "spending", "budget", "expense", "dollar", "bill", "invoice", "token"),
    ("month", "monthly", "week", "weekly"),
    # out-of-scope work as blueprints name it
    ("customer", "client", "consumer", "shopper", "subscriber", "buyer", "fan", "visitor"),
    ("payment", "pay", "paying", "checkout", "card", "credit", "sell", "resell", "sale", "purchase",
     "purchased", "charge"),
    ("personal", "address", "addresses", "phone", "birthday", "location", "medical", "patient",
     "salary", "passport"),
    ("store", "storing", "keep", "save", "record", "collect", "retain", "hold"),
    ("crypto", "cryptocurrency", "bitcoin", "blockchain", "ethereum", "nft"),
    ("mining", "mine", "miner"),
)  # fmt: skip
"""Each group: words for one concept (written as people write them; matched by stem)."""

GENERIC = frozenset(
    {
        "service", "services", "app", "application", "api", "build", "builds", "system", "new", "small",
        "simple", "help", "make", "use", "every", "idea", "hour", "production", "start", "may", "own",
        "always", "against", "current", "better", "version", "intent", "goal", "organisation",
        "organization", "blueprint", "data", "store", "facing", "process", "processing", "score", "work",
        "track", "month", "week", "day", "year",
    }
)  # fmt: skip
"""Words that say little about any goal: a quarter of the weight, never out-of-scope evidence alone. A group
holding one of them is generic as a whole ("store" makes keeping and saving generic)."""

SECRETS = ("secret", "credential", "password", "apikey")
OUTSIDE = ("external", "outside", "public", "paste", "pastebin", "remote", "internet")
GOVERNANCE = ("governance", "approval", "approve", "review", "oversight", "audit", "policy", "policies")
SWITCH_OFF = ("disable", "bypass", "circumvent", "skip", "evade")

ALWAYS_OUT_OF_SCOPE: tuple[tuple[tuple[str, ...], ...], ...] = (
    (SECRETS, OUTSIDE),
    (SWITCH_OFF, GOVERNANCE),
)
"""Work no blueprint asks for: each item is named when a word of every one of its groups appears."""

WORD = re.compile(r"[a-z][a-z0-9]+")
