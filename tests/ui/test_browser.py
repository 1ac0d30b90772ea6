"""The review desk in a real browser: Debian's chromium driven by Playwright against a real
uvicorn server with its worker. Sign-in, working a CS item end to end, the audio seeking to the
evidence, the Persian layout, role limits. Screenshots go to test-artifacts/.

Skipped, with the reason, where /usr/bin/chromium is missing (`.ci/run` installs it)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from api.main import create_app
from tests.api.conftest import make_key, make_settings
from tests.api.test_workflow import free_port

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="browser tests need Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]
JALALI_MONTH = "فروردین|اردیبهشت|خرداد|تیر|مرداد|شهریور|مهر|آبان|آذر|دی|بهمن|اسفند"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> Iterator[dict[str, Any]]:
    settings = make_settings(tmp_path_factory.mktemp("browser") / "var")
    app = create_app(settings, start_worker=True)
    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert uv.started
    base = f"http://127.0.0.1:{port}"
    keys = {role: make_key(settings, role, f"{role}-desk") for role in ("admin", "csm", "sales")}
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {keys['admin']}"})
    ids = {}
    for name, path in (
        ("chat", samples_dir / "chats" / "fa_churn.txt"),
        ("call", samples_dir / "calls" / "en_call_billing.wav"),
    ):
        ids[name] = api.post(
            "/v1/conversations",
            files={"file": (path.name, path.read_bytes())},
            data={"account": f"{name} account"},
        ).json()["id"]
    deadline = time.monotonic() + 120
    for conversation_id in ids.values():
        while time.monotonic() < deadline:
            status = api.get(f"/v1/conversations/{conversation_id}/status").json()["status"]
            if status in ("routed", "failed"):
                break
            time.sleep(0.2)
        assert status == "routed"
    yield {"base": base, "keys": keys, "ids": ids, "api": api}
    api.close()
    uv.should_exit = True
    thread.join(15)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, server: dict[str, Any]) -> Iterator[Any]:
    context = browser.new_context(base_url=server["base"], viewport={"width": 1280, "height": 900})
    # English first; the Persian test switches
    context.add_cookies([{"name": "hamsu_lang", "value": "en", "url": server["base"]}])
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"ui-{name}.png"), full_page=True)


def sign_in(page: Any, key: str) -> None:
    page.goto("/login")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/queues/"))


def test_sign_in_with_a_key(page, server):
    page.goto("/queues/cs")
    assert "/login" in page.url  # pages need sign-in
    assert "var/admin-key.txt" in page.content()
    shot(page, "login-en")
    page.get_by_label("API key").fill("hk_not_a_key")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").is_visible()
    sign_in(page, server["keys"]["csm"])
    assert page.url.endswith("/queues/cs")
    assert page.locator("tr.item").count() >= 1
    cookie = next(c for c in page.context.cookies() if c["name"] == "hamsu_key")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie").find("hamsu_key") == -1  # not readable by scripts
    shot(page, "inbox-en")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login"))
    page.goto("/queues/cs")
    assert "/login" in page.url


def test_work_a_cs_item_end_to_end(page, server):
    sign_in(page, server["keys"]["csm"])
    page.select_option("select[name=priority]", "high")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url(re.compile(r"priority=high"))
    row = page.locator("tr.item").first
    item_id = int(row.get_attribute("data-item-id"))
    row.locator("a.open-item").click()
    page.wait_for_url(re.compile(rf"/conversations/\w+\?item={item_id}"))
    csm = {"Authorization": f"Bearer {server['keys']['csm']}"}
    item = server["api"].get(f"/v1/queue-items/{item_id}", headers=csm).json()
    insight_id = item["insights"][0]["id"]
    assert page.locator("mark.evidence").count() >= 1
    # confirm the item's strongest insight
    page.locator(f"#insight-{insight_id} button[data-verdict=confirm]").click()
    page.wait_for_url(re.compile(r"flash=reviewed"))
    assert (
        page.locator(f"#insight-{insight_id} .chip.reviewed").get_attribute("data-verdict")
        == "confirm"
    )
    panel = page.locator(f"#item-{item_id}")
    panel.locator("button[data-action=claim]").click()
    page.wait_for_url(re.compile(r"flash=claim"))
    assert panel.locator("[data-status]").first.get_attribute("data-status") == "claimed"
    assert "csm-desk" in panel.inner_text()
    panel.get_by_label("Note").fill("called back, credit applied")
    panel.get_by_label("Outcome").fill("refunded")
    shot(page, "conversation-en")
    panel.locator("button[data-action=resolve]").click()
    page.wait_for_url(re.compile(r"flash=resolve"))
    assert panel.locator("[data-status]").first.get_attribute("data-status") == "resolved"
    after = server["api"].get(f"/v1/queue-items/{item_id}", headers=csm).json()
    assert after["status"] == "resolved" and after["assignee"] == "csm-desk"
    assert after["insights"][0]["review"]["verdict"] == "confirm"
    resolved = [e for e in after["history"] if e["action"] == "resolved"][-1]
    assert resolved["note"] == "called back, credit applied"
    assert resolved["data"]["outcome"] == "refunded"


def test_play_from_here_seeks_to_the_evidence(page, server):
    sign_in(page, server["keys"]["admin"])
    conversation_id = server["ids"]["call"]
    items = [
        item
        for queue in ("cs", "sales")
        for item in server["api"].get(f"/v1/queues/{queue}/items?status=all").json()["items"]
    ]
    found = [
        i
        for item in items
        for i in item["insights"]
        if i["conversation_id"] == conversation_id and i["start"]
    ]
    target = max(found, key=lambda i: i["start"])
    page.goto(f"/conversations/{conversation_id}")
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_function("document.getElementById('player').readyState >= 1")
    page.locator(f"#insight-{target['id']} button.play").click()
    position = page.evaluate(
        "() => { const a = document.getElementById('player'); a.pause(); return a.currentTime; }"
    )
    assert abs(position - target["start"]) <= 0.5, (position, target["start"])
    page.screenshot(path=str(ARTIFACTS / "ui-call-en.png"))
    # a turn's button seeks to the turn's start
    turn = page.locator("#turn-0 button.play")
    turn.click()
    position = page.evaluate(
        "() => { const a = document.getElementById('player'); a.pause(); return a.currentTime; }"
    )
    assert position <= 0.5


def test_persian_layout(page, server):
    sign_in(page, server["keys"]["admin"])
    page.locator("#lang-switch").click()
    page.wait_for_function("document.documentElement.lang === 'fa'")
    assert page.evaluate("document.dir") == "rtl"
    page.evaluate("document.fonts.ready")
    assert page.evaluate("document.fonts.check('16px Vazirmatn')")
    assert page.evaluate(
        "[...document.fonts].some(f => f.family.includes('Vazirmatn') && f.status === 'loaded')"
    )
    due = page.locator("tr.item time").first.inner_text()
    assert re.search(rf"[۰-۹]+ ({JALALI_MONTH}) [۰-۹]{{4}}", due), due
    shot(page, "inbox-fa")
    page.goto(f"/conversations/{server['ids']['chat']}")
    assert page.evaluate("document.dir") == "rtl"
    assert page.locator("p.text[dir=auto]").count() == page.locator("li.turn").count()
    shot(page, "conversation-fa")
    page.goto("/dashboard")
    assert page.locator("svg.chart").count() >= 1
    shot(page, "dashboard-fa")


def test_roles_limit_pages(page, server):
    sign_in(page, server["keys"]["sales"])
    assert page.url.endswith("/queues/sales")
    response = page.goto("/queues/cs")
    assert response.status == 403
    assert page.get_by_role("alert").is_visible()
    assert page.locator("nav a[href='/queues/cs']").count() == 0
    response = page.goto(f"/conversations/{server['ids']['chat']}")
    assert response.status == 403
