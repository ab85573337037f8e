"""Content held for review, approved or rejected from the console, on a real server: an
approved document is indexed by the next re-index until its content changes."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from tests.console_helpers import make_scoped_keys, sign_in
from tests.public_helpers import app_for, index_fixture_kb, make_state
from tests.servers import serve

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

FLAGGED = {"title": "Camera warranty claims", "status": "published",
           "body": "Warranty claims for the camera are handled by our partner: file one at "
                   "https://warranty-partner.example/claims and expect an answer in 10 days."}


@pytest.fixture(scope="module")
def site(tmp_path_factory, embedder):
    var = tmp_path_factory.mktemp("var")
    settings, engine = index_fixture_kb(var, embedder)
    state = make_state(settings, engine, embedder)
    keys = make_scoped_keys(engine)
    with serve(app_for(settings, state)) as url:
        yield url, state, keys


def reindex(url: str, key: str) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    job = httpx.post(url + "/v1/admin/reindex", headers=headers).json()["id"]
    deadline = time.monotonic() + 60
    while httpx.get(url + f"/v1/admin/jobs/{job}", headers=headers).json()["status"] in (
            "queued", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.05)


def held_ids(url: str, key: str) -> set[str]:
    rows = httpx.get(url + "/v1/admin/held", headers={"Authorization": f"Bearer {key}"}).json()
    return {r["article_id"] for r in rows}


def test_approved_held_content_is_served_until_it_changes(site):
    url, state, keys = site
    auth = {"Authorization": f"Bearer {keys.editor}"}
    assert httpx.put(url + "/v1/admin/articles/t-warranty", json=FLAGGED,
                     headers=auth).status_code == 201
    reindex(url, keys.editor)
    assert "t-warranty" in held_ids(url, keys.viewer)
    assert "t-warranty" not in state.index.articles

    editor = sign_in(url, keys.editor)
    page = editor.client.get("/admin/held")
    assert "warranty-partner.example" in page.text and "Approve as it is" in page.text
    r = editor.client.post("/admin/held/t-warranty/approve", data={"csrf_token": editor.csrf})
    assert r.status_code == 303
    assert "t-warranty" not in held_ids(url, keys.viewer)
    reindex(url, keys.editor)
    assert "t-warranty" in state.index.articles

    changed = {**FLAGGED, "body": FLAGGED["body"] + " Keep your receipt."}
    httpx.put(url + "/v1/admin/articles/t-warranty", json=changed, headers=auth)
    assert "t-warranty" in held_ids(url, keys.viewer)  # an edit needs a new approval
    reindex(url, keys.editor)
    assert "t-warranty" not in state.index.articles

    r = editor.client.post("/admin/held/t-warranty/reject", data={"csrf_token": editor.csrf})
    assert r.status_code == 303 and "t-warranty" not in held_ids(url, keys.viewer)
    article = httpx.get(url + "/v1/admin/articles/t-warranty", headers=auth).json()
    assert article["status"] == "draft"


def test_the_api_approves_for_editors_only(site):
    url, _, keys = site
    path = url + "/v1/admin/held/t-returns/approve"
    assert httpx.post(path, headers={"Authorization": f"Bearer {keys.viewer}"}
                      ).status_code == 403
    assert httpx.post(path, headers={"Authorization": f"Bearer {keys.editor}"}
                      ).status_code == 204
    assert httpx.post(url + "/v1/admin/held/nope/approve",
                      headers={"Authorization": f"Bearer {keys.editor}"}).status_code == 404


def test_reindex_rollback_and_activate_from_the_console(site):
    url, state, keys = site
    admin = sign_in(url, keys.admin)
    article = {"title": "Night mode", "status": "published",
               "body": "The camera switches to night mode below 10 lux."}
    assert httpx.put(url + "/v1/admin/articles/t-night", json=article, headers={
        "Authorization": f"Bearer {keys.editor}"}).status_code in (200, 201)  # a new version
    r = admin.client.post("/admin/reindex", data={"csrf_token": admin.csrf},
                          headers={"HX-Request": "true"})
    assert r.status_code == 200 and 'hx-trigger="every 400ms"' in r.text  # polls while live
    job = re.search(r'data-job="(job_[0-9a-f]+)"', r.text).group(1)  # type: ignore[union-attr]
    deadline = time.monotonic() + 60
    fragment = admin.client.get(f"/admin/jobs/{job}").text
    while not re.search(r'data-status="(succeeded|unchanged)"', fragment):
        assert time.monotonic() < deadline and 'data-status="failed"' not in fragment
        time.sleep(0.1)
        fragment = admin.client.get(f"/admin/jobs/{job}").text
    assert "hx-trigger" not in fragment  # a finished job stops polling
    serving = state.index.name
    assert len(state.store.versions()) >= 2
    r = admin.client.post("/admin/index/rollback", data={"csrf_token": admin.csrf})
    assert r.status_code == 303 and r.headers["location"] == "/admin/index"
    assert state.index.name < serving
    page = admin.client.get("/admin/index").text
    assert f"/admin/index/versions/{serving}/activate" in page
    r = admin.client.post(f"/admin/index/versions/{serving}/activate",
                          data={"csrf_token": admin.csrf})
    assert r.status_code == 303 and state.index.name == serving
    r = admin.client.post("/admin/index/versions/no-such-version/activate",
                          data={"csrf_token": admin.csrf})
    assert "error=" in r.headers["location"]
    assert "no index version named" in admin.client.get(r.headers["location"]).text
