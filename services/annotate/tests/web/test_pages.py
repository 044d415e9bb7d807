"""The HTML pages through the real app (in-process) on the embedded stack."""

from __future__ import annotations

import asyncio
import re
import sys
import uuid
from datetime import UTC, datetime

seed = sys.modules["claystream_annotate_web_seed"]  # loaded by conftest.py

HX = {"HX-Request": "true"}


def _name() -> str:
    return f"d{uuid.uuid4().hex[:10]}"


async def test_signed_out_pages_redirect_to_login(web_app) -> None:
    async with web_app.client() as client:
        response = await client.get("/datasets/default/x")
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=%2Fdatasets%2Fdefault%2Fx"
        fragment = await client.get("/", headers=HX)
        assert fragment.status_code == 401 and fragment.headers["HX-Redirect"].startswith("/login")
        # a fragment or a form POST returns to the page the user was on, never to itself (a bare fragment, a 405)
        page = "http://annotate.test/datasets/default/x?record=r1"
        poll = await client.get("/datasets/default/x/training", headers={**HX, "HX-Current-URL": page})
        assert poll.headers["HX-Redirect"] == "/login?next=%2Fdatasets%2Fdefault%2Fx%3Frecord%3Dr1"
        submit = await client.post("/datasets/default/x/records/r1/response", headers={"Referer": page})
        assert submit.status_code == 303 and submit.headers["location"] == "/login?next=%2Fdatasets%2Fdefault%2Fx%3Frecord%3Dr1"
        elsewhere = await client.post("/datasets/default/x/records/r1/response", headers={"Referer": "https://evil.example/p"})
        assert elsewhere.headers["location"] == "/login?next=%2F"


async def test_login_page_has_strict_security_headers_and_no_inline_script(web_app) -> None:
    async with web_app.client() as client:
        page = await client.get("/login")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "same-origin"
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.DOTALL)
    assert scripts and all('src="/static/ui/' in attrs and not body.strip() for attrs, body in scripts)


async def test_wrong_password_and_forged_login_form_are_refused(web_app) -> None:
    async with web_app.client() as client:
        page = await client.get("/login")
        token = seed.LOGIN_CSRF.search(page.text).group(1)
        wrong = await client.post("/login", data={"username": seed.OWNER[0], "password": "nope-nope", "csrf_token": token})
        assert wrong.status_code == 401 and "Wrong username or password" in wrong.text
        forged = await client.post("/login", data={"username": seed.OWNER[0], "password": seed.OWNER[1], "csrf_token": "forged"})
        assert forged.status_code == 403 and "claystream_session" not in forged.headers.get("set-cookie", "")


async def test_open_redirect_after_login_is_refused(web_app) -> None:
    async with web_app.client() as client:
        page = await client.get("/login")
        token = seed.LOGIN_CSRF.search(page.text).group(1)
        response = await client.post(
            "/login", data={"username": seed.OWNER[0], "password": seed.OWNER[1], "csrf_token": token, "next": "//evil.example/x"}
        )
        assert response.status_code == 303 and response.headers["location"] == "/"


async def test_dataset_list_shows_progress(web_app, owner_client) -> None:
    client, _ = owner_client
    name = _name()
    await seed.seed_dataset(web_app.deps, name, ["one", "two", "three"])
    page = await client.get("/")
    assert page.status_code == 200
    card = re.search(rf'data-dataset="{name}".*?</a>', page.text, re.DOTALL).group(0)
    assert '<progress value="0" max="3"' in card


