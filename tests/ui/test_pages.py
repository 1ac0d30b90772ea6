"""The review desk's pages over HTTP (no browser): sign-in cookie, redirects, roles, actions,
the audio endpoint with Range requests, charset and language attributes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlmodel import Session

from api.main import create_app
from api.ui import dashboard, routes
from api.ui.dashboard import chart_points
from api.ui.desk import DeskAccess
from api.ui.routes import highlight
from models.db import get_engine
from models.tables import QueueItem
from tests.api.conftest import make_key, make_settings

ROLES = ("admin", "uploader", "csm", "sales")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> Any:
    settings = make_settings(tmp_path_factory.mktemp("ui") / "var")
    client = TestClient(create_app(settings, start_worker=False)).__enter__()
    keys = {role: make_key(settings, role) for role in ROLES}
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    ids = {}
    for name, path in (
        ("chat", samples_dir / "chats" / "fa_churn.txt"),
        ("lead", samples_dir / "chats" / "en_upsell.json"),
        ("call", samples_dir / "calls" / "en_call_billing.wav"),
    ):
        ids[name] = client.post(
            "/v1/conversations",
            headers=admin,
            files={"file": (path.name, path.read_bytes())},
            data={"account": f"{name} account"},
        ).json()["id"]
    client.app.state.worker.run_until_idle()  # type: ignore[attr-defined]
    yield client, keys, ids
    client.__exit__(None, None, None)


def as_role(client: TestClient, key: str | None, lang: str = "en") -> None:
    client.cookies.clear()
    if key:
        client.cookies.set("hamsu_key", key)
    client.cookies.set("hamsu_lang", lang)


def test_sign_in_sets_a_strict_httponly_cookie_and_sign_out_clears_it(world):
    client, keys, _ = world
    client.cookies.clear()
    bad = client.post("/login", data={"api_key": "hk_wrong"}, follow_redirects=False)
    assert bad.status_code == 401 and "hamsu_key" not in bad.headers.get("set-cookie", "")
    ok = client.post("/login", data={"api_key": keys["csm"]}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/queues/cs"
    cookie = ok.headers["set-cookie"].lower()
    assert "hamsu_key=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    out = client.post("/logout", follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert (
        'hamsu_key=""' in out.headers["set-cookie"]
        or "max-age=0" in out.headers["set-cookie"].lower()
    )


def test_login_page_says_where_the_admin_key_is(world):
    client, _, _ = world
    as_role(client, None, "en")
    page = client.get("/login")
    assert page.status_code == 200 and "var/admin-key.txt" in page.text
    assert page.headers["content-type"] == "text/html; charset=utf-8"


@pytest.mark.parametrize("path", ["/queues/cs", "/dashboard", "/upload", "/accounts/x"])
def test_pages_need_sign_in(world, path):
    client, _, _ = world
    as_role(client, None)
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


@pytest.mark.parametrize(
    ("role", "home"),
    [
        ("admin", "/queues/cs"),
        ("csm", "/queues/cs"),
        ("sales", "/queues/sales"),
        ("uploader", "/upload"),
    ],
)
def test_home_redirects_by_role(world, role, home):
    client, keys, _ = world
    as_role(client, keys[role])
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == home


def test_roles_apply_to_pages(world):
    client, keys, ids = world
    matrix = {
        "/queues/cs": {"admin": 200, "csm": 200, "sales": 403, "uploader": 403},
        "/queues/sales": {"admin": 200, "csm": 403, "sales": 200, "uploader": 403},
        f"/conversations/{ids['chat']}": {"admin": 200, "csm": 200, "sales": 403, "uploader": 403},
        "/dashboard": {"admin": 200, "csm": 200, "sales": 200, "uploader": 403},
    }
    for path, expected in matrix.items():
        for role, status in expected.items():
            as_role(client, keys[role])
            assert client.get(path).status_code == status, (path, role)


def test_persian_pages_are_rtl_with_jalali_dates_and_auto_direction(world):
    client, keys, ids = world
    as_role(client, keys["admin"], "fa")
    page = client.get("/queues/cs").text
    assert '<html lang="fa" dir="rtl">' in page
    assert re.search(
        r"[۰-۹]+ (فروردین|اردیبهشت|خرداد|تیر|مرداد|شهریور|مهر|آبان|آذر|دی|بهمن|اسفند) "
        r"[۰-۹]{4}",
        page,
    )
    conv = client.get(f"/conversations/{ids['chat']}").text
    # every turn and quote carries dir="auto"
    assert conv.count('class="text" dir="auto"') == conv.count('class="turn ')
    assert '<mark class="evidence">' in conv
    as_role(client, keys["admin"], "en")
    assert '<html lang="en" dir="ltr">' in client.get("/queues/cs").text


def test_language_switch_sets_the_cookie_and_returns(world):
    client, keys, _ = world
    as_role(client, keys["admin"])
    response = client.get("/lang/fa?next=/queues/sales", follow_redirects=False)
    assert response.headers["location"] == "/queues/sales"
    assert "hamsu_lang=fa" in response.headers["set-cookie"]
    evil = client.get("/lang/en?next=//evil.example", follow_redirects=False)
    assert evil.headers["location"] == "/"


def test_audio_streams_calls_with_range_and_404s_for_chats(world):
    client, keys, ids = world
    as_role(client, keys["admin"])
    partial = client.get(f"/v1/conversations/{ids['call']}/audio", headers={"Range": "bytes=0-99"})
    assert partial.status_code == 206 and len(partial.content) == 100
    assert partial.headers["content-type"].startswith("audio/")
    assert client.get(f"/v1/conversations/{ids['chat']}/audio").status_code == 404
    as_role(client, keys["sales"])
    assert client.get(f"/v1/conversations/{ids['chat']}/audio").status_code == 403
    as_role(client, None)
    assert client.get(f"/v1/conversations/{ids['call']}/audio").status_code == 401


def test_sales_works_a_lead_through_the_forms(world):
    client, keys, ids = world
    as_role(client, keys["sales"])
    item = client.get(
        "/v1/queues/sales/items", headers={"Authorization": f"Bearer {keys['sales']}"}
    ).json()["items"][0]
    conv = item["conversation_id"]
    claim = client.post(f"/ui/items/{item['id']}/claim", data={"conversation_id": conv})
    assert claim.status_code == 200 and 'data-status="claimed"' in claim.text
    done = client.post(
        f"/ui/items/{item['id']}/resolve",
        data={"conversation_id": conv, "note": "signed", "outcome": "won"},
    )
    assert done.status_code == 200
    detail = client.get(
        f"/v1/queue-items/{item['id']}", headers={"Authorization": f"Bearer {keys['sales']}"}
    ).json()
    assert detail["status"] == "resolved" and detail["history"][-1]["data"]["outcome"] == "won"
    again = client.post(f"/ui/items/{item['id']}/claim", data={"conversation_id": conv})
    assert again.status_code == 409  # shown as an error page, not a crash


def test_inbox_filters_and_marks_overdue_items(world):
    client, keys, _ = world
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    items = client.get("/v1/queues/cs/items", headers=admin).json()["items"]
    late = items[-1]["id"]
    settings = client.app.state.settings  # type: ignore[attr-defined]
    with Session(get_engine(settings.database_url)) as session:
        row = session.get(QueueItem, late)
        assert row is not None
        row.due_at = datetime.now(UTC) - timedelta(hours=1)
        session.add(row)
        session.commit()
    as_role(client, keys["csm"])
    page = client.get("/queues/cs?overdue=yes").text
    assert re.findall(r'data-item-id="(\d+)"', page) == [str(late)]
    assert 'class="item is-overdue"' in page and 'class="badge overdue"' in page
    rest = client.get("/queues/cs?overdue=no").text
    assert str(late) not in re.findall(r'data-item-id="(\d+)"', rest)
    kinds = client.get("/queues/cs?kind=churn_risk&status=all").text
    shown = re.findall(r'data-item-id="(\d+)"', kinds)
    expected = client.get("/v1/queues/cs/items?kind=churn_risk&status=all", headers=admin).json()[
        "items"
    ]
    assert shown == [str(i["id"]) for i in expected] and shown


def _calls(dependant: Dependant) -> list[Any]:
    return [d.call for d in dependant.dependencies] + [
        call for d in dependant.dependencies for call in _calls(d)
    ]


def test_every_desk_page_and_form_signs_in_through_one_dependency():
    public = {"/login", "/logout", "/lang/{lang}", "/"}
    desk = [
        route
        for route in [*routes.router.routes, *dashboard.router.routes]
        if isinstance(route, APIRoute) and route.path not in public
    ]
    assert len(desk) >= 8
    for route in desk:
        assert any(isinstance(call, DeskAccess) for call in _calls(route.dependant)), route.path


def test_forms_need_sign_in_and_a_desk_role(world):
    client, keys, ids = world
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    item = client.get("/v1/queues/cs/items", headers=admin).json()["items"][0]
    insight = item["insights"][0]["id"]
    posts = [
        (f"/ui/items/{item['id']}/claim", {"conversation_id": ids["chat"]}),
        (
            f"/ui/insights/{insight}/review",
            {"verdict": "confirm", "conversation_id": ids["chat"]},
        ),
    ]
    for path, data in posts:
        as_role(client, None)
        out = client.post(path, data=data, follow_redirects=False)
        assert out.status_code == 303 and out.headers["location"].startswith("/login?next=")
        as_role(client, keys["uploader"])
        denied = client.post(path, data=data, follow_redirects=False)
        assert denied.status_code == 403 and "text/html" in denied.headers["content-type"]
    unchanged = client.get(f"/v1/queue-items/{item['id']}", headers=admin).json()
    assert unchanged["status"] == item["status"] and unchanged["history"] == [
        e for e in unchanged["history"] if e["action"] in ("created", "attached")
    ]
    as_role(client, keys["uploader"])
    assert client.get("/upload").status_code == 200


def test_highlight_merges_spans():
    assert highlight("abcdef", [(1, 3), (2, 4)]) == [("a", False), ("bcd", True), ("ef", False)]
    assert highlight("abc", []) == [("abc", False)]
    assert highlight("abc", [(0, 99)]) == [("abc", True)]


def test_chart_points_scale_into_the_box():
    chart = chart_points([("a", -1.0), ("b", 1.0)], low=-1.0, high=1.0, width=100, height=100)
    assert [(p["x"], p["y"]) for p in chart["points"]] == [(24, 76), (76, 24)]
    assert chart["zero"] == 50
