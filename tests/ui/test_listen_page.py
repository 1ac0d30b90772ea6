"""The review desk's to-listen page and what a call's conversation page shows of the recogniser's
confidence, in Persian and English (HTTP, no browser)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from tests.api.conftest import make_key, make_settings
from tests.ui.test_pages import as_role


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> Any:
    settings = make_settings(tmp_path_factory.mktemp("listen-ui") / "var")
    with TestClient(create_app(settings, start_worker=False)) as client:
        keys = {role: make_key(settings, role) for role in ("admin", "csm", "uploader")}
        path = samples_dir / "calls" / "fa_call_internet.flac"
        conversation_id = client.post(
            "/v1/conversations",
            headers={"Authorization": f"Bearer {keys['admin']}"},
            files={"file": (path.name, path.read_bytes())},
            data={"account": "Parsnet customer"},
        ).json()["id"]
        client.app.state.worker.run_until_idle()  # type: ignore[attr-defined]
        yield client, keys, conversation_id


@pytest.mark.parametrize(("lang", "title"), [("fa", "باید شنیده شوند"), ("en", "to listen to")])
def test_the_to_listen_page_lists_the_held_call(desk, lang, title):
    client, keys, conversation_id = desk
    as_role(client, keys["csm"], lang)
    page = client.get("/listen")
    assert page.status_code == 200
    assert title in page.text
    assert f'data-conversation-id="{conversation_id}"' in page.text
    assert f'href="/conversations/{conversation_id}"' in page.text
    assert 'href="/listen"' in page.text  # the navigation offers it


def test_the_call_page_shows_confidence_and_the_hold(desk):
    client, keys, conversation_id = desk
    as_role(client, keys["csm"], "en")
    page = client.get(f"/conversations/{conversation_id}")
    assert page.status_code == 200
    assert 'data-held="true"' in page.text and "Held for listening" in page.text
    assert page.text.count('class="confidence low"') >= 1
    assert "Transcript confidence" in page.text


def test_confirming_from_the_page_takes_it_off_the_list(desk):
    client, keys, conversation_id = desk
    insights = client.get(
        f"/v1/conversations/{conversation_id}", headers={"Authorization": f"Bearer {keys['admin']}"}
    ).json()["insights"]
    held = [i["id"] for i in insights if i["needs_listening"]]
    assert held
    as_role(client, keys["csm"], "fa")
    for insight_id in held:
        assert f'data-conversation-id="{conversation_id}"' in client.get("/listen").text
        done = client.post(
            f"/ui/insights/{insight_id}/review",
            data={"verdict": "confirm", "conversation_id": conversation_id},
            follow_redirects=False,
        )
        assert done.status_code == 303
    # every held insight heard and confirmed: off the list, and routed as usual
    assert f'data-conversation-id="{conversation_id}"' not in client.get("/listen").text
    items = client.get(
        "/v1/queues/cs/items", headers={"Authorization": f"Bearer {keys['admin']}"}
    ).json()["items"]
    assert any(conversation_id in i["conversation_ids"] for i in items)


def test_an_uploader_may_not_open_the_list(desk):
    client, keys, _ = desk
    as_role(client, keys["uploader"], "en")
    assert client.get("/listen").status_code == 403
