"""Every route, every role: 401 without a valid key, 403 for a role without the right, and
through for the roles that have it (the request itself may still be refused for other reasons)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from core.settings import WebhookSettings
from tests.api.conftest import make_key, make_settings

ROLES = ("admin", "uploader", "csm", "sales")
EVERYONE = set(ROLES)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> Any:
    settings = make_settings(tmp_path_factory.mktemp("roles") / "var")
    settings.webhooks = WebhookSettings(allow_private=["127.0.0.1/32"])
    client = TestClient(create_app(settings, start_worker=False)).__enter__()
    keys = {role: make_key(settings, role) for role in ROLES}
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    ids = {}
    lead_only = (
        b"Agent: Hello, how can I help you today?\n"
        b"Customer: We are hiring twenty people next month, so we need twenty more seats "
        b"and we would like to move up to the business plan.\n"
    )
    uploads = {
        "cs": ("fa_churn.txt", (samples_dir / "chats" / "fa_churn.txt").read_bytes()),
        "sales": ("lead.txt", lead_only),
    }
    for name, (filename, content) in uploads.items():
        ids[f"{name}_conversation"] = client.post(
            "/v1/conversations",
            headers=admin,
            files={"file": (filename, content)},
            data={"account": f"{name} account"},
        ).json()["id"]
    client.app.state.worker.run_until_idle()  # type: ignore[attr-defined]
    item = client.get("/v1/queues/cs/items", headers=admin).json()["items"][0]
    ids["item"] = item["id"]
    ids["insight"] = item["insights"][0]["id"]
    ids["account"] = item["account_id"]
    hook = client.post(
        "/v1/webhooks",
        headers=admin,
        json={"url": "http://127.0.0.1:9/hook", "events": ["queue_item.created"]},
    )
    ids["webhook"] = hook.json()["id"]
    client.post(f"/v1/webhooks/{ids['webhook']}/test", headers=admin)
    deliveries = client.get(f"/v1/webhooks/{ids['webhook']}/deliveries", headers=admin).json()
    ids["delivery"] = deliveries["items"][0]["id"] if deliveries.get("items") else 1
    yield client, keys, ids
    client.__exit__(None, None, None)


# (method, path template, json body, roles allowed besides admin)
ROUTES: list[tuple[str, str, Any, set[str]]] = [
    ("GET", "/v1/conversations", None, set()),
    ("GET", "/v1/conversations/{cs_conversation}", None, {"csm"}),
    ("GET", "/v1/conversations/{sales_conversation}", None, {"sales"}),
    ("GET", "/v1/conversations/{cs_conversation}/status", None, EVERYONE),
    ("GET", "/v1/conversations/{cs_conversation}/audio", None, {"csm"}),
    ("GET", "/v1/queues/cs/items", None, {"csm"}),
    ("GET", "/v1/queues/sales/items", None, {"sales"}),
    ("GET", "/v1/queue-items/{item}", None, {"csm"}),
    ("POST", "/v1/queue-items/{item}/notes", {"text": "called back"}, {"csm"}),
    ("POST", "/v1/queue-items/{item}/claim", {}, {"csm"}),
    ("POST", "/v1/queue-items/{item}/release", {}, {"csm"}),
    ("POST", "/v1/queue-items/{item}/resolve", {"note": "done"}, {"csm"}),
    ("POST", "/v1/queue-items/{item}/dismiss", {"reason": "duplicate"}, {"csm"}),
    ("GET", "/v1/insights/{insight}/reviews", None, {"csm"}),
    ("POST", "/v1/insights/{insight}/reviews", {"verdict": "confirm"}, {"csm"}),
    ("GET", "/v1/reviews/export", None, set()),
    ("GET", "/v1/accounts", None, {"csm", "sales"}),
    ("GET", "/v1/accounts/{account}", None, {"csm", "sales"}),
    ("POST", "/v1/accounts", {"name": "New Co"}, set()),
    ("PATCH", "/v1/accounts/{account}", {"tier": "enterprise"}, set()),
    ("GET", "/v1/webhooks", None, set()),
    (
        "POST",
        "/v1/webhooks",
        {"url": "http://127.0.0.1:9/x", "events": ["insight.reviewed"]},
        set(),
    ),
    ("GET", "/v1/webhooks/{webhook}", None, set()),
    ("PATCH", "/v1/webhooks/{webhook}", {"active": True}, set()),
    ("GET", "/v1/webhooks/{webhook}/deliveries", None, set()),
    ("GET", "/v1/webhooks/deliveries/{delivery}", None, set()),
    ("POST", "/v1/webhooks/deliveries/{delivery}/replay", None, set()),
    ("POST", "/v1/webhooks/{webhook}/test", None, set()),
    ("DELETE", "/v1/webhooks/{webhook}", None, set()),
]


def test_every_documented_route_is_in_the_matrix(world):
    client, _, _ = world
    documented = {(m.upper(), p) for p, ops in client.app.openapi()["paths"].items() for m in ops}
    covered = {
        (
            m,
            p.replace("{cs_conversation}", "{conversation_id}")
            .replace("{sales_conversation}", "{conversation_id}")
            .replace("{item}", "{item_id}")
            .replace("{insight}", "{insight_id}")
            .replace("{account}", "{account_id}")
            .replace("{webhook}", "{webhook_id}")
            .replace("{delivery}", "{delivery_id}")
            .replace("/v1/queues/cs/", "/v1/queues/{queue}/")
            .replace("/v1/queues/sales/", "/v1/queues/{queue}/"),
        )
        for m, p, _, _ in ROUTES
    }
    covered |= {("POST", "/v1/conversations"), ("GET", "/healthz"), ("GET", "/readyz")}
    assert documented - covered == set()


@pytest.mark.parametrize(
    ("method", "template", "body", "allowed"), ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES]
)
def test_roles(world, method, template, body, allowed):
    client, keys, ids = world
    path = template.format(**ids)
    kwargs = {"json": body} if body is not None else {}
    assert client.request(method, path, **kwargs).status_code == 401
    bad = client.request(method, path, headers={"Authorization": "Bearer hk_wrong"}, **kwargs)
    assert bad.status_code == 401 and bad.json()["code"] == "E012_unauthorized"
    for role in ROLES:
        response = client.request(
            method, path, headers={"Authorization": f"Bearer {keys[role]}"}, **kwargs
        )
        if role == "admin" or role in allowed:
            assert response.status_code not in (401, 403), (role, response.text)
        else:
            assert response.status_code == 403, (role, response.status_code, response.text)
            assert response.json()["code"] == "E013_forbidden"


def test_upload_is_for_uploaders_and_admins(world, samples_dir):
    client, keys, _ = world
    content = (samples_dir / "chats" / "en_upsell.json").read_bytes()
    assert client.post("/v1/conversations", files={"file": ("c.json", content)}).status_code == 401
    for role in ROLES:
        response = client.post(
            "/v1/conversations",
            files={"file": ("c.json", content)},
            headers={"X-API-Key": keys[role]},
        )
        expected = {403} if role in ("csm", "sales") else {200, 202}  # 200: a duplicate
        assert response.status_code in expected, (role, response.text)


def test_healthz_is_public(world):
    client, _, _ = world
    assert client.get("/healthz").status_code == 200
