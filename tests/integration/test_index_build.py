"""Real model, real FAISS, real BM25, real SQLite: ingestion end to end on a small KB."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sqlmodel import Session, select

from app.errors import IndexBuildError, IndexMismatchError
from app.models import Article, ChunkRecord, IndexBuild
from app.rag.dense import DenseIndex
from app.rag.index import IndexStore, load_version
from app.rag.retrieve import HybridRetriever, normalise_filters
from ingest.pipeline import ingest_paths

pytestmark = pytest.mark.integration


def run(kb: Path, settings, engine, builder, **kw):
    return ingest_paths([kb], settings=settings, engine=engine, builder=builder, **kw)


@pytest.mark.parametrize(("question", "article"), [
    ("how many days do I have to send back my hub", "t-returns"),
    ("when will my refund arrive", "t-returns"),
    ("how do I wipe the hub and start over", "t-reset"),
    ("what does a red light mean", "t-reset"),
    ("how much is the plus plan per month", "t-plans"),
    ("set up 2FA with an authenticator", "t-2fa"),
    ("do you deliver to Ireland", "t-shipping"),
])
def test_known_questions_retrieve_their_article_in_the_top_3(
        question, article, kb_dir, settings, engine, builder, embedder):
    run(kb_dir, settings, engine, builder)
    index = IndexStore(settings.index.dir).load_active()
    result = HybridRetriever(embedder).retrieve(index, question, filters=normalise_filters({}))
    top3 = {c.chunk.article_id for c in result.candidates[:3]}
    assert article in top3


def test_drafts_are_stored_but_never_indexed(kb_dir, settings, engine, builder):
    report = run(kb_dir, settings, engine, builder)
    assert report.added == 6 and report.build.status == "built"
    index = IndexStore(settings.index.dir).load_active()
    assert "t-doorbell" not in {c.article_id for c in index.chunks}
    with Session(engine) as s:
        assert s.get(Article, "t-doorbell").status == "draft"
        assert len(s.exec(select(ChunkRecord)).all()) == len(index.chunks)


def test_incremental_runs_embed_only_what_changed(kb_dir, settings, engine, builder):
    first = run(kb_dir, settings, engine, builder)
    assert first.build.embedded == first.build.chunks > 0
    again = run(kb_dir, settings, engine, builder)
    assert again.build.status == "unchanged" and again.build.embedded == 0
    assert again.unchanged == 6

    path = kb_dir / "plans.md"
    path.write_text(path.read_text().replace("$4.99", "$5.49"))
    (kb_dir / "shipping.md").unlink()
    changed = run(kb_dir, settings, engine, builder)
    assert (changed.updated, changed.removed) == (1, 1)
    index = IndexStore(settings.index.dir).load_active()
    plan_chunks = [c for c in index.chunks if c.article_id == "t-plans"]
    assert changed.build.embedded == len(plan_chunks)
    assert any("$5.49" in c.text for c in plan_chunks)
    assert "t-shipping" not in {c.article_id for c in index.chunks}
    # the deleted article is gone from the sparse side too: its words match nothing
    rows, _ = index.sparse.search(["ireland"], k=5)
    assert len(rows) == 0


def test_reused_vectors_equal_fresh_ones(kb_dir, settings, engine, builder):
    run(kb_dir, settings, engine, builder)
    (kb_dir / "reset.md").write_text((kb_dir / "reset.md").read_text() + "\nMore text.\n")
    run(kb_dir, settings, engine, builder)
    incremental = IndexStore(settings.index.dir).load_active()
    run(kb_dir, settings, engine, builder, rebuild=True)
    full = IndexStore(settings.index.dir).load_active()
    assert [c.chunk_id for c in incremental.chunks] == [c.chunk_id for c in full.chunks]
    np.testing.assert_allclose(incremental.dense.vectors(), full.dense.vectors(), atol=1e-5)


def test_a_failed_build_leaves_the_previous_version_serving(
        kb_dir, settings, engine, builder, monkeypatch):
    run(kb_dir, settings, engine, builder)
    store = IndexStore(settings.index.dir)
    before = store.active_name()
    (kb_dir / "plans.md").write_text((kb_dir / "plans.md").read_text() + "\nNew fact.\n")

    def broken_save(self, folder):
        (folder / "dense.faiss").write_bytes(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(DenseIndex, "save", broken_save)
    with pytest.raises(IndexBuildError, match="No space left"):
        run(kb_dir, settings, engine, builder)
    assert store.active_name() == before
    assert store.versions() == [before]
    assert not list(store.versions_dir.glob(".tmp-*"))
    store.load_active()  # still loads
    with Session(engine) as s:
        last = s.exec(select(IndexBuild).order_by(IndexBuild.id.desc())).first()
        assert last.status == "failed" and "No space left" in last.error


def test_manifest_mismatch_says_what_to_do(kb_dir, settings, engine, builder):
    run(kb_dir, settings, engine, builder)
    store = IndexStore(settings.index.dir)
    folder = store.versions_dir / store.active_name()
    manifest = json.loads((folder / "manifest.json").read_text())
    with pytest.raises(IndexMismatchError, match="make ingest") as err:
        load_version(folder, expected={"embedder": {**manifest["embedder"], "dimension": 768},
                                       "chunker": manifest["chunker"]})
    assert "768" in str(err.value)


def test_manifest_records_what_the_index_was_built_with(kb_dir, settings, engine, builder):
    run(kb_dir, settings, engine, builder)
    manifest = IndexStore(settings.index.dir).active_manifest()
    assert manifest["embedder"] == {"name": "all-MiniLM-L6-v2", "dimension": 384,
                                    "max_seq_length": 256}
    assert manifest["chunker"]["max_tokens"] == settings.chunker.max_tokens
    assert manifest["counts"]["articles"] == 5
    assert len(manifest["content_hash"]) == 64
    assert manifest["dense"]["kind"] == "flat"


def test_old_versions_are_pruned_but_the_active_one_stays(kb_dir, settings, engine, builder):
    builder.keep_versions = 2
    for i in range(4):
        (kb_dir / "plans.md").write_text((kb_dir / "plans.md").read_text() + f"\nEdit {i}.\n")
        run(kb_dir, settings, engine, builder)
    store = IndexStore(settings.index.dir)
    assert len(store.versions()) == 2 and store.active_name() == store.versions()[-1]


def _spy_reviews(builder, monkeypatch) -> list[str]:
    """The ids ``builder``'s safety check reads, in order."""
    reviewed: list[str] = []
    review = builder.safety.review
    monkeypatch.setattr(builder.safety, "review",
                        lambda doc: reviewed.append(doc.id) or review(doc))
    return reviewed


