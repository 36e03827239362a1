"""The one sanitizer for HTML that came from outside (emails, rich-text replies)."""

import nh3

# Links open outside the app and carry no referrer; remote images are kept as
# tags here and blocked at display time by the workspace's Content-Security-Policy
# (core.headers).
_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title", "width", "height"}}


def sanitize_html(html: str) -> str:
    if not html:
        return ""
    return nh3.clean(
        html,
        attributes={**nh3.ALLOWED_ATTRIBUTES, **_ATTRIBUTES},
        url_schemes={"http", "https", "mailto", "cid", "tel"},
        link_rel="noopener noreferrer nofollow",
        # Dropped with their content: a <title> in an email's head is not message text.
        clean_content_tags={"script", "style", "title"},
    )
