"""Self-supervised help-center pairs: a sentence of a chunk asks for the rest of its chunk.

The help center's written questions and tickets give a few hundred labelled queries, far
fewer than a cross-encoder needs to learn the help center's vocabulary. The inverse cloze
task (Lee et al., 2019, "Latent Retrieval for Weakly Supervised Open Domain QA") makes more
from the articles alone: a sentence drawn from a chunk is the query, the chunk *without that
sentence* is the positive (so copying words cannot be the answer), and chunks of other
articles that the first stage ranks high for the sentence are the negatives. Only published
articles are used, never evaluation questions.
"""

from __future__ import annotations

import random
import re
import zlib
from collections.abc import Sequence
from dataclasses import replace

from ingest.models.reranker.helpcenter import ChunkSearch
from ingest.models.reranker.records import DataParams, Pair, family, pick_negatives

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
MIN_WORDS, MAX_WORDS = 6, 40


def plain(sentence: str) -> str:
    """A sentence as a person would type it: link text without the URL, no emphasis marks."""
    return " ".join(_LINK.sub(r"\1", sentence).replace("**", "").replace("`", "").split())


def sentences(text: str) -> list[str]:
    """Prose sentences of a chunk body (list items and table rows are lines of their own)."""
    out = []
    for line in text.splitlines():
        line = line.strip().lstrip("-*0123456789.) ").strip()
        if line.startswith(("|", "#")):
            continue
        out += [s.strip() for s in _SENTENCE.split(line)
                if MIN_WORDS <= len(s.split()) <= MAX_WORDS]
    return out


def cloze_pairs(search: ChunkSearch, *, params: DataParams, rng: random.Random) -> list[Pair]:
    """Up to ``params.cloze_per_chunk`` sentence queries for every chunk of two sentences+."""
    chunks = search.chunks
    families = [family(c.article_id) for c in chunks]
    pairs: list[Pair] = []
    for row, chunk in enumerate(chunks):
        found = sentences(chunk.text)
        if len(found) < 2:
            continue
        for sentence in rng.sample(found, min(params.cloze_per_chunk, len(found))):
            pairs += _sentence_pairs(search, row, sentence, families=families, params=params,
                                     rng=rng)
    return pairs


def _sentence_pairs(search: ChunkSearch, row: int, sentence: str, *, families: Sequence[str],
                    params: DataParams, rng: random.Random) -> list[Pair]:
    chunk = search.chunks[row]
    rest = replace(chunk, text=" ".join(chunk.text.replace(sentence, " ").split()))
    query = plain(sentence)
    ranked, sims = search.search(query, k=params.kb_pool)
    negatives = pick_negatives(ranked, doc_family=families, gold={families[row]},
                               query_sim=sims.tolist(), positive_sim=float(sims[row]),
                               margin=params.margin, hard=params.cloze_negatives, rand=1,
                               rng=rng)
    group = f"cloze:{chunk.chunk_id}:{zlib.crc32(sentence.encode('utf-8')):08x}"
    out = [Pair(query, rest.embedding_text(), 1.0, "cloze", group)]
    out += [Pair(query, search.chunks[r].embedding_text(), 0.0, "cloze", group)
            for r in negatives]
    return out
