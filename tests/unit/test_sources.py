"""Loading knowledge-base files into SourceDocuments, and reporting the files that cannot load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.sources import (
    LoadError,
    LoadFailure,
    html_to_markdown,
    load_path,
    parse_html,
    parse_json_article,
    parse_markdown,
    parse_ticket,
)

GOOD_MD = """---
id: hub-001
title: Reset your Lumora Hub
url: https://help.lumora.example/articles/hub-001
product: lumora-hub
locale: en-us
status: published
updated_at: 2026-04-14
tags: [hub, reset]
---

Hold the reset button for **10 seconds**.

## If the light stays red

Unplug the hub and try again.
"""

HELP_CENTER_PAGE = """<!doctype html>
<html lang="en">
<head>
<title>Shipping times | Lumora Help Center</title>
<meta name="kb:id" content="ship-201">
<meta name="kb:url" content="https://help.lumora.example/articles/ship-201">
<meta name="kb:product" content="general">
<meta name="kb:locale" content="en-GB">
<meta name="kb:status" content="published">
<meta name="kb:updated_at" content="2026-11-02T09:30:00Z">
<meta name="kb:tags" content="shipping, delivery ,uk">
<style>.banner { color: red }</style>
<script>window.track("<p>tracking script</p>");</script>
</head>
<body>
<header><a href="/">Lumora Help Center</a><nav>Home &gt; Orders &gt; Shipping</nav></header>
<main>
<article>
<h1>Shipping times</h1>
<p>Orders placed before <strong>2&nbsp;pm</strong> ship the same day &amp; arrive fast.<br>
Weekends excluded.</p>
<h2>Delivery options</h2>
<table>
<thead><tr><th>Option</th><th>Time</th><th>Price</th></tr></thead>
<tbody>
<tr><td>Standard</td><td>3-5 business days</td><td>Free</td></tr>
<tr><td>Express</td><td>1-2 business days</td><td>$14.99</td></tr>
</tbody>
</table>
<h3>Track a parcel</h3>
<ol><li>Open <a href="https://shop.lumora.example/orders">Orders</a>.</li>
<li>Select the order, then <b>Track</b>.</li></ol>
<ul><li>DHL in the UK</li><li>UPS in the US</li></ul>
<p>Or run <code>lumora orders --track</code>:</p>
<pre><code class="language-bash">$ lumora orders --track
  status:   shipped
