"""Markdown as the dashboard shows it (a SPEC, a pull request's conversation): rendered by markdown-it-py,
sanitized by construction.

Raw HTML is kept only when it is nothing but the tags the bot's comments fold text with (`<details>`,
`<summary>`, `<br>`, without attributes): a `<script>`, an `onerror=` or a comment someone wrote is text,
never markup. markdown-it refuses `javascript:`, `vbscript:`, `file:` and `data:` links (images aside) and
escapes every attribute. Links open without a referrer; images are not loaded (the dashboard's content
security policy forbids other origins anyway), they show as their alt text linked to their address.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Sequence

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from markupsafe import Markup

MAX_CHARS = 200_000
"""Longer text is cut before parsing (a SPEC is read whole up to the approvals page's own limit)."""
SLUG = re.compile(r"[^a-z0-9]+")
FOLDING_TAG = re.compile(r"</?(?:details|summary)>|<br\s*/?>", re.IGNORECASE)


def allowed_html(raw: str) -> str:
    """`raw` with its folding tags kept and the rest escaped; all of it escaped when it holds any other
    tag, a comment or a stray `<`."""
    if "<" in FOLDING_TAG.sub("", raw):
        return html.escape(raw)
    out, position = [], 0
    for tag in FOLDING_TAG.finditer(raw):
        out.append(html.escape(raw[position : tag.start()]))
        out.append(tag.group(0).lower().replace(" ", ""))
        position = tag.end()
    out.append(html.escape(raw[position:]))
    return "".join(out)


def slug(text: str) -> str:
    """`4. Endpoints` -> `4-endpoints`: an anchor for a heading."""
    return SLUG.sub("-", text.lower()).strip("-") or "section"


class _SafeRenderer(RendererHTML):
    """Links get rel attributes; images become links to their source (nothing is fetched); raw HTML is
    `allowed_html`."""

    def html_block(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return allowed_html(tokens[idx].content)

    def html_inline(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return allowed_html(tokens[idx].content)

    def link_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        tokens[idx].attrSet("rel", "nofollow noopener noreferrer")
        return self.renderToken(tokens, idx, options, env)

    def image(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        token = tokens[idx]
        source = str(token.attrGet("src") or "")
        alt = self.renderInlineAsText(token.children or [], options, env) or source
        escaped = self.escape_html(alt)
        if not source:
            return escaped
        return f'<a href="{self.escape_html(source)}" rel="nofollow noopener noreferrer">{escaped}</a>'

    @staticmethod
    def escape_html(text: str) -> str:
        return str(Markup.escape(text))


@functools.cache
def _parser() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": True, "linkify": False, "typographer": False})
    parser.enable(["table", "strikethrough"])
    parser.renderer = _SafeRenderer(parser)
    return parser


def render_markdown(text: str) -> Markup:
    """`text` (Markdown) as safe HTML."""
    return Markup(_parser().render(text[:MAX_CHARS]))


def render_tokens(tokens: Sequence[Token]) -> Markup:
    """Already parsed tokens (a slice of a document) as safe HTML."""
    parser = _parser()
    return Markup(parser.renderer.render(tokens, parser.options, {}))


def parse(text: str) -> list[Token]:
    return _parser().parse(text[:MAX_CHARS], {})


def heading_text(tokens: Sequence[Token], index: int) -> str:
    """The plain text of the heading whose `heading_open` token is at `index`."""
    inline = tokens[index + 1] if index + 1 < len(tokens) else None
    return _plain(inline.children or []) if inline is not None else ""


def _plain(children: Sequence[Token]) -> str:
    return "".join(child.content for child in children if child.type in ("text", "code_inline"))
