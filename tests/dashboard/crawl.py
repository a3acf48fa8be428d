"""Following every link of the line's pages in a browser, to find any that answers 404."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urldefrag, urlsplit

from playwright.sync_api import Page

MAX_PAGES = 80
PRINTED_URL = re.compile(r"https?://[^\s\"'<>()\[\]]+")
SKIPPED = ("/signout", "/live")
"""Not pages: a form's target and the live event stream."""


def crawl(
    page: Page, starts: Iterable[str], hosts: set[str], *, limit: int = MAX_PAGES
) -> tuple[set[str], list[str]]:
    """Open each start page and every link found on the pages of `hosts` (host:port), breadth first, at
    most `limit` pages. Returns (the pages opened, those that answered 404)."""
    queue = list(starts)
    seen: set[str] = set()
    broken: list[str] = []
    while queue and len(seen) < limit:
        url = urldefrag(queue.pop(0)).url
        if url in seen:
            continue
        seen.add(url)
        response = page.goto(url)
        assert response is not None, url
        if response.status == 404:
            broken.append(url)
            continue
        for href in page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)"):
            if urlsplit(href).netloc in hosts and not any(part in href for part in SKIPPED):
                queue.append(href)
    return seen, broken


def printed_urls(output: str) -> list[str]:
    """Every http(s) address in a program's output, without the punctuation that ends a sentence."""
    return sorted({url.rstrip(".,;:") for url in PRINTED_URL.findall(output)})
