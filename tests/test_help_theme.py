"""The help center's theme, set in /admin/: checked colours and logos, one row, and a
public layout that applies it without letting a stored value inject CSS."""

import io
import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from heedful.portal import theme as rules
from heedful.portal.models import HelpCenterTheme

pytestmark = pytest.mark.django_db
ADD = "/admin/portal/helpcentertheme/add/"


def png() -> bytes:
    """A real 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x1d\x4e\xd8")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def admin(cast) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(cast.admin)
    return client


def form(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "Acme help",
        "tagline": "Answers, fast",
        "primary_color": "#1D4ED8",
        "background_color": "#ffffff",
        "text_color": "#111827",
        "footer_text": "Acme Ltd, 1 Main St",
    }
    data.update(overrides)
    return data


def test_admin_sets_name_colours_and_a_png_logo_shown_on_every_public_page(cast) -> None:  # type: ignore[no-untyped-def]
    logo = SimpleUploadedFile("logo.png", png(), content_type="image/png")
    response = admin(cast).post(ADD, form(logo=logo))
    assert response.status_code == 302, response.content[:3000]
    theme = HelpCenterTheme.objects.get()
    assert theme.primary_color == "#1d4ed8"
    page = Client().get("/help/").content.decode()
    assert "Acme help" in page and "Answers, fast" in page and "Acme Ltd, 1 Main St" in page
    assert "--hc-primary: #1d4ed8" in page
    assert '<img src="/help/theme/logo?v=' in page and 'alt="Acme help"' in page
    served = Client().get("/help/theme/logo")
    assert served["Content-Type"] == "image/png" and served.content == png()
    assert served["X-Content-Type-Options"] == "nosniff"
    assert "Acme help" in Client().get("/contact/").content.decode()


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        (
            "logo.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "image/svg+xml",
        ),
        ("logo.png", b"<html><script>alert(1)</script></html>", "image/png"),
        ("logo.gif", b"GIF89a....", "image/gif"),
    ],
)
def test_logos_other_than_png_jpeg_webp_are_refused_by_their_content(  # type: ignore[no-untyped-def]
    cast, name: str, data: bytes, content_type: str
) -> None:
    logo = SimpleUploadedFile(name, data, content_type=content_type)
    response = admin(cast).post(ADD, form(logo=logo))
    assert response.status_code == 200
    assert "must be a PNG, JPEG or WebP image" in response.content.decode()
    assert not HelpCenterTheme.objects.exists()


def test_a_too_large_logo_is_refused(cast) -> None:  # type: ignore[no-untyped-def]
    big = png() + b"\x00" * rules.MAX_LOGO_BYTES
    response = admin(cast).post(ADD, form(logo=SimpleUploadedFile("logo.png", big)))
    assert response.status_code == 200
    assert "may be at most 512 KB" in response.content.decode()


@pytest.mark.parametrize("bad", ["red", "#12345", "#1234567", "#ggg000", "#fff;}body{x:y"])
def test_colours_must_be_hex(cast, bad: str) -> None:  # type: ignore[no-untyped-def]
    response = admin(cast).post(ADD, form(primary_color=bad))
    page = response.content.decode()
    assert response.status_code == 200
    # Too long is refused by the field's length; the rest by the colour check.
    assert "Enter a colour as #rrggbb" in page or "at most 7 characters" in page
    assert not HelpCenterTheme.objects.exists()


def test_a_colour_stored_badly_never_reaches_the_css(db: None) -> None:
    # Seven characters, as the column allows, that would close the rule and open another.
    HelpCenterTheme.objects.create(primary_color="0;}*{x:")
    page = Client().get("/help/").content.decode()
    assert "0;}*{x:" not in page and "--hc-primary: #1d4ed8" in page


def test_low_contrast_primary_colour_warns_and_gets_dark_text(cast) -> None:  # type: ignore[no-untyped-def]
    response = admin(cast).post(ADD, form(primary_color="#ffd700"), follow=True)
    assert "below 4.5:1" in response.content.decode()
    page = Client().get("/help/").content.decode()
    assert "--hc-on-primary: #111111" in page
    assert rules.contrast("#ffffff", "#000000") == pytest.approx(21.0)
    assert rules.on_primary("#1d4ed8") == "#ffffff"


def test_there_is_one_theme(cast) -> None:  # type: ignore[no-untyped-def]
    client = admin(cast)
    client.post(ADD, form())
    assert client.get(ADD).status_code == 403
    theme = HelpCenterTheme.objects.get()
    listing = client.get("/admin/portal/helpcentertheme/")
    assert listing.status_code == 302 and listing["Location"].endswith(f"/{theme.pk}/change/")


def test_no_logo_is_a_404(db: None) -> None:
    assert Client().get("/help/theme/logo").status_code == 404
    assert b"/help/theme/logo" not in Client().get("/help/").content


def test_webp_is_recognised(db: None) -> None:
    assert rules.logo_type(b"RIFF\x10\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert rules.logo_type(io.BytesIO(b"\xff\xd8\xff\xe0").read()) == "image/jpeg"
