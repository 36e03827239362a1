"""The help center's look: colour checks, contrast, and logo sniffing.

The theme's colours end up inside a <style> block, so they are checked twice: when an
admin saves them (a form error) and again when a page is drawn (a bad value in the
database falls back to the default instead of reaching the CSS).
"""

import re

from heedful.portal.models import HelpCenterTheme

COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
MIN_CONTRAST = 4.5
MAX_LOGO_BYTES = 512 * 1024
# Magic numbers of the logo formats we accept; SVG (a document that can run script)
# and everything else are refused.
_LOGO_TYPES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)
_DEFAULTS = {f.name: f.default for f in HelpCenterTheme._meta.fields if "color" in f.name}


def is_color(value: str) -> bool:
    return bool(COLOR_RE.match(value or ""))


def safe_color(theme: HelpCenterTheme, field: str) -> str:
    value = getattr(theme, field, "")
    return value.lower() if is_color(value) else str(_DEFAULTS[field])


def _luminance(color: str) -> float:
    def channel(hex_pair: str) -> float:
        c = int(hex_pair, 16) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(color[i : i + 2]) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(one: str, other: str) -> float:
    """WCAG 2 contrast ratio of two #rrggbb colours (1 to 21)."""
    light, dark = sorted((_luminance(one), _luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def on_primary(primary: str) -> str:
    """Text colour for buttons and links on the primary colour: white when it reads
    well, near-black otherwise, so a light brand colour never hides its labels."""
    return "#ffffff" if contrast(primary, "#ffffff") >= MIN_CONTRAST else "#111111"


def logo_type(head: bytes) -> str | None:
    """The image type the first bytes of a file show, or None when not one we accept."""
    for magic, content_type in _LOGO_TYPES:
        if head.startswith(magic):
            return content_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def css_variables(theme: HelpCenterTheme) -> dict[str, str]:
    primary = safe_color(theme, "primary_color")
    return {
        "primary": primary,
        "on_primary": on_primary(primary),
        "background": safe_color(theme, "background_color"),
        "text": safe_color(theme, "text_color"),
    }
