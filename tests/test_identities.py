"""customers.identities: one normalized address per kind, so one person is one record."""

import phonenumbers
import pytest
from django.db import IntegrityError, transaction
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from heedful.customers.identities import (
    IdentityKind,
    InvalidAddress,
    normalize,
    normalize_chat,
    normalize_email,
    normalize_phone,
    normalize_social,
)
from heedful.customers.models import BlockedSender, Identity
from tests.factories import CustomerFactory, IdentityFactory

# --- email ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ann@example.com", "ann@example.com"),
        ("Ann@Example.COM", "ann@example.com"),
        ("  ann@example.com\t\n", "ann@example.com"),
        ("<Ann@Example.com>", "ann@example.com"),
        ("first.last+tag@sub.example.co.uk", "first.last+tag@sub.example.co.uk"),
    ],
)
def test_normalize_email(raw, expected):
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "ann",
        "ann@",
        "@example.com",
        "ann@example",
        "ann@@example.com",
        "an n@example.com",
        "a@b@c.d",
    ],
)
def test_normalize_email_refuses_what_is_not_an_address(raw):
    with pytest.raises(InvalidAddress):
        normalize_email(raw)


@given(st.emails())
def test_normalizing_an_email_twice_changes_nothing(address):
    once = normalize_email(address)
    assert normalize_email(once) == once


@given(st.emails(), st.sampled_from(["", " ", "\t", "  \n"]))
def test_case_and_surrounding_space_never_make_a_second_email(address, space):
    assert normalize_email(f"{space}{address.upper()}{space}") == normalize_email(address)


# --- phone -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "(415) 555-0100",
        "415.555.0100",
        "4155550100",
        "+1 415 555 0100",
        "+14155550100",
        "1-415-555-0100",
    ],
)
def test_normalize_phone_reads_national_formats_in_the_default_region(raw):
    assert normalize_phone(raw) == "+14155550100"


@pytest.mark.parametrize(
    "raw", ["+44 20 7946 0958", "+44 (0)20 7946 0958", "011 44 20 7946 0958", "+442079460958"]
)
def test_normalize_phone_reads_international_formats(raw):
    assert normalize_phone(raw) == "+442079460958"


def test_the_default_region_comes_from_settings(settings):
    settings.HEEDFUL_PHONE_REGION = "GB"
    assert normalize_phone("020 7946 0958") == "+442079460958"
    assert normalize_phone("+1 415 555 0100") == "+14155550100"
    settings.HEEDFUL_PHONE_REGION = "US"
    with pytest.raises(InvalidAddress):
        normalize_phone("020 7946 0958")  # not a possible number in the US


def test_an_explicit_region_wins_over_the_default():
    assert normalize_phone("030 1234567", region="DE") == "+49301234567"


@pytest.mark.parametrize(
    "raw", ["", "hello", "12", "+1 415 555 0100 1234 5678 99", "++--", "+999 1234"]
)
def test_normalize_phone_refuses_what_is_not_a_number(raw):
    with pytest.raises(InvalidAddress):
        normalize_phone(raw)


_REGIONS = sorted(r for r in phonenumbers.SUPPORTED_REGIONS if phonenumbers.example_number(r))
_FORMATS = [
    phonenumbers.PhoneNumberFormat.NATIONAL,
    phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    phonenumbers.PhoneNumberFormat.E164,
]


@hypothesis_settings(max_examples=150)
@given(st.sampled_from(_REGIONS), st.sampled_from(_FORMATS))
def test_any_written_form_of_a_number_gives_its_e164_and_is_stable(region, number_format):
    number = phonenumbers.example_number(region)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    written = phonenumbers.format_number(number, number_format)

    normalized = normalize_phone(written, region=region)

    assert normalized == e164
    assert normalize_phone(normalized) == normalized  # E.164 reads the same in any region


# --- social and chat -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("twitter:@Ann_Lee", "twitter:ann_lee"),
        (" Instagram:ann.lee ", "instagram:ann.lee"),
        ("mastodon:@ann", "mastodon:ann"),
    ],
)
def test_normalize_social(raw, expected):
    assert normalize_social(raw) == expected