async def test_annotation_flow_swaps_fragments_and_emits_events(web_app, owner_client) -> None:
    client, csrf = owner_client
    name = _name()
    _, ids = await seed.seed_dataset(
        web_app.deps, name, ["first review", "second review"], suggestions=[("positive", 0.91), ("negative", 0.7)]
    )
    page = await client.get(f"/datasets/default/{name}")
    assert page.status_code == 200
    first = re.search(r'<article id="record"[^>]*data-record-id="([^"]+)"', page.text).group(1)
    second = ids[1] if first == ids[0] else ids[0]
    # the suggestion is pre-selected and its score shown
    label, score = ("positive", "0.91") if first == ids[0] else ("negative", "0.70")
    assert re.search(rf'value="{label}"\s+checked data-hotkey="\d"', page.text)
    assert score in page.text
    assert "<strong>sentiment</strong>" in page.text  # guidelines rendered from markdown
    answer = await client.post(
        f"/datasets/default/{name}/records/{first}/response",
        data={"q.sentiment": "negative", "status": "submitted", "back": "", "forward": ""},
        headers={**HX, "X-CSRF-Token": csrf},
    )
    assert answer.status_code == 200, answer.text
    assert f'data-record-id="{second}"' in answer.text  # the next record is the main fragment
    assert 'id="questions" class="card" data-hotkey-busy hx-swap-oob="true"' in answer.text
    assert 'id="progress" class="card" hx-swap-oob="true"' in answer.text
    assert "<html" not in answer.text  # a fragment, not a page
    assert answer.headers["HX-Replace-Url"] == f"/datasets/default/{name}"
    stored = await web_app.deps.responses.get(f"{first}:{(await web_app.deps.users.by_username(seed.OWNER[0])).id}")
    assert stored.status == "submitted" and stored.values == {"sentiment": "negative"}
    for _ in range(50):
        events = [e for e in web_app.publisher.of_type("response.submitted") if e.data.record_id == first]
        if events:
            break
        await asyncio.sleep(0.1)
    assert events and events[0].data.values == {"sentiment": "negative"}
    # previous goes back to the answered record with the answer selected
    back = await client.get(f"/datasets/default/{name}/records/{first}?forward={second}", headers=HX)
    assert re.search(r'value="negative"\s+checked', back.text) and "your answer: submitted" in back.text
    # a forged trail never reaches an hx-get URL (issue 17 low)
    forged = await client.get(f"/datasets/default/{name}/records/{first}", params={"back": "../../../api/v1/me,x/y", "forward": "a?b"}, headers=HX)
    assert forged.status_code == 200 and "../" not in forged.text and "x/y" not in forged.text and "a?b" not in forged.text


async def test_state_changes_without_csrf_token_are_refused(web_app, owner_client) -> None:
    client, _ = owner_client
    name = _name()
    _, ids = await seed.seed_dataset(web_app.deps, name, ["text"])
    response = await client.post(f"/datasets/default/{name}/records/{ids[0]}/response", data={"q.sentiment": "positive"}, headers=HX)
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]
    wrong = await client.post(
        f"/datasets/default/{name}/records/{ids[0]}/response", data={"q.sentiment": "positive", "csrf_token": "wrong"}
    )
    assert wrong.status_code == 403


async def test_submit_without_a_label_shows_the_error_in_the_questions(web_app, owner_client) -> None:
    client, csrf = owner_client
    name = _name()
    _, ids = await seed.seed_dataset(web_app.deps, name, ["text"])
    response = await client.post(
        f"/datasets/default/{name}/records/{ids[0]}/response", data={"status": "submitted"}, headers={**HX, "X-CSRF-Token": csrf}
    )
    assert response.status_code == 422
    assert response.headers["HX-Retarget"] == "#questions"
    assert "values.sentiment: required to submit" in response.text


async def test_record_html_is_escaped_and_line_breaks_kept(web_app, owner_client) -> None:
    client, _ = owner_client
    name = _name()
    text = 'Great<br /><br />film <script>alert(1)</script><img src=x onerror="alert(2)">'
    _, ids = await seed.seed_dataset(web_app.deps, name, [text], metadata=[{"source": "<b onmouseover=alert(3)>x</b>"}])
    page = await client.get(f"/datasets/default/{name}/records/{ids[0]}")
    body = re.search(r'<div class="record-text" data-field="text">(.*?)</div>', page.text, re.DOTALL).group(1)
    assert body == "Great<br><br>film &lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=&#34;alert(2)&#34;&gt;"
    assert "<b onmouseover" not in page.text and "&lt;b onmouseover=alert(3)&gt;" in page.text