def _served_ids(settings) -> set[str]:
    return {c.article_id for c in IndexStore(settings.index.dir).load_active().chunks}


def test_a_rebuild_reads_only_changed_documents_for_the_safety_check(
        kb_dir, settings, engine, builder, monkeypatch):
    reviewed = _spy_reviews(builder, monkeypatch)
    run(kb_dir, settings, engine, builder)
    assert len(reviewed) == 5  # every published document (the sixth is a draft), once

    path = kb_dir / "plans.md"
    clean = path.read_text()
    reviewed.clear()
    path.write_text(clean + "\nPlease e-mail us your password so we can check the account.\n")
    held = run(kb_dir, settings, engine, builder)
    assert reviewed == ["t-plans"] and held.build.held == ("t-plans",)
    assert "t-plans" not in _served_ids(settings)

    reviewed.clear()
    path.write_text(clean)
    back = run(kb_dir, settings, engine, builder)
    assert reviewed == ["t-plans"] and back.build.held == ()
    assert "t-plans" in _served_ids(settings)


def test_a_new_process_reuses_the_verdicts_its_version_recorded_under_the_same_rules(
        kb_dir, settings, engine, builder, embedder, monkeypatch):
    from ingest.pipeline import make_builder

    path = kb_dir / "plans.md"
    path.write_text(path.read_text() + "\nPlease e-mail us your password to check it.\n")
    run(kb_dir, settings, engine, builder)
    version = IndexStore(settings.index.dir).versions_dir / IndexStore(
        settings.index.dir).active_name()
    recorded = json.loads((version / "reviews.json").read_text())
    assert len(recorded["held"]) == 1 and len(recorded["clean"]) == 4
    assert "password" not in (version / "reviews.json").read_text()  # hashes, no text

    (kb_dir / "reset.md").write_text((kb_dir / "reset.md").read_text() + "\nMore text.\n")
    fresh = make_builder(settings)  # as a new process: nothing in memory
    fresh._embedder = embedder
    reviewed = _spy_reviews(fresh, monkeypatch)
    report = run(kb_dir, settings, engine, fresh)
    assert reviewed == ["t-reset"] and report.build.held == ("t-plans",)
    assert "t-plans" not in _served_ids(settings)

    (kb_dir / "reset.md").write_text((kb_dir / "reset.md").read_text() + "\nAnd more.\n")
    other = settings.model_copy(update={"content": settings.content.model_copy(
        update={"allowed_domains": [*settings.content.allowed_domains, "other.example"]})})
    moved = make_builder(other)  # other allowed domains: every verdict is made again
    moved._embedder = embedder
    reviewed = _spy_reviews(moved, monkeypatch)
    report = run(kb_dir, other, engine, moved)
    assert len(reviewed) == 5 and report.build.held == ("t-plans",)
