"""Personal-data redaction of ticket text (all data below is fake)."""

from __future__ import annotations

import re

import pytest

from app.content.redact import find_personal_data, redact

# (kind, planted text) for every piece of personal data in THREAD below.
PLANTED = [
    ("name", "Maria"),
    ("name", "John Smith"),
    ("name", "Okafor"),
    ("name", "Priya"),
    ("name", "Tom Baker"),
    ("name", "Ana"),
    ("name", "Sofia García"),
    ("name", "Lukas"),
    ("name", "Dmitri"),
    ("email", "maria.lopez@example.com"),
    ("email", "j.smith+orders@mail.example.co.uk"),
    ("email", "PRIYA_K@Example.ORG"),
    ("phone", "+1 555-123-4567"),
    ("phone", "(555) 987-6543"),
    ("phone", "555.123.4567"),
    ("phone", "+44 20 7946 0958"),
    ("phone", "+49 30 1234567"),
    ("phone", "07700 900123"),
    ("phone", "+33 1 42 68 53 00"),
    ("card", "4111 1111 1111 1111"),
    ("card", "5500-0000-0000-0004"),
    ("card", "378282246310005"),
    ("card", "6011 0009 9013 9424"),
    ("address", "742 Evergreen Terrace, Springfield, IL 62704"),
    ("address", "221B Baker Street, London NW1 6XE"),
    ("address", "350 Fifth Avenue, Apt 4B, New York, NY 10118"),
    ("address", "88 Harbor Blvd"),
    ("address", "SW1A 1AA"),
    ("address", "TX 78701-4242"),
    ("order", "LUM-2026-004512"),
    ("order", "LUM-2025-118230"),
]

THREAD = """Hi Maria,
Thanks for contacting Lumora support about your Lumora Hub.
Hello John Smith, your replacement ships to 742 Evergreen Terrace, Springfield, IL 62704.
Dear Ms. Okafor, the refund for order LUM-2026-004512 goes back to card 4111 1111 1111 1111.
Please reply to maria.lopez@example.com or j.smith+orders@mail.example.co.uk,
or PRIYA_K@Example.ORG.
You can call +1 555-123-4567, (555) 987-6543 or 555.123.4567 between 9:00 and 17:00.
Our UK desk is on +44 20 7946 0958, Berlin on +49 30 1234567, mobile 07700 900123.
The Paris office: +33 1 42 68 53 00.
My other cards are 5500-0000-0000-0004 and 378282246310005, and 6011 0009 9013 9424 expired.
Old address: 221B Baker Street, London NW1 6XE.
New one: 350 Fifth Avenue, Apt 4B, New York, NY 10118.
The warehouse is at 88 Harbor Blvd near SW1A 1AA, billing ZIP TX 78701-4242.
my name is Sofia García and I'm Lukas from the install team; this is Dmitri speaking.
The previous order LUM-2025-118230 arrived on 2026-03-14.
Thanks, Priya
Regards,
Tom Baker
Cheers, Ana
"""

SUPPORT_TEXT = [
    "Thanks for contacting Lumora support about your Lumora Hub.",
    "your replacement ships to",
    "the refund for order",
    "Please reply to",
    "between 9:00 and 17:00.",
    "Our UK desk is on",
    "from the install team",
    "arrived on 2026-03-14.",
]


def test_no_planted_personal_data_survives_redaction() -> None:
    redacted = redact(THREAD)
    survivors = [text for _, text in PLANTED if text in redacted]
    assert survivors == []
    # Names are also checked word by word: "Tom" alone would still identify someone.
    words = {w for kind, text in PLANTED if kind == "name" for w in text.split()}
    assert [w for w in words if re.search(rf"\b{w}\b", redacted)] == []


def test_surrounding_support_text_survives_redaction() -> None:
    redacted = redact(THREAD)
    assert [text for text in SUPPORT_TEXT if text not in redacted] == []


@pytest.mark.parametrize(("kind", "text"), PLANTED, ids=[t for _, t in PLANTED])
def test_each_planted_item_is_found_with_its_kind(kind: str, text: str) -> None:
    findings = find_personal_data(THREAD)
    assert any(k == kind and text in found for k, found in findings), findings


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Flat 3, 42 Kingsley Road\nLeeds\nLS6 2AB", "[ADDRESS]"),
        ("12 Maple St #14, Portland, OR 97201", "[ADDRESS]"),
        ("12 Cedar Crescent, Toronto, ON M4C 1B5", "[ADDRESS]"),
        ("Lindenstraße 12a, 10437 Berlin", "[ADDRESS]"),
        ("12 rue de la République, 75011 Paris", "[ADDRESS]"),
        ("Prinsengracht 263, 1016 HX Amsterdam", "[ADDRESS]"),
        ("12 Seaview Terrace, Clontarf, Dublin D03 X2V7", "[ADDRESS]"),
        ("12 Wattle Street, Fitzroy VIC 3065", "[ADDRESS]"),
        ("0151 12345678", "[PHONE]"),
        ("+49 (0)89 1234 5678", "[PHONE]"),
        ("06 12 34 56 78", "[PHONE]"),
        ("06-12345678", "[PHONE]"),
        ("+353 87 123 4567", "[PHONE]"),
        ("+61 412 345 678", "[PHONE]"),
        ("1-415-555-0123", "[PHONE]"),
        ("LM-20461375", "[ORDER]"),
        ("LUM-2026-0048213", "[ORDER]"),
        ("RMA-5347195", "[ORDER]"),
        ("WC-863827", "[ORDER]"),
    ],
)
def test_regional_formats_are_redacted_whole(text: str, expected: str) -> None:
    assert redact(f"Details: {text}. Thanks!") == f"Details: {expected}. Thanks!"


