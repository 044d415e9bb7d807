"""The authorisation matrix, generated from the routes (issue 17).

Every route of every service (ingest, annotate, trainer, monitor: the OpenAPI routes and the web pages,
read from the apps themselves) is called as each principal of :data:`authz_stack.PRINCIPALS`; what must
happen comes from the one table in :mod:`authz_table`.  A route that is not in the table fails the test:
nothing is added to a service without deciding who may call it.  (It supersedes annotate's hand-written
``tests/integration/test_authz_matrix.py``.)  ``AUTHZ_DISCOVER=1`` prints what every route answers today,
to help write a new table line; the line itself is a decision, not a copy of that output.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from authz_stack import DATASET, DOOMED, HOOK_BODY, OTHER, PRINCIPALS, WORKSPACE, Stack, iter_routes
from authz_table import ROUTES, Rule, matches

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
CONVERTER = re.compile(r"{(\w+):\w+}")


def discovered(stack: Stack) -> list[str]:
    """``service METHOD path``, a parameter's converter left out (``{model:path}`` is ``{model}``: the table names
    parameters, the converter is how the route reads one)."""
    routes = ((service, method, CONVERTER.sub(r"{\1}", path)) for service, app in stack.apps.items()
              for method, path in iter_routes(app))
    return sorted({f"{service} {method} {path}" for service, method, path in routes})


def url_for(stack: Stack, path: str, rule: Rule) -> str:
    values = {
        "workspace": WORKSPACE, "dataset": DATASET, "record_id": stack.ids["record"], "user_id": stack.ids["victim"],
        "key_id": stack.ids["victim_key"], "model": DATASET, "version": "1", "subscription_id": stack.ids["subscription"],
        "delivery_id": stack.ids["delivery"], **rule.params,
    }
    if rule.setup == "doomed_dataset":
        values["dataset"] = DOOMED
    if rule.setup == "doomed_webhook":
        values["subscription_id"] = stack.ids["doomed_subscription"]
    if rule.setup == "doomed_record":
        values["record_id"] = stack.ids["doomed_record"]
    return path.format(**values) + rule.query


def filled(stack: Stack, value: Any) -> Any:
    """The body with ``"{record_id}"`` / ``"{user_id}"`` placeholders replaced by the seeded ids."""
    if isinstance(value, dict):
        return {key: filled(stack, item) for key, item in value.items()}
    if isinstance(value, list):
        return [filled(stack, item) for item in value]
    if value == "{record_id}":
        return stack.ids["record"]
    if value == "{user_id}":
        return stack.ids["victim"]
    if value == "{doomed_record_id}":
        return stack.ids["doomed_record"]
    return value


async def prepare(stack: Stack, rule: Rule, principal: str) -> None:
    base = f"/api/v1/workspaces/{WORKSPACE}"
    record = f"{base}/datasets/{DATASET}/records/{stack.ids['record']}/response"
    if rule.setup == "own_response":
        await stack.call("annotate", "PUT", record, principal, {"status": "submitted", "values": {"sentiment": "pos"}})
    elif rule.setup == "victim_response":
        await stack.login("victim")
        answer = await stack.call("annotate", "PUT", record, "victim", {"status": "submitted", "values": {"sentiment": "pos"}})
        assert answer.status_code == 200, answer.text
    if rule.setup == "doomed_dataset":
        from authz_stack import DATASET_BODY

        made = await stack.call("annotate", "POST", f"{base}/datasets", "service", {**DATASET_BODY, "name": DOOMED})
        assert made.status_code in (201, 409), made.text
    elif rule.setup == "doomed_webhook":
        made = await stack.call("annotate", "POST", f"{base}/webhooks", "service",
                                {**HOOK_BODY, "url": f"{HOOK_BODY['url']}/doomed-{uuid.uuid4().hex[:8]}"})
        assert made.status_code == 201, made.text
        stack.ids["doomed_subscription"] = made.json()["id"]
    elif rule.setup == "doomed_record":
        made = await stack.records({"name": DATASET, "workspace": WORKSPACE}, ["a doomed film"], prefix=f"doomed-{uuid.uuid4().hex[:6]}-")
        stack.ids["doomed_record"] = made[0]
    elif rule.setup == "victim_member":
        await stack.login("setup_owner")  # only owners add an existing user; the owner's own session may have ended
        answer = await stack.call("annotate", "PUT", f"{base}/members/{stack.ids['victim']}", "setup_owner", {"role": "annotator"})
        assert answer.status_code == 200, answer.text


@pytest.mark.skipif(not __import__("os").environ.get("AUTHZ_DISCOVER"), reason="set AUTHZ_DISCOVER=1 to print what each route answers")
async def test_discover(stack: Stack) -> None:
    """A helper for writing the table: what every route answers today, per principal."""
    for route in discovered(stack):
        service, method, path = route.split(" ", 2)
        rule = ROUTES.get(route, Rule("public"))
        seen = []
        for principal in PRINCIPALS:
            await prepare(stack, rule, principal)
            answer = await stack.call(service, method, url_for(stack, path, rule), principal, filled(stack, rule.body_for(principal)), form=rule.form)
            seen.append(f"{answer.status_code}{'L' if '/login' in answer.headers.get('location', '') else ''}")
            if rule.relogin and principal in ("owner", "admin", "admin_other", "annotator"):
                await stack.login(principal)
        print(f"{route:90s} {' '.join(seen)}")


async def test_every_route_is_in_the_table(stack: Stack) -> None:
    missing = [route for route in discovered(stack) if route not in ROUTES]
    stale = [route for route in ROUTES if route not in discovered(stack)]
    assert not missing, "routes without an authorisation decision (add them to tests/security/authz_table.py):\n" + "\n".join(missing)
    assert not stale, "table entries for routes that no longer exist:\n" + "\n".join(stale)


async def test_authorisation_matrix(stack: Stack) -> None:
    routes = [route for route in discovered(stack) if route in ROUTES]
    print(f"\nauthorisation matrix: {len(routes)} routes × {len(PRINCIPALS)} principals = {len(routes) * len(PRINCIPALS)} calls")
    failures: list[str] = []
    for route in routes:
        service, method, path = route.split(" ", 2)
        rule = ROUTES[route]
        for principal in PRINCIPALS:
            await prepare(stack, rule, principal)
            answer = await stack.call(service, method, url_for(stack, path, rule), principal, filled(stack, rule.body_for(principal)), form=rule.form)
            expected = rule.expect(principal)
            if not matches(expected, answer):
                failures.append(f"{route} as {principal}: {answer.status_code} {answer.headers.get('location', '')} "
                                f"(expected {expected}) {answer.text[:120]!r}")
            if rule.relogin and principal in ("owner", "admin", "admin_other", "annotator"):
                await stack.login(principal)
    assert not failures, f"{len(failures)} unexpected outcomes:\n" + "\n".join(failures)


async def test_a_wrong_service_token_is_refused_everywhere(stack: Stack) -> None:
    stack.headers["forged_service"] = {"Authorization": "Bearer not-the-token-at-all-0123", "X-Claystream-Workspace": WORKSPACE}
    for service, url in (("annotate", f"/api/v1/workspaces/{WORKSPACE}/datasets"), ("ingest", "/api/v1/me"),
                         ("trainer", f"/api/v1/models/{DATASET}"), ("monitor", "/api/v1/models"), ("annotate", "/metrics")):
        assert (await stack.call(service, "GET", url, "forged_service")).status_code == 401, (service, url)


async def test_objects_of_another_workspace_are_not_found(stack: Stack) -> None:
    """A webhook subscription or delivery of another workspace, named through a workspace the caller administers,
    is not found: the matrix's principals only reach other workspaces by their name, this is the id mix-up."""
    ids = stack.ids
    mixed = [  # (principal, the workspace it administers, a subscription of the other workspace, a delivery)
        ("admin", WORKSPACE, ids["subscription_other"], ids["delivery_other"], ids["subscription"]),
        ("admin_other", OTHER, ids["subscription"], ids["delivery"], ids["subscription_other"]),
    ]
    for principal, workspace, foreign, foreign_delivery, own in mixed:
        hooks = f"/api/v1/workspaces/{workspace}/webhooks"
        for method, url in (
            ("GET", f"{hooks}/{foreign}"), ("PATCH", f"{hooks}/{foreign}"), ("DELETE", f"{hooks}/{foreign}"),
            ("POST", f"{hooks}/{foreign}/test"), ("GET", f"{hooks}/{foreign}/deliveries"),
            ("GET", f"{hooks}/{own}/deliveries/{foreign_delivery}"), ("POST", f"{hooks}/{own}/deliveries/{foreign_delivery}/replay"),
            ("GET", f"/webhooks/{workspace}/{foreign}"), ("POST", f"/webhooks/{workspace}/{foreign}/delete"),
            ("GET", f"/webhooks/{workspace}/{own}/deliveries/{foreign_delivery}"),
        ):
            body = {"description": "mixed up"} if method == "PATCH" else None
            answer = await stack.call("annotate", method, url, principal, body)
            assert answer.status_code == 404, (principal, method, url, answer.status_code, answer.text[:200])
        listed = (await stack.call("annotate", "GET", hooks, principal)).json()
        assert [hook["id"] for hook in listed if hook["id"] == foreign] == []


