"""Configuration that tells the truth: every mistake in the environment is one line that
names the variable, and the effective configuration is logged without secrets."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

import app.ops.config as config_module
from app.errors import ConfigurationError
from app.ops.config import load_settings, settings_variables, unknown_variables
from app.ops.summary import effective_configuration, log_configuration
from app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
# Files that name mistaken variables on purpose.
ON_PURPOSE = {ROOT / "app" / "ops" / "config.py", Path(__file__).resolve(),
              ROOT / "tests" / "e2e" / "test_config_startup.py"}


def error_of(monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(("name", "meant"), [
    ("GROUNDLINE_LLM_BASE_URL", "GROUNDLINE_LLM__BASE_URL"),  # one underscore
    ("GROUNDLINE_RETREIVAL__RERANK_DEPTH", "GROUNDLINE_RETRIEVAL__RERANK_DEPTH"),  # typo
    ("GROUNDLINE_RERANK_DEPTH", "GROUNDLINE_RETRIEVAL__RERANK_DEPTH"),  # no section
    ("groundline_var__dir", "GROUNDLINE_VAR_DIR"),  # case does not matter
])
def test_an_unknown_variable_stops_with_did_you_mean(monkeypatch, name, meant):
    message = error_of(monkeypatch, **{name: "1"})
    assert message.startswith(f"unknown variable {name}: did you mean {meant}?")


def test_a_name_nothing_resembles_points_to_the_reference(monkeypatch):
    message = error_of(monkeypatch, GROUNDLINE_FLUX_CAPACITOR="1")
    assert "GROUNDLINE_FLUX_CAPACITOR" in message and "docs/configuration.md" in message
    assert "did you mean" not in message


def test_a_setting_read_without_the_prefix_names_its_replacement(monkeypatch):
    message = error_of(monkeypatch, GROUNDLINE_REDIS_URL="redis://127.0.0.1:6379/0")
    assert message.startswith("GROUNDLINE_REDIS_URL is not read: set REDIS_URL")


def test_a_removed_setting_names_its_replacement(monkeypatch):
    monkeypatch.setitem(config_module.REPLACED, "GROUNDLINE_ANSWER__OLD_BAR",
                        "GROUNDLINE_ANSWER__MIN_SCORE")
    message = error_of(monkeypatch, GROUNDLINE_ANSWER__OLD_BAR="0.4")
    assert message == ("GROUNDLINE_ANSWER__OLD_BAR is not read: set "
                       "GROUNDLINE_ANSWER__MIN_SCORE")


def test_test_variables_sections_and_aliases_are_accepted():
    env = {"GROUNDLINE_TEST_DATABASE_URL": "x", "GROUNDLINE_LLM": "{}", "REDIS_URL": "",
           "ADMIN_API_KEY": "k", "PATH": "/bin", "GROUNDLINE_PUBLIC__DEMO": "true"}
    assert unknown_variables(env) == []


def test_every_variable_the_project_names_is_a_setting():
    """Docs, the Makefile, CI, tests and code only name variables the settings read."""
    known = settings_variables()
    files = [ROOT / "Makefile", ROOT / ".ci" / "run", ROOT / "README.md"]
    for folder in ("app", "ingest", "eval", "tests", "docs"):
        files += [p for p in (ROOT / folder).rglob("*") if p.suffix in (".py", ".md", ".sh")]
    names = {m for p in files if p.is_file() and p.resolve() not in ON_PURPOSE
             for m in re.findall(r"GROUNDLINE_[A-Z0-9_]*[A-Z0-9]", p.read_text("utf-8"))}
    names -= {n for n in names if n.startswith("GROUNDLINE_TEST")}
    assert "GROUNDLINE_LLM__BASE_URL" in names  # the scan found the documented ones
    mistakes = {"GROUNDLINE_LLM_BASE_URL", "GROUNDLINE_REDIS_URL"}  # the docs' examples
    assert sorted(names - set(known) - mistakes) == []


@pytest.mark.parametrize(("env", "expected"), [
    ({"GROUNDLINE_RETRIEVAL__RERANK_DEPTH": "abc"},
     "GROUNDLINE_RETRIEVAL__RERANK_DEPTH='abc' is not valid: expected an integer >= 0"),
    ({"GROUNDLINE_ANSWER__MAX_FALSE_ANSWER_RATE": "2"},
     "GROUNDLINE_ANSWER__MAX_FALSE_ANSWER_RATE='2' is not valid: expected a number > 0 "
     "and < 1"),
    ({"GROUNDLINE_RETRIEVAL__FUSION": "max"},
     "GROUNDLINE_RETRIEVAL__FUSION='max' is not valid: expected one of 'rrf', 'weighted'"),
    ({"GROUNDLINE_PUBLIC__DEMO": "maybe"},
     "GROUNDLINE_PUBLIC__DEMO='maybe' is not valid: expected true or false"),
    ({"GROUNDLINE_CONTENT__ALLOWED_DOMAINS": "help.example.org"},
     'GROUNDLINE_CONTENT__ALLOWED_DOMAINS is not valid JSON: expected a JSON list, '
     'e.g. ["a", "b"]'),
    ({"GROUNDLINE_LLM": '{"timeout_s": "soon"}'},
     "GROUNDLINE_LLM: timeout_s is not valid: expected a number > 0"),
    ({"GROUNDLINE_LOG__FORMAT": "xml"},
     "GROUNDLINE_LOG__FORMAT='xml' is not valid: expected one of 'text', 'json'"),
    ({"GROUNDLINE_TRACING__SAMPLE_RATIO": "1.5"},
     "GROUNDLINE_TRACING__SAMPLE_RATIO='1.5' is not valid: expected a number >= 0 and <= 1"),
])
def test_an_invalid_value_is_one_line_naming_the_variable(monkeypatch, env, expected):
    assert error_of(monkeypatch, **env) == expected


def test_every_mistake_is_reported_at_once(monkeypatch):
    message = error_of(monkeypatch, GROUNDLINE_LLM_MODEL="x", GROUNDLINE_VARDIR="y")
    assert "GROUNDLINE_LLM_MODEL" in message and "GROUNDLINE_VARDIR" in message


def test_the_effective_configuration_names_no_secret(tmp_path, caplog):
    secrets = ["sk-live-llm-secret", "db-pass-secret", "redis-pass-secret",
               "hook-path-secret", "hmac-secret-value", "admin-key-secret-0123"]
    settings = Settings(
        var_dir=tmp_path, database_url=f"postgresql+psycopg://app:{secrets[1]}@db:5432/gl",
        redis_url=f"redis://:{secrets[2]}@cache:6379/0", admin_api_key=secrets[5],
        llm={"base_url": "http://user:pw@llm.internal:8001/v1?token=t", "api_key": secrets[0],
             "model": "qwen"},
        handoff={"webhook_url": f"https://hooks.example.com/{secrets[3]}?k=1",
                 "webhook_secret": secrets[4]},
        retrieval={"rerank_depth": 20})
    with caplog.at_level(logging.INFO, logger="app.ops.summary"):
        config = log_configuration(settings)
    logged = caplog.text + repr(config)
    for secret in [*secrets, "pw", "token=t"]:
        assert secret not in logged
    assert config["generator"] == "openai-compatible model qwen at http://llm.internal:8001/v1"
    assert config["database"] == "postgresql+psycopg://app:***@db:5432/gl"
    assert config["redis"] == "redis://cache:6379/0"
    assert config["handoff_webhook"] == "https://hooks.example.com"
    assert config["reranker"].endswith("at depth 20 (torch)")
    assert "keys configured: admin_api_key, llm_api_key, handoff_webhook_secret" in caplog.text


def test_without_an_llm_the_configuration_says_answers_are_extractive(tmp_path):
    config = effective_configuration(Settings(var_dir=tmp_path))
    assert config["generator"] == "extractive (no LLM configured)"
    assert config["reranker"] == "off (retrieval.rerank_depth 0)"
    assert config["keys"] == {"admin_api_key": False, "llm_api_key": False,
                              "judge_api_key": False, "handoff_webhook_secret": False}
