"""Freshness on the sample help center: a changed article is searchable within 5 s of its
PUT (with ``?reindex=true``). Slow: indexing the sample help center takes minutes here."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.bench.freshness import measure, table
from tests.admin_server import ADMIN_KEY, admin_server, build_index

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def test_a_changed_article_is_searchable_within_five_seconds(tmp_path, embedder):
    golden = tmp_path / "golden"
    build_index(golden, [ROOT / "data" / "kb"], embedder)
    with admin_server(golden, tmp_path / "var", embedder) as server:
        report = measure(server.url, ADMIN_KEY, runs=3, article_id="ret-001")
    print(table(report))
    assert report["chunks"] > 500  # the whole sample help center is indexed
    assert all(r["embedded"] < 20 for r in report["runs"])  # only the changed article
    assert report["median"]["visible_s"] < 5.0