async def test_a_session_without_its_csrf_token_changes_nothing(stack: Stack) -> None:
    """Every state-changing annotate route (API and pages) refuses a session cookie sent without its CSRF token."""
    await stack.login("admin")
    stack.headers["admin_no_csrf"] = {"Cookie": stack.headers["admin"]["Cookie"]}
    sign_in = {"annotate POST /api/v1/auth/login", "annotate POST /login"}  # no session yet: nothing to forge
    changing = [r for r in discovered(stack) if r.startswith("annotate ") and r.split(" ")[1] in ("POST", "PUT", "PATCH", "DELETE")]
    refused = []
    for route in changing:
        if route in sign_in:
            continue
        _, method, path = route.split(" ", 2)
        rule = ROUTES[route]
        await prepare(stack, rule, "admin")
        answer = await stack.call("annotate", method, url_for(stack, path, rule), "admin_no_csrf",
                                  filled(stack, rule.body_for("admin")), form=rule.form)
        if answer.status_code != 403:
            refused.append(f"{route}: {answer.status_code} {answer.text[:120]!r}")
    assert len(changing) > 40
    assert not refused, "state-changing routes that did not refuse a missing CSRF token:\n" + "\n".join(refused)


async def test_records_of_another_workspace_are_never_changed(stack: Stack) -> None:
    """Record ids of workspace beta sent through alpha's dataset by alpha's admin change nothing in beta."""
    foreign = stack.ids["record_other"]
    dataset = f"/api/v1/workspaces/{WORKSPACE}/datasets/{DATASET}"
    patched = await stack.call("annotate", "PATCH", f"{dataset}/records", "admin", {"items": [{"id": foreign, "metadata": {"genre": "x"}}]})
    assert patched.status_code == 422 and patched.json()["errors"][0]["field"] == "id", patched.text
    imported = await stack.call("annotate", "POST", f"{dataset}/responses:import", "admin",
                                {"items": [{"record_id": foreign, "user": "victim", "values": {"sentiment": "pos"}}]})
    assert imported.status_code == 422 and imported.json()["errors"][0]["field"] == "record_id", imported.text
    deleted = await stack.call("annotate", "POST", f"{dataset}/records:delete", "admin", {"ids": [foreign]})
    assert deleted.status_code == 200 and deleted.json() == {"deleted": 0}, deleted.text
    assert (await stack.call("annotate", "DELETE", f"{dataset}/records/{foreign}", "admin")).status_code in (204, 404)
    kept = await stack.call("annotate", "GET", f"/api/v1/workspaces/{OTHER}/datasets/{DATASET}/records/{foreign}", "owner")
    assert kept.status_code == 200 and kept.json()["metadata"] == {"genre": "drama"} and kept.json()["responses"] == [], kept.text
