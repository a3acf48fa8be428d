"""Markdown of pull requests, issues and comments as HTML that cannot carry markup of its own.

markdown-it-py parses it; raw HTML is kept only when it is nothing but the tags GitHub's bodies use to fold
text (`<details>`, `<summary>`, `<br>`, without attributes): any other tag, attribute or comment shows as
the text it is. Links with a `javascript:`, `vbscript:`, `file:` or `data:` address are not links.
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
FOLDING_TAG = re.compile(r"</?(?:details|summary)>|<br\s*/?>", re.IGNORECASE)


def allowed_html(raw: str) -> str:
    """`raw` with its folding tags kept and everything else escaped; the whole of it escaped when it holds
    any other tag, a comment or a stray `<`."""
    if "<" in FOLDING_TAG.sub("", raw):
        return html.escape(raw)
    out, position = [], 0
    for tag in FOLDING_TAG.finditer(raw):
        out.append(html.escape(raw[position : tag.start()]))
        out.append(tag.group(0).lower().replace(" ", ""))
        position = tag.end()
    out.append(html.escape(raw[position:]))
    return "".join(out)


class _Renderer(RendererHTML):
    def html_block(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return allowed_html(tokens[idx].content)

    def html_inline(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return allowed_html(tokens[idx].content)

    def link_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        tokens[idx].attrSet("rel", "nofollow noopener noreferrer")
        return self.renderToken(tokens, idx, options, env)

    def image(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        """Not loaded (the pages allow no other origin): the alt text, linked to the image."""
        token = tokens[idx]
        source = str(token.attrGet("src") or "")
        alt = html.escape(self.renderInlineAsText(token.children or [], options, env) or source)
        if not source:
            return alt
        return f'<a href="{html.escape(source)}" rel="nofollow noopener noreferrer">{alt}</a>'


@functools.cache
def _parser() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": True, "linkify": False, "typographer": False})
    parser.enable(["table", "strikethrough"])
    parser.renderer = _Renderer(parser)
    return parser


def render_markdown(text: str | None) -> Markup:
    return Markup(_parser().render((text or "")[:MAX_CHARS]))
