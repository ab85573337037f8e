"""Every path the software writes follows ``var_dir`` unless it was set on its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.settings import Settings


def test_var_dir_moves_the_index_threshold_database_caches_and_runs(tmp_path: Path) -> None:
    s = Settings(var_dir=tmp_path)
    assert s.index.dir == tmp_path / "index"
    assert s.answer.threshold_file == tmp_path / "threshold.json"
    assert s.answer.decision_file == tmp_path / "decision.json"
    assert s.resolved_database_url == f"sqlite:///{tmp_path / 'groundline.db'}"
    assert s.onnx_cache.is_relative_to(tmp_path) and s.cache_dir == tmp_path / "cache"
    assert s.eval_runs_dir.is_relative_to(tmp_path)


def test_a_path_set_on_its_own_stays_where_it_was_set(tmp_path: Path) -> None:
    s = Settings(var_dir=tmp_path / "var", index={"dir": tmp_path / "shared-index"},
                 answer={"threshold_file": tmp_path / "t.json", "max_passages": 3})
    assert s.index.dir == tmp_path / "shared-index"
    assert s.answer.threshold_file == tmp_path / "t.json"
    assert s.answer.max_passages == 3


def test_the_environment_moves_them_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROUNDLINE_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("GROUNDLINE_ANSWER__MAX_PASSAGES", "4")
    s = Settings()
    assert s.index.dir == tmp_path / "index"
    assert s.answer.threshold_file == tmp_path / "threshold.json"
    monkeypatch.setenv("GROUNDLINE_INDEX__DIR", str(tmp_path / "elsewhere"))
    assert Settings().index.dir == tmp_path / "elsewhere"


def test_the_shipped_reranker_and_datasets_follow_data_dir(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    assert s.shipped_reranker == tmp_path / "models" / "support-reranker"
    assert Settings().shipped_reranker.joinpath("config.json").exists()
