"""The reranker CLI: its folders come from the settings, and it prepares the process first."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.settings import Settings
from ingest.models.reranker.__main__ import data_paths, main, operator_data, parse_args
from ingest.models.reranker.data import DataPaths
from ingest.models.reranker.finetune import OperatorData


def test_default_settings_give_the_folders_make_train_reranker_uses() -> None:
    settings = Settings()
    args = parse_args(["train"], settings=settings)
    assert args.out == args.base == Path("data/models/support-reranker")
    assert args.work == Path("var/reranker")
    assert data_paths(args, settings) == DataPaths()
    tune = parse_args(["finetune"], settings=settings)
    assert operator_data(tune, settings) == OperatorData()


def test_folders_follow_the_settings(tmp_path: Path) -> None:
    data, var = tmp_path / "data", tmp_path / "var"
    settings = Settings(data_dir=data, var_dir=var, datasets_dir=tmp_path / "sets")
    args = parse_args(["train"], settings=settings)
    assert args.out == args.base == data / "models" / "support-reranker"
    assert args.work == var / "reranker"
    assert (args.kb, args.tickets) == (data / "kb", data / "tickets")
    assert data_paths(args, settings) == DataPaths(
        kb=data / "kb", tickets=data / "tickets", questions=data / "train" / "questions.jsonl",
        eval_dir=data / "eval", faq=tmp_path / "sets" / "dstc10-faq" / "kb.jsonl",
        cache=var / "cache" / "reranker")


def test_finetune_reads_feedback_only_when_asked(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", var_dir=tmp_path / "var")
    quiet = operator_data(parse_args(["finetune"], settings=settings), settings)
    assert quiet.database_url is None
    assert quiet.eval_dir == tmp_path / "data" / "eval"
    assert quiet.cache == tmp_path / "var" / "cache" / "reranker"
    rated = operator_data(parse_args(["finetune", "--feedback"], settings=settings), settings)
    assert rated.database_url == settings.resolved_database_url


def test_the_entry_point_prepares_the_process_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with pytest.raises(SystemExit):
        main(["--no-such-option"])  # refused by the parser, after the process is prepared
    assert os.environ["HF_HUB_OFFLINE"] == "1"  # a model library never reaches for the network
