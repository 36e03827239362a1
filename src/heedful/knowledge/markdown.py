"""Article Markdown → safe HTML and plain text.

markdown-it-py renders CommonMark plus tables and strikethrough; raw HTML in the
Markdown is allowed through the parser and then everything is cleaned by nh3, so an
article can hold a <kbd> or a <details> but never a script, an event handler or a
javascript: link. Headings get ids so an article can link to its own sections.
"""

import html
import re

import nh3
from markdown_it import MarkdownIt
from mdit_py_plugins.anchors import anchors_plugin

_md = (
    MarkdownIt("commonmark", {"html": True, "linkify": False, "typographer": False})
    .enable(["table", "strikethrough"])
    .use(anchors_plugin, min_level=2, max_level=3, permalink=False)
)

_TAGS = nh3.ALLOWED_TAGS | {"details", "summary", "kbd", "mark"}
_ATTRIBUTES = {
    **nh3.ALLOWED_ATTRIBUTES,
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "h2": {"id"},
    "h3": {"id"},
    "th": {"align"},
    "td": {"align"},
}
_TAG_RE = re.compile(r"<[^>]+>")
_SPACE_RE = re.compile(r"[ \t]+")


def render(markdown: str) -> str:
    """Sanitized HTML for an article body."""
    if not markdown.strip():
        return ""
    return nh3.clean(
        _md.render(markdown),
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto", "tel"},
        link_rel="noopener noreferrer",
        clean_content_tags={"script", "style", "title"},
    )


def plain_text(body_html: str) -> str:
    """The words of rendered HTML, for the search index and snippets."""
    text = html.unescape(_TAG_RE.sub(" ", body_html))
    lines = (_SPACE_RE.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)
