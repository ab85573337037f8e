"""A synthetic help center for scale benchmarks: seeded, realistic structure, plain Markdown.

Article ``i`` depends only on ``(seed, i)``, so the first 1,000 articles of a 50,000-article
set are the 1,000-article set. Each article has YAML front matter (as the Markdown loader
reads it), an introduction, H2 and H3 sections, numbered steps, bullet lists, tables and
notes, about 300-600 words, so it chunks into two to four passages like a real article. About
5% are drafts or archived (stored, never served). Questions are written beside the articles
(``questions.jsonl``): from titles and section headings, with the source article id.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from eval.bench import words as W

GENERATOR_VERSION = 1
URL = "https://help.lumora.example/articles/"


@dataclass(frozen=True, slots=True)
class Question:
    """A benchmark question; ``article_id`` is empty for off-topic ones."""

    text: str
    kind: str  # title | section | off_topic
    article_id: str = ""


@dataclass(frozen=True, slots=True)
class SynthArticle:
    id: str
    category: str
    title: str
    status: str
    markdown: str
    questions: tuple[Question, ...]


class _Writer:
    """Fills templates for one article from its own random stream."""

    def __init__(self, rng: random.Random, product: tuple[str, str]) -> None:
        self.rng = rng
        self.slug, self.product = product
        self.code_name = "".join(rng.choice(W.SYLLABLES) for _ in range(3)).capitalize()
        self.parts: list[str] = []

    def slots(self) -> dict[str, object]:
        r = self.rng
        feature = r.choice(W.FEATURES)
        return {
            "product": self.product, "feature": feature, "feature_cap": feature.capitalize(),
            "screen": r.choice(W.SCREENS), "setting": r.choice(W.SETTINGS),
            "setting2": r.choice(W.SETTINGS).lower(), "integration": r.choice(W.INTEGRATIONS),
            "plan": r.choice(W.PLANS), "region": r.choice(W.REGIONS), "n": r.randint(2, 30),
            "n2": r.randint(31, 90), "days": r.choice((3, 5, 7, 14, 30, 60)),
            "months": r.randint(3, 12), "bars": r.randint(2, 4), "year": r.randint(2019, 2025),
            "version": f"{r.randint(1, 6)}.{r.randint(0, 19)}.{r.randint(0, 99)}",
            "code": f"E-{r.randint(100, 999)}", "code_name": self.code_name,
            "colour": r.choice(W.COLOURS), "state": r.choice(W.STATES),
        }

    def fill(self, template: str) -> str:
        return template.format(**self.slots())

    def paragraph(self, n: int | None = None) -> None:
        count = n or self.rng.randint(2, 4)
        self.parts.append(" ".join(self.fill(self.rng.choice(W.SENTENCES)) for _ in range(count)))

    def steps(self) -> None:
        chosen = self.rng.sample(W.STEP_TEMPLATES, self.rng.randint(3, 6))
        self.parts.append("\n".join(f"{i}. {self.fill(t)}" for i, t in enumerate(chosen, 1)))

    def bullets(self) -> None:
        chosen = self.rng.sample(W.SENTENCES, self.rng.randint(2, 4))
        self.parts.append("\n".join(f"- {self.fill(t)}" for t in chosen))

    def note(self) -> None:
        self.parts.append(self.fill(self.rng.choice(W.NOTES)))

    def table(self, kind: str) -> None:
        r = self.rng
        if kind == "codes":
            rows = ["| Code | Meaning | What to do |", "|---|---|---|"]
            for _ in range(r.randint(3, 5)):
                s = self.slots()
                rows.append(f"| E-{r.randint(100, 999)} | The {self.product} {r.choice(W.SYMPTOMS)}"
                            f" | Check **{s['setting']}** under **{s['screen']}** |")
        elif kind == "plans":
            rows = ["| Plan | Monthly | Yearly | Video history |", "|---|---|---|---|"]
            for plan in r.sample(W.PLANS, 3):
                monthly = r.choice((2.99, 3.99, 4.99, 6.99, 9.99, 14.99))
                rows.append(f"| {plan} | ${monthly} | ${round(monthly * 10)} "
                            f"| {r.choice((7, 14, 30, 60))} days |")
        else:
            rows = ["| Specification | Value |", "|---|---|",
                    f"| Wi-Fi | 2.4 GHz 802.11b/g/n, {r.randint(1, 3)}x{r.randint(1, 3)} MIMO |",
                    f"| Battery | {r.randint(2, 10) * 1000} mAh rechargeable |",
                    f"| Operating temperature | -{r.randint(5, 30)} to {r.randint(35, 50)} °C |",
                    f"| Field of view | {r.randint(90, 180)}° diagonal |",
                    f"| Dimensions | {r.randint(40, 140)} x {r.randint(40, 140)} mm |"]
        self.parts.append("\n".join(rows))

    def heading(self, level: int, text: str) -> str:
        self.parts.append(f"{'#' * level} {text}")
        return text


def _howto(w: _Writer, title_bits: dict[str, str]) -> tuple[str, list[str]]:
    task = title_bits["task"]
    title = f"How to {task} on the {w.product}{title_bits['gen']}"
    w.paragraph(2)
    sections = [w.heading(2, "Before you start")]
    w.bullets()
    sections.append(w.heading(2, task.capitalize()))
    w.steps()
    w.paragraph()
    sections.append(w.heading(3, f"If the {w.product} is offline"))
    w.paragraph()
    w.note()
    return title, sections


def _troubleshoot(w: _Writer, title_bits: dict[str, str]) -> tuple[str, list[str]]:
    title = f"{w.product}{title_bits['gen']} {title_bits['symptom']}"
    w.paragraph(2)
    sections = [w.heading(2, "Why this happens")]
    w.paragraph()
    sections.append(w.heading(2, "Fix it"))
    w.steps()
    sections.append(w.heading(3, "Error codes"))
    w.table("codes")
    sections.append(w.heading(2, "Still not working?"))
    w.paragraph()
    w.note()
    return title, sections


def _specs(w: _Writer, title_bits: dict[str, str]) -> tuple[str, list[str]]:
    title = f"{w.product}{title_bits['gen']} technical specifications"
    w.paragraph(2)
    sections = [w.heading(2, "Specifications")]
    w.table("specs")
    sections.append(w.heading(2, "Compatibility"))
    w.paragraph()
    w.bullets()
    sections.append(w.heading(2, "Care and safety"))
    w.paragraph()
    return title, sections


def _policy(w: _Writer, title_bits: dict[str, str]) -> tuple[str, list[str]]:
    title = f"How to {title_bits['topic']} ({title_bits['plan']} plan, {title_bits['region']})"
    w.paragraph(2)
    sections = [w.heading(2, "Plans and prices")]
    w.table("plans")
    w.note()
    sections.append(w.heading(2, title_bits["topic"].capitalize()))
    w.steps()
    w.paragraph()
    sections.append(w.heading(3, "Questions we often get"))
    w.paragraph()
    return title, sections


def _integration(w: _Writer, title_bits: dict[str, str]) -> tuple[str, list[str]]:
    title = f"Use the {w.product}{title_bits['gen']} with {title_bits['integration']}"
    w.paragraph(2)
    sections = [w.heading(2, f"Link your Lumora account to {title_bits['integration']}")]
    w.steps()
    sections.append(w.heading(2, "What you can do"))
    w.bullets()
    w.paragraph()
    sections.append(w.heading(3, "Troubleshooting the link"))
    w.paragraph()
    return title, sections


_KINDS: dict[str, tuple[Callable[[_Writer, dict[str, str]], tuple[str, list[str]]], int]] = {
    "howto": (_howto, 1), "troubleshoot": (_troubleshoot, 2), "specs": (_specs, 0),
    "policy": (_policy, 4), "integration": (_integration, 5),
}


def article(i: int, *, seed: int = 7) -> SynthArticle:
    """The ``i``-th synthetic article of the help center seeded with ``seed``."""
    rng = random.Random(f"{seed}:{i}")
    kind = rng.choices(list(_KINDS), weights=(4, 4, 1, 2, 1))[0]
    write, cat_index = _KINDS[kind]
    product = rng.choice(W.PRODUCTS)
    if kind == "policy":
        cat_index = rng.choice((3, 4, 7))
    category, prefix = W.CATEGORIES[cat_index]
    topics = {3: W.ACCOUNT_TOPICS, 4: W.BILLING_TOPICS, 7: W.ORDER_TOPICS}.get(cat_index, ("",))
    bits = {"gen": rng.choice(W.GENERATIONS), "task": rng.choice(W.TASKS),
            "symptom": rng.choice(W.SYMPTOMS), "integration": rng.choice(W.INTEGRATIONS),
            "topic": rng.choice(topics), "plan": rng.choice(W.PLANS),
            "region": rng.choice(W.REGIONS)}
    writer = _Writer(rng, product)
    title, sections = write(writer, bits)
    status = rng.choices(("published", "draft", "archived"), weights=(95, 3, 2))[0]
    art_id = f"{prefix}-s{i:06d}"
    front = "\n".join([
        "---", f"id: {art_id}", f"title: {json.dumps(title)}", f"url: {URL}{art_id}",
        f"product: {writer.slug}", "locale: en-US", f"status: {status}",
        f"updated_at: 20{rng.randint(24, 26)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        f"tags: [{category}, {writer.slug}, {kind}]", "---"])
    body = "\n\n".join(writer.parts)
    questions = [Question(_title_question(kind, title, writer.product, bits), "title", art_id),
                 Question(f"{rng.choice(sections)} {writer.product}".lower(), "section", art_id)]
    return SynthArticle(art_id, category, title, status, f"{front}\n{body}\n", tuple(questions))


def _title_question(kind: str, title: str, product: str, bits: dict[str, str]) -> str:
    if kind == "howto":
        return f"how do I {bits['task']} on my {product}?"
    if kind == "troubleshoot":
        return f"my {product} {bits['symptom']}, what can I do?"
    if kind == "specs":
        return f"what are the specs of the {product}?"
    return f"{title}?"


def write_kb(root: Path, n: int, *, seed: int = 7) -> dict[str, object]:
    """Write ``n`` articles under ``root/kb`` and their questions to ``root/questions.jsonl``.

    Returns what was written; an existing complete set with the same parameters is kept.
    """
    marker = root / "kb.json"
    params = {"articles": n, "seed": seed, "generator_version": GENERATOR_VERSION}
    if marker.exists():
        info: dict[str, object] = json.loads(marker.read_text(encoding="utf-8"))
        if all(info.get(k) == v for k, v in params.items()):
            return info
    kb = root / "kb"
    shutil.rmtree(kb, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    published = 0
    with open(root / "questions.jsonl", "w", encoding="utf-8") as qfh:
        for i in range(n):
            a = article(i, seed=seed)
            folder = kb / a.category
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{a.id}.md").write_text(a.markdown, encoding="utf-8")
            if a.status == "published":
                published += 1
                for q in a.questions:
                    qfh.write(json.dumps(asdict(q)) + "\n")
    info = {**params, "published": published}
    marker.write_text(json.dumps(info), encoding="utf-8")
    return info


def sample_questions(path: Path, n: int, *, seed: int = 3,
                     off_topic_share: float = 0.1) -> list[Question]:
    """``n`` questions drawn from ``questions.jsonl``, about ``off_topic_share`` off-topic."""
    rng = random.Random(seed)
    pool = [Question(**json.loads(line))
            for line in path.read_text(encoding="utf-8").splitlines() if line]
    out = []
    for _ in range(n):
        if rng.random() < off_topic_share or not pool:
            out.append(Question(rng.choice(W.OFF_TOPIC), "off_topic"))
        else:
            out.append(rng.choice(pool))
    return out
