"""What people wrote (an intent's purpose and file name, policy reasons, review and reject reasons, error
messages quoting them), as the bot quotes it in Markdown on pull requests, issues and comments: it shows as
the text it is, never as HTML, and it pings nobody.

One policy, like autoescaping: the bot's templates (`templates/bot/`) are rendered with `finalize=neutral`,
so every `{{ value }}` goes out neutralized unless a filter here already made it safe Markdown:

    {{ text }}                 &, <, > escaped (no tag or comment renders); "@" followed by a name gets a
                               zero-width joiner, so `@alice` or `@org/team` notifies nobody
    {{ text | oneline }}       the same, on one line (list items, table cells): line breaks become spaces
                               and "|" is escaped
    {{ path | code }}          a code span: HTML and mentions are inert inside it; a fence longer than any
                               run of backticks in the text, so the text cannot close it
    {{ log | codeblock }}      a fenced code block, likewise
    {{ macro() | rendered }}   a macro's output, whose own values were neutralized already: not again

Plain functions for text the bot formats outside a template: `neutral`, `code_span`.
"""

from __future__ import annotations

import functools
import re

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from pipeline.spec.render import templates_dir

ZERO_WIDTH_JOINER = "\u200d"
HTML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
MENTION = re.compile(r"@(?=[\w-])")
"""An "@" a name could follow: GitHub (and the forge) would turn `@name` or `@org/team` into a mention."""
BACKTICKS = re.compile(r"`+")


class SafeMarkdown(str):
    """Markdown built here from user text (a code span or block): `neutral` lets it through unchanged."""


def neutral(value: object) -> str:
    """`value` as inert Markdown text: no HTML, no mention. SafeMarkdown passes unchanged."""
    if isinstance(value, SafeMarkdown):
        return value
    text = str(value).translate(HTML_ESCAPES)
    return MENTION.sub("@" + ZERO_WIDTH_JOINER, text)


def oneline(value: object) -> str:
    """`value` on one line, for a list item or a table cell (neutralized when it is output)."""
    return " ".join(str(value).split()).replace("|", "\\|")


def _fence(text: str, *, shortest: int) -> str:
    longest = max((len(run) for run in BACKTICKS.findall(text)), default=0)
    return "`" * max(shortest, longest + 1)


def code_span(value: object) -> SafeMarkdown:
    """`value` as an inline code span it cannot break out of (a line break would end it: made a space)."""
    text = " ".join(str(value).splitlines())
    fence = _fence(text, shortest=1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return SafeMarkdown(f"{fence}{pad}{text}{pad}{fence}")


def code_block(value: object) -> SafeMarkdown:
    """`value` as a fenced code block it cannot break out of."""
    text = str(value).rstrip("\n")
    fence = _fence(text, shortest=3)
    return SafeMarkdown(f"{fence}\n{text}\n{fence}")


@functools.cache
def markdown_environment(subdir: str) -> Environment:
    """Jinja for the Markdown the bot writes: every output neutralized unless made SafeMarkdown above."""
    environment = Environment(
        loader=FileSystemLoader(templates_dir() / subdir),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # HTML autoescaping does not fit Markdown; `neutral` is its counterpart here
        finalize=neutral,
    )
    environment.filters.update(code=code_span, codeblock=code_block, oneline=oneline, rendered=SafeMarkdown)
    return environment