def test_placeholders_name_the_kind_of_data_removed() -> None:
    redacted = redact(THREAD)
    for placeholder in ("[NAME]", "[EMAIL]", "[PHONE]", "[CARD]", "[ADDRESS]", "[ORDER]"):
        assert placeholder in redacted


def test_greeting_and_sign_off_words_are_kept_around_names() -> None:
    assert redact("Hi Maria,\nsee below.") == "Hi [NAME],\nsee below."
    assert redact("Dear Ms. Okafor,") == "Dear Ms. [NAME],"
    assert redact("Regards,\nTom Baker") == "Regards,\n[NAME]"
    assert redact("Cheers, Ana") == "Cheers, [NAME]"


def test_sign_off_after_a_thank_you_line_and_surname_particles() -> None:
    assert redact("Thanks for the help.\nBest,\nDaan de Vries") == (
        "Thanks for the help.\nBest,\n[NAME]"
    )


def test_a_detected_name_is_redacted_where_it_is_repeated() -> None:
    redacted = redact("Hi Maria,\nI checked with Maria's installer.")
    assert "Maria" not in redacted


def test_ordinary_words_in_a_known_name_are_only_redacted_as_part_of_it() -> None:
    redacted = redact("Will Hope wrote: I will check, and hope for a fix.", names=["Will Hope"])
    assert redacted == "[NAME] wrote: I will check, and hope for a fix."


def test_names_from_ticket_fields_are_redacted_in_any_case() -> None:
    text = "Account owner maria lopez asked; Lopez confirmed by phone."
    redacted = redact(text, names=["Maria Lopez"])
    assert "maria" not in redacted.lower() and "lopez" not in redacted.lower()
    assert redacted.startswith("Account owner [NAME] asked")


def test_name_field_written_in_the_text_is_redacted() -> None:
    assert redact("Name: Grace Hopper\nIssue: hub offline") == "Name: [NAME]\nIssue: hub offline"


def test_grouped_card_becomes_one_card_placeholder_not_phones() -> None:
    assert redact("card 4111 1111 1111 1111 please") == "card [CARD] please"
    assert redact("card 4111-1111-1111-1111.") == "card [CARD]."


def test_order_numbers_become_order_placeholders_not_cards_or_phones() -> None:
    assert redact("Order LUM-2026-004512 is late") == "Order [ORDER] is late"


@pytest.mark.parametrize(
    "text",
    [
        "Hi there, thanks for writing in.",
        "Thanks so much for your patience!",
        "Hello team, quick question about the Lumora Hub.",
        "Hi Lumora Support, my Lumora Hub is offline.",
        "This is Lumora Hub firmware 4.12.3, released 2026-03-14.",
        "The warranty lasts 2 years from 2026-03-14T10:22:00Z.",
        "The Hub Pro costs $1,299.00, or €49.99 per year, or £39.",
        "Call between 08:30 and 17:45, Monday to Friday.",
        "Reset takes 10 seconds; wait 30 minutes; 3 units shipped on 14/03/2026.",
        "Firmware 10.2.1234 fixes pairing with 12 sensors.",
        "Ticket 48213 was merged into 48214.",
        "Thanks! My hub works again.",
        "Dear Customer, your subscription renews on 2026-04-01.",
        "Use Wi-Fi on 2.4 GHz; channel 11 works best.",
    ],
)
def test_ordinary_support_text_is_left_unchanged(text: str) -> None:
    assert redact(text) == text
    assert find_personal_data(text) == []


def test_dates_next_to_each_other_are_not_mistaken_for_a_card() -> None:
    text = "Outage from 2026-03-14 2026-03-15 until 2026-03-16."
    assert redact(text) == text


def test_redaction_is_idempotent() -> None:
    once = redact(THREAD)
    assert redact(once) == once


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cvv 123", "cvv [CVV]"),
        ("CVC: 9876", "CVC: [CVV]"),
        ("CVV2 is 055", "CVV2 is [CVV]"),
        ("my security code is 4321", "my security code is [CVV]"),
        ("card 4111 1111 1111 1111 cvv 123", "card [CARD] cvv [CVV]"),
    ],
)
def test_card_security_codes_after_a_keyword_are_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_three_digits_without_a_card_keyword_are_kept() -> None:
    text = "Error 123 after 30 days; the code on the box is 4321."
    assert redact(text) == text
