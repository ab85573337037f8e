"""The extractive generator on handwritten passages."""

from __future__ import annotations

import re

from app.rag.citations import REFUSAL, CitationVerifier, parse_markers, split_sentences
from app.rag.extractive import ExtractiveGenerator
from app.rag.types import Chunk, Passage


def passage(n: int, title: str, text: str, heading: tuple[str, ...] = ()) -> Passage:
    chunk = Chunk(chunk_id=f"a{n}:0", article_id=f"a{n}", ordinal=0, title=title,
                  heading_path=heading, text=text, url="", char_start=0, char_end=len(text),
                  n_tokens=len(text.split()))
    return Passage(n=n, chunk=chunk, score=1.0)


RESET = passage(1, "Reset your Lumora password", """\
You can reset your password from the app or the website. Resetting signs you out everywhere.

## Reset in the app
To reset your password in the app:
1. Open the Lumora app and tap **Forgot password?** on the sign-in screen.
2. Enter the email address of your **Account**.
3. Open the email from no-reply@lumora.example and tap *Reset password*.
4. Choose a new password with at least 10 characters.

> **Note:** The reset link is valid for 1 hour.

## Reset on the website
Go to account.lumora.example and select **Forgot password?** under the sign-in button.""")

BILLING = passage(2, "Lumora Cloud prices", """\
Lumora Cloud Pro costs $4.99 per month or $49.99 per year.
You can cancel at any time in Settings > Subscription.""")

RESET_EMAIL = passage(1, "Password reset email", """\
The reset email comes from no-reply@lumora.example. It can take up to 10 minutes to arrive.""")

DELIVERY = passage(2, "Email delivery problems", """\
Check your spam or junk folder for the reset email. Add no-reply@lumora.example to your \
contacts. Our office is closed on public holidays.""")

STATUSES = passage(1, "Order statuses", """\
Every order moves through these statuses.

| Status | What it means |
|---|---|
| Processing | We are confirming your payment. |
| Preparing to ship | The warehouse is packing your items. |
| Delivered | The carrier confirmed delivery. |""")


def answer_sentences(text: str) -> list[tuple[str, tuple[int, ...]]]:
    return [parse_markers(s) for s in split_sentences(text)]


def plain(text: str) -> str:
    """The passage text a reader sees: no emphasis marks, no quote marks, one-space runs."""
    text = re.sub(r"[*`]|^> ?", "", text, flags=re.MULTILINE)
    return " ".join(text.split())


def test_answer_is_the_whole_numbered_procedure_in_order() -> None:
    text = ExtractiveGenerator().generate("How do I reset my password in the app?",
                                          [RESET, BILLING]).text
    lines = text.splitlines()
    # "How do I" leads with the steps; the lead-in line ending in a colon is left out.
    assert lines[:4] == [
        "1. Open the Lumora app and tap Forgot password? on the sign-in screen. [1]",
        "2. Enter the email address of your Account. [1]",
        "3. Open the email from no-reply@lumora.example and tap Reset password. [1]",
        "4. Choose a new password with at least 10 characters. [1]",
    ]
    assert "To reset your password in the app:" not in text


def test_irrelevant_second_passage_is_not_cited() -> None:
    answer = ExtractiveGenerator().generate("How do I reset my password in the app?",
                                            [RESET, BILLING])
    assert {n for _, marks in answer_sentences(answer.text) for n in marks} == {1}
    assert "$4.99" not in answer.text
    assert answer.model == "extractive" and not answer.declined


def test_markdown_emphasis_is_stripped() -> None:
    text = ExtractiveGenerator().generate("How do I reset my password in the app?", [RESET]).text
    assert "Account" in text and "Reset password" in text
    assert "*" not in text and ">" not in text


def test_section_whose_heading_matches_the_question_is_used() -> None:
    # "Go to ..." shares no word with the question; its heading "Reset on the website" does.
    text = ExtractiveGenerator().generate("Can I reset it on the website?", [RESET]).text
    assert ("Go to account.lumora.example and select Forgot password? under the sign-in "
            "button. [1]") in text