async def test_bulk_view_filters_and_labels_selected_and_matching(web_app, owner_client) -> None:
    client, csrf = owner_client
    name = _name()
    _, ids = await seed.seed_dataset(
        web_app.deps, name, ["alpha good", "beta bad", "gamma good", "delta good"],
        suggestions=[("positive", 0.9), ("negative", 0.8), ("positive", 0.6), ("positive", 0.95)],
    )
    base = f"/datasets/default/{name}/records"
    page = await client.get(base)
    assert page.status_code == 200 and page.text.count('name="record_id"') == 4
    filtered = await client.get(base, params={"q": "good", "suggested": "positive", "score_min": "0.7"}, headers={**HX, "HX-Target": "bulk-results"})
    assert filtered.text.count('name="record_id"') == 2 and "2 shown" in filtered.text
    assert "<html" not in filtered.text
    selected = await client.post(
        f"{base}/bulk", data={"scope": "selected", "label": "negative", "record_id": [ids[1]]}, headers={**HX, "X-CSRF-Token": csrf}
    )
    assert selected.status_code == 200 and "Applied <strong>negative</strong> to 1 record" in selected.text
    confirm = await client.post(
        f"{base}/bulk", data={"scope": "matching", "label": "positive", "q": "good"}, headers={**HX, "X-CSRF-Token": csrf}
    )
    assert '<strong id="confirm-count">3</strong>' in confirm.text
    owner = await web_app.deps.users.by_username(seed.OWNER[0])
    assert await web_app.deps.responses.get(f"{ids[0]}:{owner.id}") is None  # the dry run wrote nothing
    done = await client.post(
        f"{base}/bulk", data={"scope": "matching", "label": "positive", "q": "good", "confirm": "1"}, headers={**HX, "X-CSRF-Token": csrf}
    )
    assert "to 3 records (3 changed)" in done.text
    assert (await web_app.deps.responses.get(f"{ids[3]}:{owner.id}")).values == {"sentiment": "positive"}


async def test_bulk_view_applies_any_label_question_not_only_the_first(web_app, owner_client) -> None:
    client, csrf = owner_client
    name = _name()
    questions = [
        {"name": "sentiment", "type": "label", "labels": ["negative", "positive"], "required": False},
        {"name": "note", "type": "text", "required": False},
        {"name": "topics", "title": "Topics", "type": "multi_label", "labels": ["plot", "acting"], "required": False},
    ]
    _, ids = await seed.seed_dataset(web_app.deps, name, ["one", "two", "three"], questions=questions)
    base = f"/datasets/default/{name}/records"
    page = await client.get(base)
    assert 'value="topics=acting"' in page.text and 'value="sentiment=positive"' in page.text and "note=" not in page.text
    applied = await client.post(
        f"{base}/bulk", data={"scope": "selected", "target": "topics=acting", "record_id": ids[:2]}, headers={**HX, "X-CSRF-Token": csrf}
    )
    assert applied.status_code == 200 and "Applied <strong>acting</strong> to 2 records" in applied.text
    owner = await web_app.deps.users.by_username(seed.OWNER[0])
    assert (await web_app.deps.responses.get(f"{ids[0]}:{owner.id}")).values == {"topics": ["acting"]}
    confirm = await client.post(
        f"{base}/bulk", data={"scope": "matching", "target": "topics=plot", "q": "three"}, headers={**HX, "X-CSRF-Token": csrf}
    )
    assert "topics=plot" in confirm.text and '<strong id="confirm-count">1</strong>' in confirm.text
    refused = await client.post(
        f"{base}/bulk", data={"scope": "selected", "target": "note=hello", "record_id": ids[:1]}, headers={**HX, "X-CSRF-Token": csrf}
    )
    assert refused.status_code == 422


