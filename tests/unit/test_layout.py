"""The repository's shape: packages say what they hold, one error root, one place for paths,
dependencies that flow one way, and a service that declares what it imports."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from app.errors import RagError

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "ingest", "eval")


def _sources(*tops: str) -> list[Path]:
    return sorted(p for top in tops for p in (ROOT / top).rglob("*.py"))


def _modules() -> list[str]:
    names = []
    for top in PACKAGES:
        package = importlib.import_module(top)
        names.append(top)
        names += [m.name for m in pkgutil.walk_packages(package.__path__, f"{top}.")]
    # Alembic runs the migration environment and revisions as scripts, not as imports.
    return [n for n in names if not n.startswith(("app.migrations.env", "app.migrations.versions"))]


def _imports(path: Path) -> set[str]:
    """Top-level names of every module imported by ``path``, inside functions too."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


def test_every_package_says_what_it_holds() -> None:
    packages = [p.parent for p in _sources(*PACKAGES) if p.name == "__init__.py"]
    assert len(packages) >= 10
    empty = [str(p.relative_to(ROOT)) for p in packages
             if not (ast.get_docstring(ast.parse((p / "__init__.py").read_text())) or "").strip()]
    assert not empty, f"packages without an __init__ docstring: {empty}"


def test_errors_raised_on_purpose_share_one_root() -> None:
    strays = []
    for name in _modules():
        module = importlib.import_module(name)
        for cls_name, cls in inspect.getmembers(module, inspect.isclass):
            if (cls.__module__ == name and issubclass(cls, BaseException)
                    and not cls_name.startswith("_") and not issubclass(cls, RagError)):
                strays.append(f"{name}.{cls_name}")
    assert not strays, f"errors not derived from app.errors.RagError: {strays}"


def test_the_service_imports_neither_ingest_nor_eval() -> None:
    wrong = {str(p.relative_to(ROOT)): sorted(_imports(p) & {"ingest", "eval"})
             for p in _sources("app")}
    assert not {k: v for k, v in wrong.items() if v}


def test_offline_environment_is_set_in_one_place() -> None:
    setters = [str(p.relative_to(ROOT)) for p in _sources(*PACKAGES)
               if re.search(r"HF_HUB_OFFLINE|TRANSFORMERS_OFFLINE", p.read_text())]
    assert setters == ["app/environment.py"]


def test_the_shipped_reranker_folder_is_named_once() -> None:
    """Its path comes from ``Settings.shipped_reranker``; code never spells it out."""
    spelled = []
    for path in _sources(*PACKAGES):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef))
                      and n.body and isinstance(n.body[0], ast.Expr)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and "support-reranker" in node.value and id(node) not in docstrings):
                spelled.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert spelled == [next(s for s in spelled if s.startswith("app/settings.py"))]


def _distribution_names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\[<>=!~; ]", r, maxsplit=1)[0].lower().replace("_", "-")
            for r in requirements}


def test_the_service_declares_what_it_imports_and_nothing_of_the_lab() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = _distribution_names(project["dependencies"])
    # The service's own extras: the ONNX runtime and OpenTelemetry, imported when enabled.
    onnx = _distribution_names(project["optional-dependencies"]["onnx"]
                               + project["optional-dependencies"]["otel"])
    owners = packages_distributions()
    local = set(PACKAGES) | {"tests"}
    service_sources = _sources("app") + [p for p in _sources("ingest")
                                         if "models" not in p.relative_to(ROOT).parts]
    undeclared = {}
    for path in service_sources:
        for name in _imports(path) - local:
            dists = {d.lower().replace("_", "-") for d in owners.get(name, [])}
            if dists and not dists & (base | onnx):
                undeclared[f"{path.relative_to(ROOT)}: {name}"] = sorted(dists)
    assert not undeclared, f"imported by the service but not a dependency: {undeclared}"
    lab = {"ragas", "matplotlib", "rank-bm25", "langchain-openai", "langchain-community",
           "instructor", "rouge-score", "sacrebleu", "rapidfuzz", "accelerate", "datasets",
           "onnx", "onnxruntime", "pytest"}
    assert not base & lab


@pytest.mark.parametrize("folder", ["ingest/models/reranker", "eval/models", "eval/bench"])
def test_a_newcomer_finds_the_parts_by_folder_name(folder: str) -> None:
    assert (ROOT / folder / "__init__.py").is_file()
