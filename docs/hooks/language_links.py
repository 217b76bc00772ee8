"""Keep the language switch, drop the head links that make the browser ask for sitemaps.

mkdocs-static-i18n gives every page, in both editions, links to the same page in the
other language: in the header's language switch (what a reader clicks) and as
`<link rel="alternate" hreflang=...>` in the page's head (what search engines read).
Material for MkDocs fetches `sitemap.xml` beside every such head link, to map pages across
languages; beside a page there is none, so each page load logged two 404 errors in the
browser's console. The switch's links already lead to the same page, and this book is read
offline, not indexed: the head links go, the switch stays.
"""

from __future__ import annotations

import re
from typing import Any

_HEAD_ALTERNATE = re.compile(r'<link rel="alternate" href="[^"]*" hreflang="[^"]*">\s*')


def on_post_page(output: str, page: Any, config: Any) -> str:
    return _HEAD_ALTERNATE.sub("", output)