async def test_annotators_get_404_for_other_workspaces_and_403_for_settings(web_app) -> None:
    await web_app.deps.workspaces.create("elsewhere")
    name = _name()
    await seed.seed_dataset(web_app.deps, name, ["secret"], workspace="elsewhere")
    mine = _name()
    await seed.seed_dataset(web_app.deps, mine, ["mine"])
    username, password = await seed.add_user(web_app.deps)
    async with web_app.client() as client:
        await seed.sign_in(client, username, password)
        assert (await client.get(f"/datasets/elsewhere/{name}")).status_code == 404
        assert name not in (await client.get("/")).text
        assert (await client.get(f"/datasets/default/{mine}")).status_code == 200
        assert (await client.get(f"/datasets/default/{mine}/settings")).status_code == 403
        assert (await client.get("/team")).status_code == 403


async def test_settings_metrics_and_team_pages_for_owner(web_app, owner_client) -> None:
    client, csrf = owner_client
    name = _name()
    await seed.seed_dataset(web_app.deps, name, ["x", "y"])
    settings = await client.get(f"/datasets/default/{name}/settings")
    assert settings.status_code == 200 and 'name="questions"' in settings.text
    bad = await client.post(f"/datasets/default/{name}/settings", data={"csrf_token": csrf, "questions": "[not json", "min_submitted": "1"})
    assert bad.status_code == 422 and "questions: not valid JSON" in bad.text
    form = {"csrf_token": csrf, "guidelines": "# New rules", "min_submitted": "2"}
    for part in ("fields", "questions", "metadata_properties", "trainer"):
        form[part] = re.search(rf'name="{part}"[^>]*>(.*?)</textarea>', settings.text, re.DOTALL).group(1).replace("&#34;", '"')
    saved = await client.post(f"/datasets/default/{name}/settings", data=form)
    assert saved.status_code == 303, saved.text
    spec = await web_app.deps.datasets.get("default", name)
    assert spec["min_submitted"] == 2 and spec["guidelines"] == "# New rules"
    metrics = await client.get(f"/datasets/default/{name}/metrics")
    assert metrics.status_code == 200 and "Krippendorff" in metrics.text
    team = await client.get("/team")
    assert team.status_code == 200 and "owner" in team.text
    created = await client.post("/team/default/users", data={"csrf_token": csrf, "username": f"n{uuid.uuid4().hex[:6]}", "password": "long-enough-1", "role": "annotator"})
    assert created.status_code == 200 and "Created" in created.text


async def test_training_partial_polls_fast_while_a_run_is_in_progress(web_app, owner_client) -> None:
    client, _ = owner_client
    name = _name()
    await seed.seed_dataset(web_app.deps, name, ["x"])
    url = f"/datasets/default/{name}/training"
    idle = await client.get(url, headers=HX)
    assert 'data-state="idle"' in idle.text and 'hx-trigger="every 20s"' in idle.text
    await web_app.deps.model_events.add(
        event_id=str(uuid.uuid4()), workspace="default", dataset=name, event_type="training.progress",
        data={"run_id": "r1", "kind": "finetune", "step": 4, "total_steps": 10}, occurred_at=datetime.now(UTC),
    )
    running = await client.get(url, headers=HX)
    assert 'data-state="running"' in running.text and 'hx-trigger="every 2s"' in running.text
    assert '<progress value="4" max="10"' in running.text


