"""What the monitor says: the pull request body of a filing (Markdown), and lines for `intentops monitor`."""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.monitor.evaluate import Outcome, Plan, evidence

PULL_TITLE = "Monitor: {service} (rule {rule})"
COMMIT = "Propose {service}: the monitor's rule {rule} fired"
MARKER = "<!-- intentops-monitor rule={rule} -->"
"""Hidden in every body the monitor writes: its pull requests say whose they are."""
BODY_HEAD = """\
{marker}
**Filed by the assembly-line monitor.** Rule `{rule}` (`{source}`) fired: {description}

Condition, over the last {days} day(s): `{when}`

| metric | value |
|---|---|
{metrics}
"""
BODY_GOVERNED = """
This pull request adds `{path}`. Like every change the line proposes to itself it is **never
auto-approved and never merged by the bot**: people review it (two approvals), and once merged the intent
is built, signed off and deployed like any other, then proved by shadow evaluation before anything routes
to it. The monitor files no other pull request for this rule while this one is open.
"""
SPECS_TABLE = """
**SPECs with the most optimizer rounds**

| intent | rounds | score | at the gate |
|---|---|---|---|"""
FINDINGS_TABLE = """
**Findings that cost the most rounds**

| finding | rounds | repairs |
|---|---|---|"""
PLAN_TEXT = {
    Plan.FILE: "would file {path}",
    Plan.QUIET: "quiet",
    Plan.OPEN: "fired; pull request #{pull} is still open: nothing filed",
    Plan.DAILY_LIMIT: "fired; the day's filings are used up: nothing filed",
    Plan.ERROR: "could not be evaluated: {error}",
}


def _value(value: object) -> str:
    if isinstance(value, dict):
        return ", ".join(_entry(k, v) for k, v in value.items()) or "none"
    return str(value)


def _entry(key: str, value: object) -> str:
    return f"{key} ({_value(value)})" if isinstance(value, dict) else f"{key}: {value}"


def pull_body(outcome: Outcome) -> str:
    rule = outcome.rule
    rows = "\n".join(f"| `{name}` | {_value(value)} |" for name, value in outcome.variables.items())
    seen = evidence(outcome.metrics)
    parts = [
        BODY_HEAD.format(
            marker=MARKER.format(rule=rule.name),
            rule=rule.name,
            source=rule.source,
            description=rule.description,
            days=rule.window_days,
            when=rule.when.text,
            metrics=rows,
        )
    ]
    if seen["specs"]:
        parts.append(SPECS_TABLE)
        parts.extend(
            f"| `{s['path']}` | {s['rounds']} | {s['score']:g} | {'yes' if s['reached_gate'] else 'no'} |"
            for s in seen["specs"]
        )
    if seen["findings"]:
        parts.append(FINDINGS_TABLE)
        parts.extend(f"| `{f['code']}` | {f['rounds']} | {f['repairs']} |" for f in seen["findings"])
    if seen["vague_words"]:
        words = ", ".join(f"'{w['word']}' ({w['specs']})" for w in seen["vague_words"])
        parts.append(f"\n**Vague words the SPECs were left with**: {words}")
    parts.append(BODY_GOVERNED.format(path=outcome.intent_path))
    parts.append(f"\n```yaml\n{outcome.intent_text}```\n")
    return "\n".join(parts)


def lines(outcomes: Sequence[Outcome]) -> list[str]:
    """One line per rule for a terminal: its name, window and what the monitor does about it."""
    out = []
    for o in outcomes:
        text = PLAN_TEXT[o.plan].format(path=o.intent_path, pull=o.open_pull, error=o.error)
        out.append(f"{o.rule.name} ({o.rule.window_days} d, {o.rule.when.text}): {text}")
    return out
