"""Questions that are not gaps in the knowledge base: prompt-injection probes and abuse.

A support lead reads the knowledge-gaps page to decide what to write next; a customer asking
the assistant to ignore its instructions, to show its prompt or to role-play, or insulting
it, is not asking for an article. Such questions are grouped apart and not counted as gaps.
The patterns are English and German, like the sample help center.
"""

from __future__ import annotations

import re

_I = re.IGNORECASE
_PATTERNS = [re.compile(p, _I) for p in (
    # instructions to drop or replace the assistant's own
    r"\b(?:ignore|disregard|forget|override|bypass)\s+(?:all\s+|any\s+)?(?:(?:your|the|my)\s+)?"
    r"(?:(?:previous|prior|above|earlier|original|system|own)\s+)?(?:instructions?|rules|"
    r"prompts?|guidelines|restrictions|guardrails|everything)\b",
    r"\b(?:system|developer|hidden|initial|original)\s+(?:prompt|message|instructions?)\b",
    r"\b(?:reveal|show|print|repeat|output|leak|tell me)\b.{0,30}\b(?:your|the)\s+"
    r"(?:prompt|instructions|rules|configuration|api\s*keys?|secrets?)\b",
    r"\byou\s+are\s+(?:now|no\s+longer)\b", r"\b(?:pretend|act|behave)\s+(?:to\s+be|as|like)\b",
    r"\b(?:jailbreak|DAN mode|developer mode|god mode|prompt injection)\b",
    r"\brole-?play\b", r"</?\s*(?:system|assistant|instructions?)\s*>",
    r"\[\s*(?:system|INST)\s*\]",
    r"\bignoriere\b.{0,40}\b(?:anweisungen|regeln|vorgaben)\b", r"\bsystemprompt\b",
    # abuse aimed at the assistant or the company
    r"\b(?:fuck\w*|shit\w*|bitch\w*|bastard|asshole|idiot\w*|moron\w*|stupid bot|useless bot|"
    r"scheiß\w*|arschloch|idiot)\b",
    # attempts to make it write something unrelated that could be quoted back
    r"\b(?:write|compose)\s+(?:me\s+)?(?:a\s+)?(?:poem|song|essay|story|malware|virus|exploit)\b",
)]


def is_abuse(question: str) -> bool:
    """Whether ``question`` probes the assistant's instructions or is abuse, not a need."""
    return any(p.search(question) for p in _PATTERNS)