async def test_after_the_last_record_the_page_says_all_done_and_can_go_back(web_app, owner_client) -> None:
    client, csrf = owner_client
    name = _name()
    _, ids = await seed.seed_dataset(web_app.deps, name, ["only one"])
    done = await client.post(
        f"/datasets/default/{name}/records/{ids[0]}/response",
        data={"q.sentiment": "positive", "status": "draft"},
        headers={**HX, "X-CSRF-Token": csrf},
    )
    assert done.status_code == 200 and "All caught up" in done.text
    assert f'/datasets/default/{name}/records/{ids[0]}?back=' in done.text  # the Previous button
    again = await client.get(f"/datasets/default/{name}/records/{ids[0]}")
    assert "your answer: draft" in again.text and re.search(r'value="positive"\s+checked', again.text)


async def test_new_dataset_form_creates_or_names_the_bad_field(web_app, owner_client) -> None:
    client, csrf = owner_client
    name = _name()
    form = {"csrf_token": csrf, "workspace": "default", "name": name, "question": "sentiment", "question_type": "label", "labels": "neg, pos"}
    created = await client.post("/datasets/new", data=form)
    assert created.status_code == 303 and created.headers["location"] == f"/datasets/default/{name}/settings"
    assert (await web_app.deps.datasets.get("default", name))["questions"][0]["labels"] == ["neg", "pos"]
    bad = await client.post("/datasets/new", data={**form, "name": _name(), "labels": "only-one"})
    assert bad.status_code == 422 and "questions" in bad.text and "at least two distinct labels" in bad.text
    taken = await client.post("/datasets/new", data=form)
    assert taken.status_code == 422 and "exists already" in taken.text
    spans = _name()
    made = await client.post("/datasets/new", data={**form, "name": spans, "question": "entities", "question_type": "span", "labels": "PER, LOC"})
    assert made.status_code == 303
    question = (await web_app.deps.datasets.get("default", spans))["questions"][0]
    assert (question["type"], question["labels"], question["field"]) == ("span", ["PER", "LOC"], "text")
    form_page = await client.get("/datasets/new")
    assert all(f'<option value="{kind}"' in form_page.text for kind in ("label", "multi_label", "rating", "text", "span", "ranking"))


async def test_signing_in_from_the_monitor_dashboard_returns_to_it(embedded_stack) -> None:  # type: ignore[no-untyped-def]
    """The monitor sends signed-out users to annotate's login with its own absolute URL as ``next``; only same-site
    paths were kept, so they landed on annotate's dataset list.  The monitor's origin (``monitor_url``) is trusted,
    no other."""
    import httpx
    from claystream_annotate.main import create_app
    from claystream_common.ports import RecordingPublisher

    settings = seed.settings_for(embedded_stack, f"web{uuid.uuid4().hex[:8]}", consumers_enabled="false",
                                 monitor_url="http://monitor:8003", monitor_public_url="http://127.0.0.1:8003")
    app = create_app(settings, publisher=RecordingPublisher())
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000") as client:
            for wanted, landing in (("http://127.0.0.1:8003/dashboard?model=x", "http://127.0.0.1:8003/dashboard?model=x"),
                                    ("https://evil.example/dashboard", "/"), ("//evil.example/x", "/"),
                                    ("http://127.0.0.1:8003@evil.example/", "/"), ("/datasets", "/datasets")):
                page = await client.get("/login", params={"next": wanted})
                assert f'name="next" value="{landing}"' in page.text.replace("&amp;", "&"), (wanted, landing)
                # browsers apply form-action to where the form's POST redirects: Chromium blocked the way back
                form_action = page.headers["content-security-policy"].split("form-action")[1].split(";")[0].split()
                assert form_action == (["'self'", "http://127.0.0.1:8003"] if landing.startswith("http") else ["'self'"])
                token = seed.LOGIN_CSRF.search(page.text).group(1)
                answer = await client.post("/login", data={"username": seed.OWNER[0], "password": seed.OWNER[1],
                                                           "csrf_token": token, "next": wanted})
                assert answer.status_code == 303 and answer.headers["location"] == landing, (wanted, answer.headers)
                client.cookies.clear()  # signed out again for the next case