def test_relevant_second_passage_is_cited_after_the_first() -> None:
    text = ExtractiveGenerator().generate("Where is my password reset email?",
                                          [RESET_EMAIL, DELIVERY]).text
    assert answer_sentences(text) == [
        ("The reset email comes from no-reply@lumora.example.", (1,)),
        ("Check your spam or junk folder for the reset email.", (2,)),
    ]


def test_answer_never_contains_text_absent_from_its_passage() -> None:
    generator = ExtractiveGenerator()
    cases = [("How do I reset my password in the app?", [RESET, BILLING]),
             ("How much does Pro cost per year?", [BILLING, RESET]),
             ("Where is my password reset email?", [RESET_EMAIL, DELIVERY]),
             ("Can I reset it on the website?", [RESET])]
    for question, passages in cases:
        by_n = {p.n: plain(p.chunk.text) for p in passages}
        sentences = answer_sentences(generator.generate(question, passages).text)
        assert sentences
        for sentence, marks in sentences:
            assert len(marks) == 1
            assert " ".join(sentence.split()) in by_n[marks[0]], (question, sentence)


def test_table_row_only_when_the_question_matches_it() -> None:
    generator = ExtractiveGenerator()
    text = generator.generate("What does Preparing to ship mean?", [STATUSES]).text
    assert "Status: Preparing to ship; What it means: The warehouse is packing your items." in text
    assert "Processing" not in text and "Delivered" not in text and "|" not in text
    other = generator.generate("How do I reset my password in the app?", [RESET, STATUSES]).text
    assert "Status:" not in other and "|" not in other


def test_long_answers_are_capped() -> None:
    body = " ".join(f"Battery tip {i}: charge the battery fully before trip number {i}."
                    for i in range(1, 13))
    text = ExtractiveGenerator().generate("How do I charge the battery?",
                                          [passage(1, "Battery care", body)]).text
    assert len(split_sentences(text)) == ExtractiveGenerator().max_sentences
    assert len(text.split()) <= 120 + 6  # the words, plus one marker per sentence


def test_long_list_is_cut_at_eight_steps() -> None:
    steps = "\n".join(f"{i}. Pair sensor number {i} with the hub." for i in range(1, 12))
    text = ExtractiveGenerator().generate("How do I pair the sensors?",
                                          [passage(1, "Pair sensors", f"To pair:\n{steps}")]).text
    numbers = [int(m) for m in re.findall(r"^(\d+)\. ", text, flags=re.MULTILINE)]
    assert numbers == list(range(1, 9))


def test_stream_yields_cited_sentences_that_join_to_the_answer() -> None:
    generator = ExtractiveGenerator()
    question, passages = "Where is my password reset email?", [RESET_EMAIL, DELIVERY]
    pieces = list(generator.stream(question, passages, style="Customer plan: Pro"))
    assert len(pieces) == 2
    assert all(re.search(r"\[\d\]$", piece) for piece in pieces)
    assert "".join(pieces) == generator.generate(question, passages).text


def test_output_passes_citation_verification() -> None:
    answer = ExtractiveGenerator().generate("How do I reset my password in the app?", [RESET])
    verified = CitationVerifier().verify(answer.text, [RESET])
    assert verified.dropped == () and verified.unknown_markers == ()
    assert len(verified.sentences) == len(split_sentences(answer.text))


def test_no_passages_is_a_refusal() -> None:
    generator = ExtractiveGenerator()
    answer = generator.generate("How do I reset my password?", [])
    assert answer.declined and answer.text == REFUSAL
    assert list(generator.stream("How do I reset my password?", [])) == [REFUSAL]