</code></pre>
<blockquote><p><strong>Note:</strong> customs may add a day.</p></blockquote>
</article>
<aside>Related articles: Returns</aside>
</main>
<footer>&copy; Lumora &middot; Privacy &middot; Terms</footer>
</body>
</html>
"""

ZENDESK_ARTICLE = {
    "id": 360010001,
    "title": "Get a VAT invoice",
    "body": "<p>Open <strong>Orders</strong> and select the order.</p><h2>Fix details</h2>"
    "<ul><li>Company name</li><li>VAT number</li></ul>",
    "html_url": "https://help.lumora.example/hc/en-us/articles/360010001",
    "locale": "en-us",
    "draft": False,
    "outdated": False,
    "updated_at": "2026-08-19T14:03:11Z",
    "label_names": ["product:lumora-hub", "invoice", "vat"],
}

TICKET = {
    "id": 98231,
    "created_at": "2026-05-02T08:14:00Z",
    "channel": "email",
    "subject": "Hub offline - Priya Raman",
    "customer_name": "Priya Raman",
    "customer_message": "Hi team,\nMy hub (order LUM-2026-004512) is offline. "
    "Call me on +44 20 7946 0958 or email priya.raman@example.com.\nThanks, Priya",
    "agent_resolution": "Hi Priya,\nwe re-paired the hub after a factory reset. "
    "The replacement goes to 12 Mill Lane, Leeds LS1 4AB.\nRegards,\nTom Baker",
    "linked_article_ids": ["hub-001", 360010001],
    "tags": ["hub", "offline"],
    "resolved": True,
}


def write(root: Path, name: str, content: str | bytes) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def markdown(doc_id: str, title: str = "A title", body: str = "Some text.") -> str:
    return f"---\nid: {doc_id}\ntitle: {title}\n---\n{body}\n"


# --- Markdown ---------------------------------------------------------------------------------


def test_markdown_front_matter_fills_every_field(tmp_path: Path) -> None:
    path = write(tmp_path, "hub-001.md", GOOD_MD)
    result = load_path(path)
    assert result.failures == ()
    (doc,) = result.documents
    assert (doc.id, doc.title, doc.product, doc.status) == (
        "hub-001",
        "Reset your Lumora Hub",
        "lumora-hub",
        "published",
    )
    assert doc.url == "https://help.lumora.example/articles/hub-001"
    assert doc.locale == "en-US"
    assert doc.updated_at == "2026-04-14"
    assert doc.tags == ("hub", "reset")
    assert doc.source_type == "article"
    assert doc.source_path == str(path)
    assert doc.body.startswith("Hold the reset button for **10 seconds**.")
    assert doc.body.endswith("Unplug the hub and try again.")
    assert "---" not in doc.body and "id: hub-001" not in doc.body


def test_markdown_defaults_and_comma_separated_tags() -> None:
    text = "---\nid: 42\ntitle: Pair a sensor\ntags: zigbee, pairing ,sensor\n---\nPress pair.\n"
    doc = parse_markdown(text)
    assert doc.id == "42"
    assert (doc.product, doc.locale, doc.status, doc.url) == ("general", "en-US", "published", "")
    assert doc.tags == ("zigbee", "pairing", "sensor")
    assert doc.updated_at == ""


def test_markdown_timestamp_is_normalised_to_an_iso_date() -> None:
    text = "---\nid: a\ntitle: T\nupdated_at: '2026-04-14T22:10:00+02:00'\n---\nBody\n"
    assert parse_markdown(text).updated_at == "2026-04-14"


def test_markdown_with_bom_and_windows_newlines_is_cleaned() -> None:
    text = "\ufeff---\r\nid: a\r\ntitle: T\r\n---\r\nLine one   \r\n\r\n\r\n\r\nLine two\r\n"
    assert parse_markdown(text).body == "Line one\n\nLine two"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("---\nid: a\n---\nBody\n", "no title"),
        ("---\ntitle: T\n---\nBody\n", "no id"),
        ("---\nid: a\ntitle: T\nstatus: live\n---\nBody\n", "unknown status 'live'"),
        ("---\nid: a\ntitle: T\n---\n\n   \n", "empty body"),
        ("# Just a heading\n\nNo metadata.\n", "no front matter"),
        ("---\nid: a\ntitle: T\nBody without a closing line\n", "not closed"),
        ("---\nid: a\ntitle: T\nupdated_at: last week\n---\nBody\n", "not an ISO date"),
    ],
)
def test_markdown_problems_raise_load_error_saying_what_is_wrong(text: str, expected: str) -> None:
    with pytest.raises(LoadError, match=expected):
        parse_markdown(text)


def test_broken_front_matter_reports_the_yaml_error_line() -> None:
    text = "---\nid: a\ntitle: T\ntags: [one, two\nproduct: hub\n---\nBody\n"
    with pytest.raises(LoadError, match=r"broken YAML front matter at line \d+") as info:
        parse_markdown(text)
    # The unclosed list starts on file line 4; PyYAML notices it on line 5.
    assert "line 5" in str(info.value)


# --- HTML -------------------------------------------------------------------------------------


def test_help_center_page_keeps_article_and_drops_chrome() -> None:
    doc = parse_html(HELP_CENTER_PAGE, source_path="ship-201.html")
    assert (doc.id, doc.title, doc.locale) == ("ship-201", "Shipping times", "en-GB")
    assert doc.updated_at == "2026-11-02"
    assert doc.tags == ("shipping", "delivery", "uk")
    for chrome in (
        "Lumora Help Center",
        "Home > Orders",
        "Related articles",
        "Privacy",
        "tracking script",
        "color: red",
    ):
        assert chrome not in doc.body
    assert not doc.body.startswith("# Shipping times")  # the title h1 is not repeated
    assert doc.body.startswith(
        "Orders placed before **2 pm** ship the same day & arrive fast.\nWeekends excluded."
    )


def test_page_without_article_or_main_drops_chrome_inside_body() -> None:
    page = (
        '<html><head><meta name="kb:id" content="b-1"><title>Pair a sensor</title></head><body>'
        "<header>Lumora Help Center</header><nav><a href='/'>Home</a></nav>"
        "<h1>Pair a sensor</h1><p>Hold the pair button.</p>"
        "<aside>Related: Reset a hub</aside><script>track()</script>"
        "<footer>&copy; Lumora</footer></body></html>"
    )
    assert parse_html(page).body == "Hold the pair button."


def test_help_center_table_becomes_a_markdown_pipe_table() -> None:
    body = parse_html(HELP_CENTER_PAGE).body
    assert (
        "| Option | Time | Price |\n"
        "| --- | --- | --- |\n"
        "| Standard | 3-5 business days | Free |\n"
        "| Express | 1-2 business days | $14.99 |"
    ) in body


def test_help_center_structure_is_converted_to_markdown() -> None:
    body = parse_html(HELP_CENTER_PAGE).body
    assert "## Delivery options" in body
    assert "### Track a parcel" in body
    assert (
        "1. Open [Orders](https://shop.lumora.example/orders).\n"
        "2. Select the order, then **Track**."
    ) in body
    assert "- DHL in the UK\n- UPS in the US" in body
    assert "Or run `lumora orders --track`:" in body
    assert "```bash\n$ lumora orders --track\n  status:   shipped\n```" in body
    assert "> **Note:** customs may add a day." in body


def test_html_title_falls_back_to_title_tag_then_first_h1() -> None:
    page = (
        '<html><head><meta name="kb:id" content="x"><title>From title</title></head>'
        "<body><p>Body text</p></body></html>"
    )
    assert parse_html(page).title == "From title"
    page = '<meta name="kb:id" content="x"><body><h1>From heading</h1><p>Body text</p></body>'
    doc = parse_html(page)
    assert doc.title == "From heading"
    assert doc.body == "Body text"


def test_html_without_id_or_title_is_rejected() -> None:
    with pytest.raises(LoadError, match="no id"):
        parse_html("<html><body><h1>T</h1><p>Body</p></body></html>")
    with pytest.raises(LoadError, match="no title"):
        parse_html('<meta name="kb:id" content="x"><p>Body only</p>')


def test_html_to_markdown_numbers_ordered_lists_and_nests_lists() -> None:
    html = "<ol><li>One<ul><li>a</li><li>b</li></ul></li><li>Two</li></ol>"
    assert html_to_markdown(html) == "1. One\n   - a\n   - b\n2. Two"


def test_html_to_markdown_keeps_pre_verbatim_and_collapses_other_whitespace() -> None:
    html = "<p>Some    spaced\n   text</p><pre>line 1\n    indented &lt;tag&gt;\n\n\nend</pre>"
    assert html_to_markdown(html) == (
        "Some spaced text\n\n```\nline 1\n    indented <tag>\n\n\nend\n```"
    )


def test_html_to_markdown_headings_breaks_and_entities() -> None:
    html = "<h2>Caf&eacute; &amp; more</h2><h4>Deep</h4><p>a<br>b &lt; c</p>"
    assert html_to_markdown(html) == "## Café & more\n\n#### Deep\n\na\nb < c"


# --- JSON and JSONL ---------------------------------------------------------------------------


def test_zendesk_article_fields_are_mapped() -> None:
    doc = parse_json_article(ZENDESK_ARTICLE, source_path="export.json")
    assert doc.id == "360010001"
    assert doc.url == "https://help.lumora.example/hc/en-us/articles/360010001"
    assert (doc.locale, doc.product, doc.status) == ("en-US", "lumora-hub", "published")
    assert doc.updated_at == "2026-08-19"
    assert doc.tags == ("invoice", "vat")
    assert (
        doc.body == "Open **Orders** and select the order.\n\n## Fix details\n\n"
        "- Company name\n- VAT number"
    )


@pytest.mark.parametrize(
    ("flags", "status"),
    [
        ({"draft": True}, "draft"),
        ({"outdated": True}, "archived"),
        ({"archived": True}, "archived"),
    ],
)
def test_zendesk_draft_and_outdated_flags_set_the_status(flags: dict, status: str) -> None:
    assert parse_json_article({**ZENDESK_ARTICLE, **flags}).status == status


def test_json_export_with_one_bad_article_loads_the_others(tmp_path: Path) -> None:
    articles = [
        ZENDESK_ARTICLE,
        {**ZENDESK_ARTICLE, "id": 2, "title": ""},
        {**ZENDESK_ARTICLE, "id": 3, "title": "Third"},
    ]
    path = write(tmp_path, "export.json", json.dumps({"articles": articles}))
    result = load_path(path)
    assert [d.id for d in result.documents] == ["360010001", "3"]
    assert result.failures == (LoadFailure(f"{path}#1", result.failures[0].reason),)
    assert "no title" in result.failures[0].reason


def test_json_file_may_hold_a_plain_list(tmp_path: Path) -> None:
    path = write(tmp_path, "list.json", json.dumps([ZENDESK_ARTICLE]))
    assert [d.id for d in load_path(path).documents] == ["360010001"]


def test_jsonl_bad_line_is_reported_with_its_line_number(tmp_path: Path) -> None:
    lines = [
        json.dumps({**ZENDESK_ARTICLE, "id": "a-1"}),
        "",
        '{"id": "a-2", "title": "Broken", "body": "<p>x</p>"',
        json.dumps({**ZENDESK_ARTICLE, "id": "a-3"}),
        json.dumps({**ZENDESK_ARTICLE, "id": "a-4", "locale": 7}),
    ]
    path = write(tmp_path, "articles.jsonl", "\n".join(lines) + "\n")
    result = load_path(path)
    assert [d.id for d in result.documents] == ["a-1", "a-3"]
    assert [f.path for f in result.failures] == [f"{path}:3", f"{path}:5"]
    assert "line 3 is not valid JSON" in result.failures[0].reason
    assert "locale" in result.failures[1].reason


# --- Tickets ----------------------------------------------------------------------------------


def test_ticket_becomes_a_redacted_ticket_document() -> None:
    doc = parse_ticket(TICKET, source_path="tickets.jsonl")
    assert (doc.id, doc.source_type, doc.status, doc.url) == (
        "ticket-98231",
        "ticket",
        "published",
        "",
    )
    assert doc.updated_at == "2026-05-02"
    assert doc.product == "general"
    assert doc.tags == ("hub", "offline", "article:hub-001", "article:360010001")
    assert doc.body.startswith(
        "## Customer question\n\nHi team,\nMy hub (order [ORDER]) is offline."
    )
    assert "## Resolution\n\nHi [NAME],\nwe re-paired the hub after a factory reset." in doc.body
    assert doc.title == "Hub offline - [NAME]"


def test_ticket_loader_lets_no_planted_personal_data_through(tmp_path: Path) -> None:
    path = write(tmp_path, "tickets.jsonl", json.dumps(TICKET) + "\n")
    (doc,) = load_path(path).documents
    record = " ".join([doc.title, doc.body, *doc.tags])
    for planted in (
        "Priya",
        "Raman",
        "LUM-2026-004512",
        "+44 20 7946 0958",
        "priya.raman@example.com",
        "12 Mill Lane",
        "LS1 4AB",
        "Tom Baker",
    ):
        assert planted not in record


def test_unresolved_ticket_is_a_draft_and_product_field_is_used() -> None:
    doc = parse_ticket({**TICKET, "resolved": False, "product": "lumora-cam"})
    assert (doc.status, doc.product) == ("draft", "lumora-cam")


def test_ticket_without_customer_message_text_is_rejected() -> None:
    with pytest.raises(LoadError, match="customer_message"):
        parse_ticket({**TICKET, "customer_message": "  "})


# --- Folders and file-level failures -------------------------------------------------------------


def test_folder_reports_every_bad_file_and_still_loads_the_good_ones(tmp_path: Path) -> None:
    write(tmp_path, "a/good.md", markdown("good-1", "Good article"))
    write(tmp_path, "a/page.html", HELP_CENTER_PAGE)
    latin1 = markdown("l1", "Caf\u00e9").encode("latin-1")
    write(tmp_path, "b/latin1.md", latin1)
    write(tmp_path, "b/empty.md", "")
    write(tmp_path, "b/binary.md", b"---\nid: bin\x00\x01\x02")
    write(tmp_path, "b/no-title.md", "---\nid: nt\n---\nBody\n")
    write(tmp_path, "b/broken.md", "---\nid: br\ntitle: [unclosed\n---\nBody\n")
    write(tmp_path, "b/huge.md", markdown("huge", body="x" * 5_000))
    write(tmp_path, "b/dup.md", markdown("good-1", "Same id again"))
    write(tmp_path, "b/diagram.png", b"\x89PNG\r\n")
    write(tmp_path, "c/articles.jsonl", json.dumps({**ZENDESK_ARTICLE, "id": "j-1"}) + "\n{oops\n")
    result = load_path(tmp_path, max_bytes=2_000)

    assert [d.id for d in result.documents] == ["good-1", "ship-201", "j-1"]
    failures = {Path(f.path).name: f.reason for f in result.failures}
    assert set(failures) == {
        "latin1.md",
        "empty.md",
        "binary.md",
        "no-title.md",
        "broken.md",
        "huge.md",
        "dup.md",
        "diagram.png",
        "articles.jsonl:2",
    }
    offset = latin1.index(b"\xe9")
    assert f"not UTF-8: invalid byte 0xE9 at byte offset {offset}" in failures["latin1.md"]
    assert "empty file" in failures["empty.md"]
    assert "binary file (contains NUL bytes)" in failures["binary.md"]
    assert failures["no-title.md"].startswith("no title")
    assert "broken YAML front matter at line 4" in failures["broken.md"]
    assert "flow sequence that starts at line 3" in failures["broken.md"]
    assert "5,0" in failures["huge.md"] and "limit of 2,000 bytes" in failures["huge.md"]
    assert failures["dup.md"].startswith(
        f"duplicate id 'good-1' (first defined in {tmp_path / 'a' / 'good.md'})"
    )
    assert "unsupported file type '.png'" in failures["diagram.png"]
    assert "not valid JSON" in failures["articles.jsonl:2"]


def test_hidden_readme_and_license_files_are_skipped_silently(tmp_path: Path) -> None:
    write(tmp_path, "article.md", markdown("a"))
    write(tmp_path, "README.md", "# About this folder\n")
    write(tmp_path, "LICENSE", "Apache-2.0\n")
    write(tmp_path, ".draft.md", "not even front matter")
    write(tmp_path, ".git/config", "[core]\n")
    result = load_path(tmp_path)
    assert [d.id for d in result.documents] == ["a"]
    assert result.failures == ()


def test_folder_order_is_sorted_and_repeatable(tmp_path: Path) -> None:
    for name in ("zeta.md", "alpha.md", "sub/beta.md", "mid.md"):
        write(tmp_path, name, markdown(Path(name).stem))
    first = load_path(tmp_path)
    assert [d.id for d in first.documents] == ["alpha", "mid", "beta", "zeta"]
    assert load_path(tmp_path) == first


def test_duplicate_id_across_formats_fails_the_second_occurrence(tmp_path: Path) -> None:
    write(tmp_path, "a.md", markdown("360010001", "Markdown copy"))
    path = write(tmp_path, "b.json", json.dumps([ZENDESK_ARTICLE]))
    result = load_path(tmp_path)
    assert [d.title for d in result.documents] == ["Markdown copy"]
    assert result.failures[0].path == f"{path}#0"
    assert "duplicate id '360010001'" in result.failures[0].reason


def test_missing_path_is_a_failure_not_an_exception(tmp_path: Path) -> None:
    result = load_path(tmp_path / "nope")
    assert result.documents == ()
    assert "no such file or folder" in result.failures[0].reason


def test_absurdly_deep_html_still_loads_its_text() -> None:
    page = '<meta name="kb:id" content="deep"><title>Deep</title><body>'
    page += "<div>" * 3000 + "<p>Buried answer</p>" + "</div>" * 3000 + "</body>"
    assert parse_html(page).body == "Buried answer"