@pytest.mark.parametrize("raw", ["ann", "twitter:", ":ann", "twitter:ann lee", ""])
def test_normalize_social_refuses_what_is_not_network_and_handle(raw):
    with pytest.raises(InvalidAddress):
        normalize_social(raw)


@given(st.from_regex(r"\A[a-zA-Z0-9_.-]{1,10}:@?[a-zA-Z0-9_.-]{1,20}\Z"))
def test_normalizing_a_social_handle_twice_changes_nothing(handle):
    once = normalize_social(handle)
    assert normalize_social(once) == once


def test_normalize_chat_keeps_the_visitor_ids_case():
    assert normalize_chat("  Visitor-AbC123 ") == "Visitor-AbC123"


@pytest.mark.parametrize("raw", ["", "   ", "x" * 256])
def test_normalize_chat_refuses_empty_or_oversized_ids(raw):
    with pytest.raises(InvalidAddress):
        normalize_chat(raw)


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        (IdentityKind.EMAIL, "Ann@Example.com", "ann@example.com"),
        (IdentityKind.PHONE, "(415) 555-0100", "+14155550100"),
        (IdentityKind.WHATSAPP, "+44 20 7946 0958", "+442079460958"),
        (IdentityKind.SOCIAL, "Twitter:@Ann", "twitter:ann"),
        (IdentityKind.CHAT, " v-1 ", "v-1"),
    ],
)
def test_normalize_dispatches_on_the_kind(kind, raw, expected):
    assert normalize(kind, raw) == expected


def test_normalize_refuses_an_unknown_kind():
    with pytest.raises(InvalidAddress):
        normalize("fax", "+14155550100")


def test_invalid_address_is_a_value_error():
    # Callers (forms, the CC parser) catch ValueError.
    assert issubclass(InvalidAddress, ValueError)


# --- the records ----------------------------------------------------------------------


@pytest.mark.django_db
def test_an_address_is_unique_per_kind():
    IdentityFactory(kind="email", address="ann@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        IdentityFactory(kind="email", address="ann@example.com")


@pytest.mark.django_db
def test_the_same_text_may_be_an_identity_of_two_kinds():
    customer = CustomerFactory()
    IdentityFactory(customer=customer, kind="chat", address="ann")
    IdentityFactory(kind="social", address="ann")
    assert Identity.objects.filter(address="ann").count() == 2


@pytest.mark.django_db
def test_an_identity_kind_must_be_known():
    with pytest.raises(IntegrityError), transaction.atomic():
        IdentityFactory(kind="fax", address="+14155550100")


@pytest.mark.django_db
def test_blocked_sender_matches_an_address_or_its_domain():
    BlockedSender.objects.create(kind="email", address="spammer@bad.test")
    BlockedSender.objects.create(kind="email", address="@worse.test")
    BlockedSender.objects.create(kind="phone", address="+14155550100")

    assert BlockedSender.is_blocked("email", "spammer@bad.test")
    assert not BlockedSender.is_blocked("email", "friend@bad.test")
    assert BlockedSender.is_blocked("email", "anyone@worse.test")
    assert not BlockedSender.is_blocked("email", "anyone@sub.worse.test.example")
    assert BlockedSender.is_blocked("phone", "+14155550100")
    assert not BlockedSender.is_blocked("whatsapp", "+14155550100")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("typed", "sender"),
    [
        ("Spammer@Bad.TEST", "spammer@bad.test"),
        ("@Bad.TEST", "anyone@bad.test"),
        ("(415) 555-0100", None),
    ],
)
def test_a_block_typed_in_the_admin_is_stored_normalized(cast, client, typed, sender):
    client.force_login(cast.admin)
    kind = "email" if sender else "phone"
    response = client.post(
        "/admin/customers/blockedsender/add/", {"kind": kind, "address": typed, "reason": "abuse"}
    )
    assert response.status_code == 302, response.content[:2000]
    assert BlockedSender.is_blocked(kind, normalize(kind, sender or typed))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "typed"), [("email", "not an address"), ("email", "@"), ("phone", "@bad.test")]
)
def test_a_block_the_admin_cannot_read_is_a_form_error(cast, client, kind, typed):
    client.force_login(cast.admin)
    response = client.post("/admin/customers/blockedsender/add/", {"kind": kind, "address": typed})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["address"]
    assert not BlockedSender.objects.exists()