def test_the_best_match_leads_and_the_rest_keeps_reading_order() -> None:
    window = passage(1, "Return policy", """\
Lumora asks you to factory reset a device before you return it. Keep the original box if \
you can. You have 45 days from delivery to return a device. Refunds reach your card in 5 to 7 \
business days.""")
    sentences = ExtractiveGenerator().compose("how many days do I have to return a device?",
                                              [window])
    assert sentences[0].text == "You have 45 days from delivery to return a device."
    rest = [s.text for s in sentences[1:]]
    assert rest == sorted(rest, key=window.chunk.text.index)


TOKENS = passage(1, "Create an API token", """\
API tokens let your own scripts use the Lumora API.

## Create a token
1. Open the Lumora app and tap Account > Developer > Tokens.
2. Tap Create token and choose its scopes.

## Limits
You can have up to 25 active tokens per account. Each token expires after 1 year.""")


def test_a_follow_up_leads_with_what_the_message_asks_not_the_borrowed_topic() -> None:
    # The rewritten follow-up repeats the previous question's words ("create api token");
    # "how many can I have" asks for the count.
    gen = ExtractiveGenerator()
    query = "many create api token many"
    assert not gen.compose(query, [TOKENS])[0].text.startswith("You can have up to 25")
    lead = gen.compose(query, [TOKENS], message="how many can I have?")[0]
    assert lead.text.startswith("You can have up to 25 active tokens")


def test_a_how_to_question_leads_with_the_steps() -> None:
    text = ExtractiveGenerator().generate("how do I create a token", [TOKENS]).text
    assert text.startswith("1. Open the Lumora app")
    assert "2. Tap Create token" in text


NOTE_FIRST = passage(1, "Change your email", """\
## Change your email
Note: An email address can belong to only one Lumora account.

1. In the Lumora app, go to Account > Profile.
2. Tap Change email and enter the new address.""")


def test_an_aside_does_not_lead_a_how_to_answer() -> None:
    lead = ExtractiveGenerator().compose("how do i change the email address", [NOTE_FIRST])[0]
    assert lead.text.startswith("1. In the Lumora app")


SHIPPING = passage(1, "Shipping options and costs", """\
This article explains every shipping option, what each one costs, and how long delivery takes.

## EU
Standard shipping to the EU costs €5.99 and is free on orders over €50.""")


def test_a_sentence_about_the_article_is_never_part_of_the_answer() -> None:
    text = ExtractiveGenerator().generate("how much is shipping to the EU", [SHIPPING]).text
    assert text.startswith("Standard shipping to the EU costs €5.99")
    assert "This article" not in text


DECLINED = passage(1, "Why a payment is declined", """\
A payment can be declined for several reasons:
- The card is prepaid and doesn't allow recurring payments. Use another card.
- The card has expired or was replaced by your bank, so the number changed.
- Your bank blocked the charge as unusual. Call them and ask them to allow it.
- The billing postcode doesn't match the one your bank has on file for you.""")

COUNTRIES = passage(1, "Countries we ship to", """\
We ship to these countries:
- United States
- Canada
- Germany""")


def test_a_list_of_long_items_gives_only_the_items_that_match() -> None:
    """Each item is its own cause: the matching one leads, unrelated causes stay out."""
    text = ExtractiveGenerator().generate("why is my prepaid visa declined",
                                          [DECLINED]).text
    assert text.startswith("- The card is prepaid")
    assert "expired" not in text and "postcode" not in text


def test_a_list_the_question_asks_for_or_of_short_items_is_read_whole() -> None:
    generator = ExtractiveGenerator()
    whole = generator.generate("which reasons can make a payment get declined?", [DECLINED]).text
    assert all(word in whole for word in ("prepaid", "expired", "blocked", "postcode"))
    short = generator.generate("do you ship to canada", [COUNTRIES]).text
    assert short.startswith("- Canada") and "United States" in short and "Germany" in short


def test_asks_for_list_reads_plural_things_not_verbs() -> None:
    from app.rag.extractive import asks_for_list

    assert asks_for_list("what payment methods do you accept")
    assert asks_for_list("which countries do you ship to")
    assert not asks_for_list("what happens if I cancel")
    assert not asks_for_list("what does this light mean")
    assert not asks_for_list("what is the warranty")
