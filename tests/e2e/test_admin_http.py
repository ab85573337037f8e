"""The admin API over real HTTP: keys on every route, articles reaching chat answers through
re-index jobs, rollback, tickets, audit and the unanswered-questions report (real model)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.admin_server import AUTH, admin_server, build_index

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

FIXTURE_KB = Path(__file__).resolve().parents[1] / "fixtures" / "kb"
ORBIT_Q = "How do I pair the Lumora Orbit speaker?"
ORBIT_MD = """---
id: orbit-001
title: Pair the Lumora Orbit speaker
url: https://help.example.test/articles/orbit-001
product: lumora-orbit
tags: [orbit, pairing]
---
To pair the Lumora Orbit speaker, hold its top button for 7 seconds until the ring pulses blue.
The Orbit then shows up in the app under Devices.
"""


@pytest.fixture(scope="module")
def golden(tmp_path_factory, embedder) -> Path:
    var = tmp_path_factory.mktemp("golden") / "var"
    build_index(var, [FIXTURE_KB], embedder)
    return var


@pytest.fixture()
def server(golden, tmp_path, embedder):
    with admin_server(golden, tmp_path / "var", embedder) as s:
        yield s


def cited(body: dict) -> set[str]:
    return {c["article_id"] for c in body["citations"]}


def admin_operations(url: str) -> list[tuple[str, str]]:
    schema = httpx.get(f"{url}/openapi.json").json()
    return [(method.upper(), path) for path, item in schema["paths"].items()
            if path.startswith("/v1/admin") for method in item]


def test_every_admin_route_refuses_missing_wrong_and_widget_keys(server):
    widget = server.call("POST", "/v1/admin/keys", json={
        "name": "site", "scope": "widget", "allowed_origins": ["https://help.example.test"]})
    assert widget.status_code == 201, widget.text
    operations = admin_operations(server.url)
    assert len(operations) >= 18, operations  # the enumeration really found the routes
    for method, path in operations:
        url = server.url + path.replace("{", "").replace("}", "")  # {article_id} -> article_id
        for headers, status in [({}, 401), ({"Authorization": "Bearer gla_wrong"}, 401),
                                ({"Authorization": "Basic YWRtaW46YWRtaW4="}, 401),
                                ({"Authorization": f"Bearer {widget.json()['key']}"}, 403)]:
            r = httpx.request(method, url, headers=headers, json={}, timeout=30)
            assert r.status_code == status, (method, path, headers, r.text)
            if status == 401:
                assert r.headers["www-authenticate"] == "Bearer"
    assert server.call("GET", "/v1/admin/keys").status_code == 200


def test_create_update_unpublish_publish_delete_each_reach_chat_answers(server):
    before = server.chat(ORBIT_Q)
    assert "orbit-001" not in cited(before)

    r = server.call("PUT", "/v1/admin/articles/orbit-001?reindex=true", content=ORBIT_MD,
                    headers={"content-type": "text/markdown"})
    assert r.status_code == 201, r.text
    assert r.json()["results"] == [{"id": "orbit-001", "result": "added", "status": "published"}]
    job = server.wait(r.json()["job"]["id"])
    assert job["status"] == "succeeded", job
    assert job["result"]["added"] == 1 and job["result"]["full_rebuild"] is False
    assert job["result"]["embedded"] == job["total"] == job["done"] >= 1
    assert job["result"]["unchanged"] >= 4 and job["progress"] == 1.0
    body = server.chat(ORBIT_Q)
    assert body["fallback"] is None and "orbit-001" in cited(body)
    assert "7 seconds" in body["answer"] and body["index_version"] == job["version"]

    article = server.call("GET", "/v1/admin/articles/orbit-001").json()
    assert article["source"] == "api" and article["index"]["current"] is True
    update = {"title": article["title"], "product": "lumora-orbit", "url": article["url"],
              "body": article["body"].replace("7 seconds", "12 seconds")}
    r = server.call("PUT", "/v1/admin/articles/orbit-001", json=update)
    assert r.status_code == 200 and r.json()["results"][0]["result"] == "updated"
    stale = server.call("GET", "/v1/admin/articles/orbit-001").json()
    assert stale["index"] == {"version": job["version"], "indexed": True, "current": False}
    job = server.reindex()
    assert job["result"]["updated"] == 1 and job["result"]["embedded"] >= 1
    assert job["result"]["embedded"] < job["result"]["chunks"]  # incremental
    body = server.chat(ORBIT_Q)
    assert "12 seconds" in body["answer"] and "7 seconds" not in body["answer"]

    r = server.call("POST", "/v1/admin/articles/orbit-001/unpublish?reindex=true")
    assert r.json()["results"][0]["status"] == "draft"
    job = server.wait(r.json()["job"]["id"])
    assert job["result"]["removed"] == 1 and job["result"]["embedded"] == 0
    assert "orbit-001" not in cited(server.chat(ORBIT_Q))
    served = server.state.index  # dense rows, BM25 columns and chunks are one list
    assert "orbit-001" not in served.articles
    assert served.dense.size == served.sparse.n_docs == len(served.chunks)
    assert all(c.article_id != "orbit-001" for c in served.chunks)
    assert server.call("GET", "/v1/admin/articles?status=draft").json()["total"] == 2

    r = server.call("POST", "/v1/admin/articles/orbit-001/publish?reindex=true")
    server.wait(r.json()["job"]["id"])
    assert "orbit-001" in cited(server.chat(ORBIT_Q))

    r = server.call("DELETE", "/v1/admin/articles/orbit-001?reindex=true")
    assert r.status_code == 200 and r.json()["results"][0]["result"] == "deleted"
    job = server.wait(r.json()["job"]["id"])
    assert job["result"]["removed"] == 1
    assert "orbit-001" not in cited(server.chat(ORBIT_Q))
    assert server.call("GET", "/v1/admin/articles/orbit-001").status_code == 404
    assert server.call("DELETE", "/v1/admin/articles/orbit-001").status_code == 404

    audit = server.call("GET", "/v1/admin/audit?target_id=orbit-001").json()
    assert [e["action"] for e in reversed(audit)] == [
        "article.create", "article.update", "article.unpublish", "article.publish",
        "article.delete"]
    assert {e["actor"] for e in audit} == {server.call("GET", "/v1/admin/keys").json()[0]["id"]}


def test_rollback_restores_the_previous_answers_and_activate_goes_forward(server):
    assert server.call("POST", "/v1/admin/index/rollback").status_code == 409  # one version
    server.call("PUT", "/v1/admin/articles/orbit-001", content=ORBIT_MD,
                headers={"content-type": "text/markdown"})
    first = server.reindex()
    server.call("PUT", "/v1/admin/articles/orbit-001",
                content=ORBIT_MD.replace("7 seconds", "12 seconds"),
                headers={"content-type": "text/markdown"})
    second = server.reindex()
    assert "12 seconds" in server.chat(ORBIT_Q)["answer"]

    r = server.call("POST", "/v1/admin/index/rollback")
    assert r.status_code == 200, r.text
    assert r.json() == {"serving": first["version"], "previous": second["version"]}
    body = server.chat(ORBIT_Q)
    assert "7 seconds" in body["answer"] and body["index_version"] == first["version"]
    listed = server.call("GET", "/v1/admin/index/versions").json()
    assert [v["name"] for v in listed][:2] == [second["version"], first["version"]]
    assert [v["name"] for v in listed if v["active"] and v["serving"]] == [first["version"]]

    r = server.call("POST", f"/v1/admin/index/versions/{second['version']}/activate")
    assert r.status_code == 200
    assert "12 seconds" in server.chat(ORBIT_Q)["answer"]
    assert server.call("POST", "/v1/admin/index/versions/nope/activate").status_code == 404
    actions = [e["action"] for e in server.call("GET", "/v1/admin/audit").json()]
    assert actions[:2] == ["index.activate", "index.rollback"]


def test_batch_accepts_every_format_and_is_all_or_nothing(server):
    html = ("<html lang='en'><head><meta name='kb:id' content='h-1'><title>Hub LED colours"
            "</title></head><body><article><h1>Hub LED colours</h1><p>Green means online."
            "</p></article></body></html>")
    batch = {"articles": [
        {"id": "j-1", "title": "Gift cards", "body": "Gift cards never expire.",
         "product": "shop", "locale": "en_gb", "status": "draft"},
        {"format": "markdown", "content": ORBIT_MD},
        {"format": "html", "content": html},
        {"format": "zendesk", "article": {"id": 77, "title": "Warranty", "locale": "de",
                                          "body": "<p>Two <b>years</b>.</p>",
                                          "label_names": ["product:lumora-hub", "warranty"]}},
    ]}
    r = server.call("POST", "/v1/admin/articles", json=batch)
    assert r.status_code == 200, r.text
    assert [x["result"] for x in r.json()["results"]] == ["added"] * 4
    assert r.json()["job"] is None
    zendesk = server.call("GET", "/v1/admin/articles/77").json()
    assert zendesk["body"] == "Two **years**." and zendesk["product"] == "lumora-hub"
    assert zendesk["locale"] == "de" and zendesk["tags"] == ["warranty"]
    assert server.call("GET", "/v1/admin/articles/j-1").json()["locale"] == "en-GB"
    again = server.call("POST", "/v1/admin/articles", json=batch).json()
    assert [x["result"] for x in again["results"]] == ["unchanged"] * 4

    bad = {"articles": [{"id": "ok-1", "title": "Fine", "body": "Fine text."},
                        {"id": "bad-1", "body": "No title."},
                        {"id": "bad-2", "title": "x", "body": "y", "status": "live"}]}
    r = server.call("POST", "/v1/admin/articles", json=bad)
    assert r.status_code == 422
    errors = r.json()["errors"]
    assert [(e["index"], e["id"], e["field"]) for e in errors] == [
        (1, "bad-1", "articles.1"), (2, "bad-2", "articles.2")]
    assert "title" in errors[0]["message"] and "status" in errors[1]["message"]
    assert server.call("GET", "/v1/admin/articles/ok-1").status_code == 404

    listed = server.call("GET", "/v1/admin/articles?source=api").json()
    assert {a["id"] for a in listed["items"]} == {"j-1", "orbit-001", "h-1", "77"}
    assert all("body" not in a for a in listed["items"])
    assert server.call("GET", "/v1/admin/articles?product=shop").json()["total"] == 1
    assert server.call("GET", "/v1/admin/articles?locale=de").json()["total"] == 1
    assert server.call("GET", "/v1/admin/articles?q=orbit").json()["items"][0]["id"] == "orbit-001"
    files = server.call("GET", "/v1/admin/articles?source=file&limit=2").json()
    assert files["total"] == 6 and len(files["items"]) == 2

    mismatch = server.call("PUT", "/v1/admin/articles/other-id", content=ORBIT_MD,
                           headers={"content-type": "text/markdown"})
    assert mismatch.status_code == 422 and "differs" in mismatch.json()["errors"][0]["message"]
    assert server.call("PUT", "/v1/admin/articles/x", content=b"x",
                       headers={"content-type": "image/png"}).status_code == 415
    missing = server.call("PUT", "/v1/admin/articles/x", json={"format": "html"})
    assert missing.status_code == 422


def test_tickets_are_redacted_on_the_way_in(server):
    ticket = {"id": 9001, "subject": "Refund for order LUM-2026-004512",
              "customer_message": "Hi, I'm Jane Roe, mail me at jane.roe@example.com or call "
                                  "+1 415 555 0199. My hub never arrived.",
              "agent_resolution": "Hi Jane, we refunded order LUM-2026-004512. Best, Sam",
              "customer_name": "Jane Roe", "resolved": True, "created_at": "2026-05-02"}
    r = server.call("POST", "/v1/admin/tickets?reindex=true", json={"tickets": [ticket]})
    assert r.status_code == 200, r.text
    assert r.json()["results"] == [{"id": "ticket-9001", "result": "added",
                                    "status": "published"}]
    job = server.wait(r.json()["job"]["id"])
    assert job["status"] == "succeeded" and job["result"]["added"] == 1
    stored = server.call("GET", "/v1/admin/articles/ticket-9001").json()
    text = stored["title"] + stored["body"]
    for secret in ("jane.roe@example.com", "555 0199", "Jane", "Roe", "LUM-2026-004512"):
        assert secret not in text
    assert stored["source_type"] == "ticket" and stored["index"]["current"] is True
    bad = server.call("POST", "/v1/admin/tickets", json={"tickets": [{"id": 1}]})
    assert bad.status_code == 422 and "customer_message" in bad.json()["errors"][0]["message"]
    assert "jane" not in bad.text.lower()


def test_full_rebuild_when_chunker_settings_change(golden, tmp_path, embedder):
    with admin_server(golden, tmp_path / "var", embedder,
                      chunker={"max_tokens": 120, "overlap_tokens": 16}) as server:
        assert httpx.get(f"{server.url}/readyz").status_code == 503
        r = server.call("POST", "/v1/admin/reindex", json={})
        job = server.wait(r.json()["id"])
        assert job["status"] == "succeeded", job
        assert job["result"]["full_rebuild"] is True
        assert "chunker" in job["result"]["full_rebuild_reason"]
        assert job["result"]["embedded"] == job["result"]["chunks"]
        assert httpx.get(f"{server.url}/readyz").status_code == 200
        again = server.reindex()
        assert again["status"] == "unchanged" and again["result"]["full_rebuild"] is False
        forced = server.reindex(rebuild=True)
        assert forced["result"]["full_rebuild_reason"] == "a full rebuild was requested"
        jobs = server.call("GET", "/v1/admin/jobs").json()
        assert [j["id"] for j in jobs] == [forced["id"], again["id"], job["id"]]


def test_unanswered_questions_are_grouped_with_closest_articles(server):
    for q in ("Can I pay with bitcoin?", "Do you accept bitcoin payments?",
              "Is paying in bitcoin possible?", "What is the capital of France?"):
        assert server.chat(q)["fallback"] is not None
    answered = server.chat("How long do refunds take after the warehouse receives my return?")
    assert answered["fallback"] is None
    r = httpx.post(f"{server.url}/v1/feedback", headers=AUTH, timeout=30,
                   json={"message_id": answered["message_id"], "rating": "down"})
    assert r.status_code == 201, r.text
    report = server.call("GET", "/v1/admin/unanswered").json()
    assert report["questions"] == 5 and report["grouping"] == "embedding cosine"
    top = report["groups"][0]
    assert top["count"] == 3 and "bitcoin" in top["question"].lower()
    assert sum(top["reasons"].values()) == 3 and len(top["message_ids"]) == 3
    down = [g for g in report["groups"] if "thumbs_down" in g["reasons"]]
    assert len(down) == 1 and down[0]["closest_articles"][0]["article_id"] == "t-returns"
    assert all(g["closest_articles"] for g in report["groups"])
