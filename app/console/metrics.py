"""The overview's figures: conversations, answered rate, fallbacks, thumbs, handoffs,
latency and the most cited articles over the last days, with a bar per day."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, text
from sqlmodel import Session, col, select

from app.models import Conversation, Feedback, Handoff, Message, utcnow

CHART_W, CHART_H = 560, 120


@dataclass
class Overview:
    days: int
    conversations: int = 0
    answers: int = 0
    answered: int = 0
    fallbacks: Counter[str] = field(default_factory=Counter)
    thumbs_up: int = 0
    thumbs_down: int = 0
    handoffs: int = 0
    p95_ms: float | None = None
    cited: list[tuple[str, str, int]] = field(default_factory=list)  # id, title, count
    at: datetime | None = None  # when the figures were computed
    bars: list[dict[str, Any]] = field(default_factory=list)

    @property
    def answered_rate(self) -> float | None:
        return self.answered / self.answers if self.answers else None


def percentile(values: list[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) by the nearest-rank method; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 1))  # ceil without importing math for one call
    return ordered[int(rank) - 1]


def _day(value: datetime) -> str:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).strftime("%Y-%m-%d")


def overview(session: Session, *, days: int, now: datetime | None = None) -> Overview:
    """The figures of the last ``days`` days, aggregated by the database."""
    now = now or utcnow()
    since = now - timedelta(days=days)
    out = Overview(days=days, at=now)
    out.conversations = int(session.exec(select(func.count()).select_from(Conversation)
                                         .where(col(Conversation.created) >= since)).one())
    replies = (Message.role == "assistant", col(Message.created) >= since)
    per_day: dict[str, list[int]] = {_day(since + timedelta(days=n + 1)): [0, 0]
                                     for n in range(days)}
    for day, answered, fell in session.exec(
            select(func.date(Message.created), func.count(col(Message.id)).filter(
                col(Message.fallback).is_(None)), func.count(col(Message.fallback)))
            .where(*replies).group_by(func.date(Message.created))).all():
        per_day[str(day)[:10]] = [int(answered), int(fell)]
        out.answered += int(answered)
        out.answers += int(answered) + int(fell)
    dialect = session.get_bind().dialect.name
    params = {"since": since}
    for reason, n in session.execute(text(_SQL[dialect]["reasons"]), params).all():
        out.fallbacks[str(reason or "fallback")] = int(n)
    out.p95_ms = _p95(session, dialect, params)
    out.cited = [(str(a), str(t or a), int(n)) for a, t, n in
                 session.execute(text(_SQL[dialect]["cited"]), params).all()]
    thumbs = dict(session.exec(select(Feedback.rating, func.count())
                               .where(col(Feedback.created) >= since)
                               .group_by(Feedback.rating)).all())
    out.thumbs_up, out.thumbs_down = int(thumbs.get("up", 0)), int(thumbs.get("down", 0))
    out.handoffs = int(session.exec(select(func.count()).select_from(Handoff)
                                    .where(col(Handoff.created) >= since)).one())
    out.bars = bars(per_day)
    return out


# JSON in text columns, read where it lies: PostgreSQL's jsonb operators, SQLite's JSON1.
_SQL = {
    "postgresql": {
        "reasons": "SELECT fallback::json->>'reason', count(*) FROM message WHERE role = "
                   "'assistant' AND created >= :since AND fallback IS NOT NULL GROUP BY 1",
        "p95": "SELECT percentile_disc(0.95) WITHIN GROUP (ORDER BY t) FROM (SELECT "
               "(timings::json->>'total')::float AS t FROM message WHERE role = 'assistant' "
               "AND created >= :since) s WHERE t IS NOT NULL",
        # An answer numbers each cited article once, so a row per (message, article).
        "cited": "SELECT c->>'article_id', max(c->>'title'), count(*) FROM message m, "
                 "json_array_elements(m.citations::json) c WHERE m.role = 'assistant' AND "
                 "m.created >= :since AND m.citations <> '[]' GROUP BY 1 ORDER BY 3 DESC, 1 "
                 "LIMIT 5",
    },
    "sqlite": {
        "reasons": "SELECT json_extract(fallback, '$.reason'), count(*) FROM message WHERE "
                   "role = 'assistant' AND created >= :since AND fallback IS NOT NULL "
                   "GROUP BY 1",
        "p95": "SELECT json_extract(timings, '$.total') FROM message WHERE role = 'assistant' "
               "AND created >= :since AND json_extract(timings, '$.total') IS NOT NULL",
        "cited": "SELECT json_extract(c.value, '$.article_id'), max(json_extract(c.value, "
                 "'$.title')), count(*) FROM message m, json_each(m.citations) c "
                 "WHERE m.role = 'assistant' AND m.created >= :since AND m.citations <> '[]' "
                 "GROUP BY 1 ORDER BY 3 DESC, 1 LIMIT 5",
    },
}


def _p95(session: Session, dialect: str, params: dict[str, Any]) -> float | None:
    rows = session.execute(text(_SQL[dialect]["p95"]), params).all()
    if dialect == "postgresql":
        return float(rows[0][0]) if rows and rows[0][0] is not None else None
    return percentile([float(r[0]) for r in rows], 0.95)


def bars(per_day: dict[str, list[int]]) -> list[dict[str, Any]]:
    """Stacked bars (answered below, fallbacks above) scaled into the chart's box."""
    days = sorted(per_day)[-60:]
    top = max((sum(per_day[d]) for d in days), default=0) or 1
    width = CHART_W / max(len(days), 1)
    out = []
    for n, day in enumerate(days):
        answered, fell = per_day[day]
        h_ans = CHART_H * answered / top
        h_fb = CHART_H * fell / top
        out.append({"day": day, "x": round(n * width + 1, 1), "w": round(max(width - 2, 1), 1),
                    "answered": answered, "fallbacks": fell,
                    "y_ans": round(CHART_H - h_ans, 1), "h_ans": round(h_ans, 1),
                    "y_fb": round(CHART_H - h_ans - h_fb, 1), "h_fb": round(h_fb, 1)})
    return out


_CACHE: dict[tuple[str, int], tuple[float, Overview]] = {}


def cached_overview(session: Session, *, days: int, ttl_s: float = 30.0) -> Overview:
    """:func:`overview`, computed at most once every ``ttl_s`` seconds per database and
    window: at 100,000 messages its aggregates take a few hundred milliseconds."""
    key = (str(session.get_bind().engine.url), days)
    hit = _CACHE.get(key)
    if hit is not None and time.monotonic() - hit[0] < ttl_s:
        return hit[1]
    figures = overview(session, days=days)
    _CACHE[key] = (time.monotonic(), figures)
    return figures
