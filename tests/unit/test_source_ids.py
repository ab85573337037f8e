"""Ids in knowledge-base files follow the admin API's pattern, after Unicode NFC: a file whose
id could never be read, edited or deleted through the API is reported, not ingested."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

from app.admin.schemas import ID_PATTERN
from ingest.sources import load_path

BODY = "Return any device within 45 days of delivery for a full refund.\n"


def _article(folder: Path, name: str, article_id: str) -> Path:
    path = folder / name
    path.write_text(f"---\nid: {json.dumps(article_id)}\ntitle: Returns\n---\n{BODY}",
                    encoding="utf-8")
    return path


def test_an_id_outside_the_pattern_is_a_clear_failure(tmp_path):
    _article(tmp_path, "a.md", "../../etc/passwd")
    _article(tmp_path, "b.md", "my article")
    _article(tmp_path, "c.md", "returns-45")
    result = load_path(tmp_path)
    assert [d.id for d in result.documents] == ["returns-45"]
    assert [Path(f.path).name for f in result.failures] == ["a.md", "b.md"]
    for failure in result.failures:
        assert ID_PATTERN in failure.reason and "front matter" in failure.reason


def test_ids_in_json_records_are_checked_one_by_one(tmp_path):
    records = [{"id": "ok-1", "title": "A", "body": BODY}, {"id": "bad/2", "title": "B",
                                                            "body": BODY}]
    (tmp_path / "export.json").write_text(json.dumps(records), encoding="utf-8")
    result = load_path(tmp_path)
    assert [d.id for d in result.documents] == ["ok-1"]
    assert [f.path for f in result.failures] == [f"{tmp_path / 'export.json'}#1"]


def test_non_ascii_ids_in_either_normal_form_are_reported_not_doubled(tmp_path):
    nfc = unicodedata.normalize("NFC", "cafe\u0301")
    assert nfc != "cafe\u0301"
    # Non-ASCII letters are outside the pattern in either form: reported, never two articles.
    _article(tmp_path, "a.md", nfc)
    _article(tmp_path, "b.md", "cafe\u0301")
    result = load_path(tmp_path)
    assert result.documents == () and len(result.failures) == 2

