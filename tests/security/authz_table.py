"""THE table of the authorisation matrix: for every route of every service, who may call it.

One line per route ``"<service> <METHOD> <path>"`` → a :class:`Rule` naming a policy (what each
principal gets) and, where the route needs one, a request body, a query, a set-up step or a re-login.
Outcomes: ``ok`` (2xx, or a redirect that is not to the login page), ``login`` (a redirect to the login
page), or an exact status code (``401`` not authenticated, ``403`` authenticated but not allowed,
``404`` not found: other workspaces' objects are not revealed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

P = ("owner", "admin", "admin_other", "annotator", "key_admin", "key_annotator", "service", "anonymous")


def policy(*outcomes: str) -> dict[str, str]:
    assert len(outcomes) == len(P)
    return dict(zip(P, outcomes, strict=True))


#                          owner    admin    admin_other annotator key_admin key_annotator service anonymous
POLICIES: dict[str, dict[str, str]] = {
    "public":        policy("ok",    "ok",    "ok",    "ok",    "ok",    "ok",    "ok",    "ok"),
    # /metrics and the docs in production: a bearer token (the matrix runs the services with public_* off)
    "operator":      policy("401",   "401",   "401",   "401",   "401",   "401",   "ok",    "401"),
    "signed_in":     policy("ok",    "ok",    "ok",    "ok",    "ok",    "ok",    "ok",    "401"),
    "user_only":     policy("ok",    "ok",    "ok",    "ok",    "403",   "403",   "403",   "401"),
    "owner_only":    policy("ok",    "403",   "403",   "403",   "403",   "403",   "403",   "401"),
    # annotate, inside workspace alpha
    "member":        policy("ok",    "ok",    "404",   "ok",    "ok",    "ok",    "ok",    "401"),
    "admin":         policy("ok",    "ok",    "404",   "403",   "ok",    "403",   "ok",    "401"),
    # people and keys: admins (signed in), owners, services; never an API key
    "manager":       policy("ok",    "ok",    "404",   "403",   "403",   "403",   "ok",    "401"),
    # the annotate UI: signed-in users only; everyone else is sent to the login page
    "page":          policy("ok",    "ok",    "ok",    "ok",    "login", "login", "login", "login"),
    "page_member":   policy("ok",    "ok",    "404",   "ok",    "login", "login", "login", "login"),
    "page_admin":    policy("ok",    "ok",    "404",   "403",   "login", "login", "login", "login"),
    "page_admin_any": policy("ok",   "ok",    "ok",    "403",   "login", "login", "login", "login"),
    "page_logout":   policy("login", "login", "login", "login", "login", "login", "login", "login"),
    "login_form":    policy("403",   "403",   "403",   "403",   "403",   "403",   "403",   "403"),
    # ingest and trainer: machine APIs (API keys and the service token; sessions are not accepted)
    "machine":       policy("401",   "401",   "401",   "401",   "ok",    "ok",    "ok",    "401"),
    "machine_admin": policy("401",   "401",   "401",   "401",   "ok",    "403",   "ok",    "401"),
    # no model version 1 exists: allowed callers get 404, so only the 401s and 403s are checked here
    "machine_nomodel": policy("401", "401",   "401",   "401",   "404",   "404",   "404",   "401"),
    "machine_admin_nomodel": policy("401", "401", "401", "401",  "404",   "403",   "404",   "401"),
    "machine_admin_conflict": policy("401", "401", "401", "401", "409",   "403",   "409",   "401"),
    # the monitor: sessions, keys and the service token; no monitored model exists (404 when allowed)
    "monitor":       policy("ok",    "ok",    "ok",    "ok",    "ok",    "ok",    "ok",    "401"),
    "monitor_nomodel": policy("404", "404",   "404",   "404",   "404",   "404",   "404",   "401"),
}


@dataclass(frozen=True)
class Rule:
    policy: str
    body: Any = None  # a value, or a function of the principal's name
    form: bool = False  # send the body as an HTML form
    query: str = ""
    params: dict[str, str] = field(default_factory=dict)
    setup: str | None = None
    relogin: bool = False

    def expect(self, principal: str) -> str:
        return POLICIES[self.policy][principal]

    def body_for(self, principal: str) -> Any:
        return self.body(principal) if callable(self.body) else self.body


def matches(expected: str, answer: httpx.Response) -> bool:
    location = answer.headers.get("location", "")
    redirect = 300 <= answer.status_code < 400
    if expected == "ok":
        return 200 <= answer.status_code < 300 or (redirect and "/login" not in location)
    if expected == "login":
        return redirect and "/login" in location
    return str(answer.status_code) == expected


PASSWORDS = {"owner": "owner-password-1"}
DATASET_BODY = {"fields": [{"name": "text"}], "questions": [{"name": "sentiment", "type": "label", "labels": ["pos", "neg"]}]}
ANSWER = {"status": "submitted", "values": {"sentiment": "pos"}}
SERVICES = ("annotate", "ingest", "trainer", "monitor", "predict")
OPERATOR = {f"{service} GET {path}": Rule("operator") for service in SERVICES
            for path in ("/metrics", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json")}
PROBES = {f"{service} GET {path}": Rule("public") for service in SERVICES
          for path in ("/healthz", "/readyz")}
W = "/api/v1/workspaces/{workspace}"
D = W + "/datasets/{dataset}"
R = D + "/records/{record_id}"
U = W + "/users/{user_id}"
PAGE = "/datasets/{workspace}/{dataset}"
TEAM_U = "/team/{workspace}/users/{user_id}"
HOOK = W + "/webhooks/{subscription_id}"
HOOK_PAGE = "/webhooks/{workspace}/{subscription_id}"
HOOK_TARGET = "http://127.0.0.1:9/"  # loopback's discard port: allowed by the matrix's settings, refused when sent to


def _same_password(principal: str) -> dict[str, str]:
    password = PASSWORDS.get(principal, "member-password-1")
    return {"current_password": password, "new_password": password}


ROUTES: dict[str, Rule] = {
    **OPERATOR,
    **PROBES,
    # annotate: sessions and accounts
    "annotate POST /api/v1/auth/login": Rule("public", body={"username": "annotator-alpha", "password": "member-password-1"}),
    "annotate POST /api/v1/auth/logout": Rule("signed_in", relogin=True),
    "annotate GET /api/v1/me": Rule("signed_in"),
    "annotate PUT /api/v1/me/password": Rule("user_only", body=_same_password, relogin=True),
    "annotate POST /api/v1/me/sessions:end": Rule("user_only", relogin=True),
    # annotate: workspaces, people, keys
    "annotate GET /api/v1/workspaces": Rule("signed_in"),
    "annotate POST /api/v1/workspaces": Rule("owner_only", body=lambda p: {"name": f"ws-{p.replace('_', '-')}"}),
    f"annotate GET {W}/users": Rule("manager"),
    f"annotate POST {W}/users": Rule("manager", body=lambda p: {"username": f"made-{p}", "password": "member-password-1"}),
    f"annotate PUT {W}/members/{{user_id}}": Rule("manager", body={"role": "annotator"}, setup="victim_member"),
    f"annotate DELETE {W}/members/{{user_id}}": Rule("manager", setup="victim_member"),
    f"annotate POST {U}/disable": Rule("manager"),
    f"annotate POST {U}/enable": Rule("manager"),
    f"annotate PUT {U}/password": Rule("manager", body={"new_password": "member-password-1"}),
    f"annotate POST {U}/sessions:end": Rule("manager"),
    f"annotate GET {W}/api-keys": Rule("manager"),
    f"annotate POST {W}/api-keys": Rule("manager", body={"name": "matrix", "role": "annotator"}),
    f"annotate DELETE {W}/api-keys/{{key_id}}": Rule("manager"),
    # annotate: datasets, records, responses
    f"annotate GET {W}/datasets": Rule("member"),
    f"annotate POST {W}/datasets": Rule("admin", body=lambda p: {**DATASET_BODY, "name": f"made-{p.replace('_', '-')}"}),
    f"annotate GET {D}": Rule("member"),
    f"annotate PATCH {D}": Rule("admin", body={"guidelines": "set by the matrix"}),
    f"annotate DELETE {D}": Rule("admin", setup="doomed_dataset"),
    f"annotate GET {D}/training": Rule("member"),
    f"annotate GET {D}/records": Rule("member"),
    f"annotate GET {R}": Rule("member"),
    f"annotate GET {D}/queue/next": Rule("member"),
    f"annotate POST {D}/queue/release/{{record_id}}": Rule("member"),
    f"annotate POST {D}/queue/answer": Rule("member", body={"record_id": "{record_id}", **ANSWER}),
    f"annotate PUT {R}/response": Rule("member", body=ANSWER),
    f"annotate GET {R}/response": Rule("member", setup="own_response"),
    f"annotate DELETE {R}/response": Rule("member", setup="own_response"),
    f"annotate GET {R}/responses": Rule("member"),
    f"annotate GET {R}/responses/{{user_id}}": Rule("admin", setup="victim_response"),
    f"annotate POST {D}/responses:bulk": Rule("member", body={"record_ids": ["{record_id}"], **ANSWER}),
    f"annotate GET {D}/export": Rule("admin"),
    f"annotate GET {D}/metrics": Rule("admin"),
    # changing records after logging and importing answers in other people's names: admins, admin API keys
    # included (the SDK's dataset.records.log / update / delete use one); another workspace's record ids are
    # not touched (see test_objects_of_another_workspace_are_not_found)
    f"annotate PATCH {D}/records": Rule("admin", body={"items": [{"id": "{record_id}", "metadata": {"genre": "drama"}}]}),
    f"annotate POST {D}/records:delete": Rule("admin", body={"ids": ["{doomed_record_id}"]}, setup="doomed_record"),
    f"annotate DELETE {R}": Rule("admin", setup="doomed_record"),
    f"annotate POST {D}/responses:import": Rule("admin", body={"items": [
        {"record_id": "{record_id}", "user": "victim", "values": {"sentiment": "pos"}}]}),
    # the published limits: anyone with credentials (the SDK sizes its pages and batches from them)
    "annotate GET /api/v1/limits": Rule("signed_in"),
    # similarity search reads records like the listing does: members (here over the declared vector field "mini")
    f"annotate POST {D}/records/similar": Rule("member", body={"vector_field": "mini", "record_id": "{record_id}", "k": 1}),
    # outbox quarantine: the raw text of answers that never reached Kafka; workspace admins (admin keys read the
    # same data through the export already)
    f"annotate GET {W}/outbox-quarantine": Rule("admin"),
    # webhooks: a workspace's admins, admin API keys included (issue 15 asks for the SDK, which signs in with an
    # API key); another workspace's subscriptions are not found (see test_objects_of_another_workspace_are_not_found)
    "annotate GET /api/v1/webhook-event-types": Rule("signed_in"),
    f"annotate GET {W}/webhooks": Rule("admin"),
    f"annotate POST {W}/webhooks": Rule("admin", body=lambda p: {"url": f"{HOOK_TARGET}api-{p}", "event_types": ["drift.detected"]}),
    f"annotate GET {HOOK}": Rule("admin"),
    f"annotate PATCH {HOOK}": Rule("admin", body={"description": "set by the matrix"}),
    f"annotate DELETE {HOOK}": Rule("admin", setup="doomed_webhook"),
    f"annotate POST {HOOK}/test": Rule("admin"),
    f"annotate GET {HOOK}/deliveries": Rule("admin"),
    f"annotate GET {HOOK}/deliveries/{{delivery_id}}": Rule("admin"),
    f"annotate POST {HOOK}/deliveries/{{delivery_id}}/replay": Rule("admin"),
    # annotate: the web pages
    "annotate GET /login": Rule("public"),
    "annotate POST /login": Rule("login_form", body={"username": "owner", "password": "owner-password-1"}, form=True),
    "annotate POST /logout": Rule("page_logout", relogin=True),
    "annotate GET /": Rule("page"),
    "annotate GET /datasets/new": Rule("page_admin_any"),
    "annotate POST /datasets/new": Rule("page_admin", form=True, body=lambda p: {
        "workspace": "alpha", "name": f"page-{p.replace('_', '-')}", "labels": "pos, neg"}),
    f"annotate GET {PAGE}": Rule("page_member"),
    f"annotate GET {PAGE}/records/{{record_id}}": Rule("page_member"),
    f"annotate GET {PAGE}/records/{{record_id}}/similar": Rule("page_member"),
    f"annotate POST {PAGE}/records/{{record_id}}/response": Rule("page_member", form=True, body={"q.sentiment": "pos", "status": "submitted"}),
    f"annotate GET {PAGE}/progress": Rule("page_member"),
    f"annotate GET {PAGE}/training": Rule("page_member"),
    # bulk labelling writes the caller's own responses: members may use it
    f"annotate GET {PAGE}/records": Rule("page_member"),
    f"annotate POST {PAGE}/records/bulk": Rule("page_member", form=True, body={"label": "pos", "scope": "selected", "record_id": "{record_id}"}),
    f"annotate GET {PAGE}/settings": Rule("page_admin"),
    f"annotate POST {PAGE}/settings": Rule("page_admin", form=True, body={"guidelines": "from the page", "min_submitted": "1",
        "fields": '[{"name": "text"}]', "questions": '[{"name": "sentiment", "type": "label", "labels": ["pos", "neg"]}]',
        "metadata_properties": '[{"name": "genre", "type": "terms"}]', "trainer": '{"enabled": false}'}),
    f"annotate POST {PAGE}/delete": Rule("page_admin", form=True, body={"confirm_name": "doomed"}, setup="doomed_dataset"),
    f"annotate GET {PAGE}/metrics": Rule("page_admin"),
    "annotate GET /team": Rule("page_admin_any"),
    "annotate POST /team/{workspace}/users": Rule("page_admin", form=True, body=lambda p: {
        "username": f"team-{p}", "password": "member-password-1", "role": "annotator"}),
    "annotate POST /team/{workspace}/members": Rule("page_admin", form=True, body={"user_id": "{user_id}", "action": "add", "role": "annotator"},
                                                   setup="victim_member"),
    f"annotate POST {TEAM_U}/active": Rule("page_admin", form=True, body={"active": "1"}),
    f"annotate POST {TEAM_U}/password": Rule("page_admin", form=True, body={"new_password": "member-password-1"}),
    f"annotate POST {TEAM_U}/sessions": Rule("page_admin"),
    "annotate POST /team/{workspace}/api-keys": Rule("page_admin", form=True, body={"name": "from-the-page", "role": "annotator"}),
    "annotate POST /team/{workspace}/api-keys/{key_id}/revoke": Rule("page_admin"),
    "annotate GET /admin/quarantine": Rule("page_admin_any"),
    "annotate GET /webhooks": Rule("page_admin_any"),
    "annotate POST /webhooks/{workspace}": Rule("page_admin", form=True, body=lambda p: {
        "url": f"{HOOK_TARGET}page-{p}", "event_types": ["drift.detected"]}),
    f"annotate GET {HOOK_PAGE}": Rule("page_admin"),
    f"annotate GET {HOOK_PAGE}/deliveries": Rule("page_admin"),
    f"annotate GET {HOOK_PAGE}/deliveries/{{delivery_id}}": Rule("page_admin"),
    f"annotate POST {HOOK_PAGE}/test": Rule("page_admin"),
    f"annotate POST {HOOK_PAGE}/deliveries/{{delivery_id}}/replay": Rule("page_admin"),
    f"annotate POST {HOOK_PAGE}/enabled": Rule("page_admin", form=True, body={"enabled": "true"}),
    f"annotate POST {HOOK_PAGE}/delete": Rule("page_admin", setup="doomed_webhook"),
    "annotate GET /account": Rule("page"),
    "annotate POST /account/password": Rule("page", form=True, body=_same_password, relogin=True),
    "annotate POST /account/sessions": Rule("page", relogin=True),
    # ingest
    "ingest GET /api/v1/me": Rule("machine"),
    "ingest POST /api/v1/datasets/{dataset}/records:bulk": Rule("machine", body={"items": [{"external_id": "m1", "fields": {"text": "x"}}]}),
    "ingest POST /api/v1/predictions": Rule("machine", body={"request_id": "r1", "model": "reviews", "text": "x", "predicted_label": "pos"}),
    "ingest POST /api/v1/predictions:bulk": Rule("machine", body={"items": [{"request_id": "r1", "model": "reviews", "text": "x", "predicted_label": "pos"}]}),
    "ingest POST /api/v1/feedback": Rule("machine", body={"request_id": "r1", "model": "reviews", "true_label": "pos"}),
    "ingest POST /api/v1/feedback:bulk": Rule("machine", body={"items": [{"request_id": "r1", "model": "reviews", "true_label": "pos"}]}),
    "ingest GET /api/v1/limits": Rule("machine"),
    # trainer
    "trainer GET /api/v1/models/{dataset}": Rule("machine"),
    "trainer GET /api/v1/models/{dataset}/status": Rule("machine"),
    "trainer GET /api/v1/models/{dataset}/versions/{version}": Rule("machine_nomodel"),
    "trainer GET /api/v1/models/{dataset}/versions/{version}/metrics": Rule("machine_nomodel"),
    "trainer POST /api/v1/models/{dataset}/predict": Rule("machine_nomodel", body={"texts": ["a fine film"]}),
    # the predict replicas serve the same route on the same rules
    "predict POST /api/v1/models/{dataset}/predict": Rule("machine_nomodel", body={"texts": ["a fine film"]}),
    "trainer POST /api/v1/models/{dataset}/versions/{version}/promote": Rule("machine_admin_nomodel"),
    "trainer POST /api/v1/models/{dataset}/rollback": Rule("machine_admin_conflict"),
    # the matrix's dataset has no labels: an allowed caller is told so (409), the others get 401 / 403
    "trainer POST /api/v1/models/{dataset}/train": Rule("machine_admin_conflict", body={"kind": "refresh"}),
    # every record's embedding: annotate's similarity search calls it with the service token; admin keys may too
    "trainer GET /api/v1/models/{dataset}/embeddings": Rule("machine_admin"),
    # monitor
    "monitor GET /": Rule("public"),
    "monitor GET /api/v1/models": Rule("monitor"),
    "monitor GET /api/v1/models/{model}/overview": Rule("monitor_nomodel"),
    "monitor GET /dashboard": Rule("monitor"),
    "monitor GET /dashboard/fragments/models": Rule("monitor"),
    "monitor GET /dashboard/models/{model}": Rule("monitor_nomodel"),
    "monitor GET /dashboard/models/{model}/fragments/panels": Rule("monitor_nomodel"),
}
