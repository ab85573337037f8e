"""Shared fixtures. Real models load once per session; fakes isolate units."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from app.environment import prepare_process
from app.settings import ContentSettings

prepare_process()  # the test session is an entry point like the CLIs and the service

# The fixture help center (tests/fixtures/kb) is another operator's: its pages live on
# help.example.test, so that domain is allowed as its operator would allow it. Set in the
# environment so subprocesses (the CLIs) and every Settings() see it.
os.environ.setdefault("GROUNDLINE_CONTENT__ALLOWED_DOMAINS", json.dumps(
    [*ContentSettings().allowed_domains, "example.test"]))

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_KB = Path(__file__).parent / "fixtures" / "kb"
SHARED = ROOT.parent / "shared"

# The suite runs on SQLite by default and on PostgreSQL when this variable holds a URL such
# as postgresql+psycopg://postgres@127.0.0.1:5432/test. Each test module and each test then
# gets a schema of its own (as each otherwise gets a fresh SQLite file), handed down through
# GROUNDLINE_DATABASE_URL, which every Settings() and every subprocess reads.
TEST_DATABASE_URL = os.environ.get("GROUNDLINE_TEST_DATABASE_URL", "")
_SCHEMA_PREFIX = "gl_test_"


def _libpq(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _drop_schemas(names: list[str] | None = None) -> None:
    import psycopg

    with psycopg.connect(_libpq(TEST_DATABASE_URL), autocommit=True) as conn:
        conn.execute("SET lock_timeout = '5s'")
        if names is None:
            names = [r[0] for r in conn.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s",
                (_SCHEMA_PREFIX + "%",))]
        for name in names:
            with suppress(psycopg.Error):  # still in use: dropped at the end of the session
                conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@contextmanager
def _private_database() -> Iterator[None]:
    if not TEST_DATABASE_URL:
        yield
        return
    import psycopg

    schema = _SCHEMA_PREFIX + uuid.uuid4().hex[:12]
    with psycopg.connect(_libpq(TEST_DATABASE_URL), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in TEST_DATABASE_URL else "?"
    previous = os.environ.get("GROUNDLINE_DATABASE_URL")
    os.environ["GROUNDLINE_DATABASE_URL"] = (
        f"{TEST_DATABASE_URL}{sep}options=-csearch_path%3D{schema}")
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("GROUNDLINE_DATABASE_URL", None)
        else:
            os.environ["GROUNDLINE_DATABASE_URL"] = previous
        _drop_schemas([schema])


@pytest.fixture(scope="session", autouse=True)
def _database_session() -> Iterator[None]:
    if TEST_DATABASE_URL:
        _drop_schemas()  # left by an interrupted run
    yield
    if TEST_DATABASE_URL:
        import gc

        gc.collect()  # close the connections of engines nobody holds any more
        _drop_schemas()


@pytest.fixture(scope="module", autouse=True)
def _database_module(_database_session: None) -> Iterator[None]:
    with _private_database():
        yield


@pytest.fixture(autouse=True)
def _database_test(_database_module: None) -> Iterator[None]:
    with _private_database():
        yield


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


@pytest.fixture(scope="session")
def tiny_cross_encoder(tmp_path_factory) -> str:
    """A two-layer CrossEncoder trained for a few steps from the shipped MiniLM weights.

    It is not meant to rank well; it lets the real ``CrossEncoderReranker`` code path run
    (loading a folder, batching pairs, scoring) without any download.
    """
    from datasets import Dataset
    from sentence_transformers import CrossEncoder
    from sentence_transformers.cross_encoder import (
        CrossEncoderTrainer,
        CrossEncoderTrainingArguments,
    )
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    from app.rag.embed import resolve_model_path

    model = CrossEncoder(resolve_model_path("all-MiniLM-L6-v2"), num_labels=1,
                         max_length=128, device="cpu")
    model.model.bert.encoder.layer = model.model.bert.encoder.layer[:2]
    model.model.config.num_hidden_layers = 2
    pairs = [("how do I return my hub", "You can return hardware within 45 days.", 1.0),
             ("how do I return my hub", "The Plus plan costs $4.99 a month.", 0.0),
             ("reset the hub", "Hold the reset button for 10 seconds.", 1.0),
             ("reset the hub", "Standard shipping takes 3-5 business days.", 0.0)] * 8
    data = Dataset.from_dict({"sentence1": [p[0] for p in pairs],
                              "sentence2": [p[1] for p in pairs],
                              "label": [p[2] for p in pairs]})
    out = tmp_path_factory.mktemp("tiny-cross-encoder")
    args = CrossEncoderTrainingArguments(output_dir=str(out / "run"), num_train_epochs=1,
                                         per_device_train_batch_size=16, save_strategy="no",
                                         report_to="none", use_cpu=True, seed=1)
    CrossEncoderTrainer(model=model, args=args, train_dataset=data,
                        loss=BinaryCrossEntropyLoss(model)).train()
    model.save_pretrained(str(out / "model"))
    return str(out / "model")


@pytest.fixture(scope="module")
def cli_var_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A var folder of its own for the command-line programs a test module runs in process:
    ``GROUNDLINE_VAR_DIR`` points there, so their settings, caches and outputs stay out of the
    repository's var/."""
    from app.settings import get_settings

    var = tmp_path_factory.mktemp("var")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GROUNDLINE_VAR_DIR", str(var))
        get_settings.cache_clear()
        yield var
    get_settings.cache_clear()
