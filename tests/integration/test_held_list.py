"""The held-for-review list on a real database: after an edit only the changed documents
are checked again, and the list still follows every change."""

from __future__ import annotations

import pytest

from app.api import admin_held
from app.catalog import upsert
from app.content.safety import ContentSafety
from app.db import make_engine, session_scope
from app.rag.types import SourceDocument
from tests.public_helpers import base_settings

pytestmark = pytest.mark.integration

CLEAN = "Charge the camera with the cable in the box. A full charge takes about 5 hours."
LINKED = "File a claim at https://warranty-partner.example/claims within 10 days."


def _seed(engine) -> None:  # type: ignore[no-untyped-def]
    """30 clean articles and one that links outside the allowed domains."""
    with session_scope(engine) as session:
        for i in range(30):
            upsert(session, SourceDocument(id=f"a{i:02d}", title=f"Article {i}", body=CLEAN))
        upsert(session, SourceDocument(id="a-linked", title="Claims", body=LINKED))


def _count_reviews(monkeypatch) -> list[str]:  # type: ignore[no-untyped-def]
    """The ids every ContentSafety reads from now on, in order."""
    reviewed: list[str] = []
    review = ContentSafety.review

    def counting(self, doc):  # type: ignore[no-untyped-def]
        reviewed.append(doc.id)
        return review(self, doc)

    monkeypatch.setattr(ContentSafety, "review", counting)
    return reviewed


def test_only_changed_documents_are_checked_again(tmp_path, monkeypatch) -> None:
    settings = base_settings(tmp_path)
    engine = make_engine(settings.resolved_database_url)
    _seed(engine)
    reviewed = _count_reviews(monkeypatch)
    monkeypatch.setattr(admin_held, "_CHECKED", {})
    with session_scope(engine) as session:
        first = admin_held.held_list(session, settings)
    assert {r.article_id for r in first} == {"a-linked"}
    assert len(reviewed) == 31

    reviewed.clear()
    with session_scope(engine) as session:
        upsert(session, SourceDocument(id="a07", title="Article 7", body=CLEAN + " " + LINKED))
        upsert(session, SourceDocument(id="a-linked", title="Claims", body=CLEAN))
    with session_scope(engine) as session:
        second = admin_held.held_list(session, settings)
    assert sorted(reviewed) == ["a-linked", "a07"]
    assert {r.article_id for r in second} == {"a07"}
    assert second[0].title == "Article 7" and "warranty-partner.example" in second[0].detail

    reviewed.clear()
    allowed = base_settings(tmp_path, content={"allowed_domains": ["warranty-partner.example"]})
    with session_scope(engine) as session:
        assert admin_held.held_list(session, allowed) == []
    assert len(reviewed) == 31  # other allowed domains: every document is checked again


def test_a_first_list_reads_only_what_the_last_index_build_did_not_pass(
        tmp_path, monkeypatch, embedder) -> None:
    from app.catalog import all_documents
    from app.rag.factory import make_index_builder

    settings = base_settings(tmp_path)
    engine = make_engine(settings.resolved_database_url)
    _seed(engine)
    with session_scope(engine) as session:
        outcome = make_index_builder(settings, embedder=embedder).build(all_documents(session))
    assert outcome.held == ("a-linked",)
    with session_scope(engine) as session:  # an edit after the build
        upsert(session, SourceDocument(id="a07", title="Article 7", body=CLEAN + " More."))
    reviewed = _count_reviews(monkeypatch)
    monkeypatch.setattr(admin_held, "_CHECKED", {})  # as after a restart
    monkeypatch.setattr(admin_held, "_LAST", {})
    with session_scope(engine) as session:
        held = admin_held.held_list(session, settings)
    assert sorted(reviewed) == ["a-linked", "a07"]  # the held one (for its sentence), the edit
    assert [(r.article_id, r.reason) for r in held] == [("a-linked", "outside_link")]
