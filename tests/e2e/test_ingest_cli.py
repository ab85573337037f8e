"""``python -m ingest`` as a user runs it: exit codes, summary, bad files, redaction."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]

PLANTED = ["maria.lopez@example.com", "+1 415-555-0199", "4111 1111 1111 1111",
           "742 Evergreen Terrace, Springfield, IL 62704", "LUM-2026-004512",
           "(212) 555-0147", "5500-0000-0000-0004", "Maria Lopez"]


def ingest(*args: str, var: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GROUNDLINE_VAR_DIR": str(var),
           "GROUNDLINE_INDEX__DIR": str(var / "index")}
    return subprocess.run([sys.executable, "-m", "ingest", "--no-progress", "--json", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture()
def tickets(tmp_path: Path) -> Path:
    folder = tmp_path / "tickets"
    folder.mkdir()
    rows = [
        {"id": "1", "created_at": "2026-05-02T10:00:00Z", "channel": "email",
         "subject": "Refund for order LUM-2026-004512",
         "customer_message": "Hi, my name is Maria Lopez. Email me at maria.lopez@example.com "
                             "or call +1 415-555-0199. I paid with 4111 1111 1111 1111 and "
                             "live at 742 Evergreen Terrace, Springfield, IL 62704.",
         "agent_resolution": "Hi Maria, the refund for the hub return was issued; it reaches "
                             "the card within 5-7 business days.",
         "linked_article_ids": ["t-returns"], "tags": ["refund"], "resolved": True},
        {"id": "2", "created_at": "2026-05-03T10:00:00Z", "channel": "chat",
         "subject": "Card charged twice", "customer_message":
             "Call me on (212) 555-0147, card 5500-0000-0000-0004. Thanks, Maria Lopez",
         "agent_resolution": "The duplicate authorisation drops off within 3 days.",
         "linked_article_ids": [], "tags": ["billing"], "resolved": True},
    ]
    (folder / "tickets.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return folder


def test_bad_files_are_reported_and_everything_else_is_ingested(kb_dir, tmp_path):
    (kb_dir / "latin1.md").write_bytes("---\nid: x\ntitle: Caf\xe9\n---\nbody".encode("latin-1"))
    (kb_dir / "empty.md").write_text("")
    (kb_dir / "broken.md").write_text("---\nid: [unclosed\ntitle: T\n---\nBody text\n")
    (kb_dir / "notitle.md").write_text("---\nid: nt\n---\nBody text\n")
    (kb_dir / "zz-dup.md").write_text((kb_dir / "plans.md").read_text())
    (kb_dir / "blob.md").write_bytes(b"\x00\x01\x02binary")
    result = ingest(str(kb_dir), var=tmp_path / "var")
    assert result.returncode == 2, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["added"] == 6 and summary["failed"] == 6 and summary["chunks"] > 0
    for name in ("latin1.md", "empty.md", "broken.md", "notitle.md", "zz-dup.md", "blob.md"):
        assert f"failed: {kb_dir / name}" in result.stderr
    assert "duplicate id" in result.stderr and "UTF-8" in result.stderr

    again = ingest(str(kb_dir), var=tmp_path / "var")
    summary = json.loads(again.stdout.strip().splitlines()[-1])
    assert (summary["embedded"], summary["unchanged"], summary["index"]) == (0, 6, "unchanged")


def test_a_broken_edit_does_not_delete_the_article_it_held(kb_dir, tmp_path):
    assert ingest(str(kb_dir), var=tmp_path / "var").returncode == 0
    (kb_dir / "plans.md").write_text("---\ntitle: [broken\n---\n")
    result = ingest(str(kb_dir), var=tmp_path / "var")
    assert result.returncode == 2
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["removed"] == 0


def test_missing_path_is_an_error(tmp_path):
    result = ingest(str(tmp_path / "nope"), var=tmp_path / "var")
    assert result.returncode == 1 and "no such file" in result.stderr


def test_no_planted_personal_datum_reaches_the_database_or_the_index(tickets, kb_dir, tmp_path):
    var = tmp_path / "var"
    result = ingest(str(kb_dir), str(tickets), var=var)
    assert result.returncode == 0, result.stderr
    db = sqlite3.connect(var / "groundline.db")
    dump = "\n".join(db.iterdump())
    assert "ticket-1" in dump and "refund" in dump.lower()
    index_text = "\n".join(p.read_bytes().decode("utf-8", "ignore")
                           for p in (var / "index").rglob("*") if p.is_file())
    assert "ticket-1" in index_text
    for datum in PLANTED:
        assert datum not in dump, datum
        assert datum not in index_text, datum
        assert datum not in result.stdout + result.stderr, datum
