from __future__ import annotations

import pytest

from app.rag.rewrite import LLMRewriter, rewrite_query
from tests.fake_openai import fake_openai_server

pytestmark = pytest.mark.integration

PREVIOUS = ["How do I cancel my Plus subscription?"]


def test_the_llm_rewrites_follow_ups_and_only_follow_ups():
    with fake_openai_server() as fake:
        rewriter = LLMRewriter(base_url=fake.base_url, api_key="k", model=fake.model)
        fake.script(reply="cancel annual Lumora Plus subscription\nextra line")
        assert rewriter.rewrite("and for the annual plan?", previous_questions=PREVIOUS) == \
            "cancel annual Lumora Plus subscription"
        sent = fake.last.messages[-1]["content"]
        assert "How do I cancel my Plus subscription?" in sent and "annual plan" in sent
        calls = len(fake.requests)
        standalone = "How do I reset the hub to factory settings?"
        assert rewriter.rewrite(standalone, previous_questions=PREVIOUS) == standalone
        assert len(fake.requests) == calls


@pytest.mark.parametrize("script", [{"status": 500}, {"delay_s": 2.0}, {"reply": ""}])
def test_a_failing_llm_falls_back_to_the_rules(script):
    with fake_openai_server() as fake:
        rewriter = LLMRewriter(base_url=fake.base_url, api_key="k", model=fake.model,
                               timeout_s=0.5)
        fake.script(**script)
        got = rewriter.rewrite("and for the annual plan?", previous_questions=PREVIOUS)
        assert got == rewrite_query("and for the annual plan?", previous_questions=PREVIOUS)
