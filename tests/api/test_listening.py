"""Honest transcripts through the service: a Persian call the bundled recogniser cannot read is
held for listening (no queue item, on the to-listen list) until a person confirms or rejects it;
a clear English call holds nothing. Real Whisper, real detectors, real SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from core.settings import Settings
from tests.api.conftest import make_key, make_settings
from tests.api.test_conversations import drain, upload


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> Iterator[tuple]:
    settings: Settings = make_settings(tmp_path_factory.mktemp("listen") / "var")
    with TestClient(create_app(settings, start_worker=False)) as client:
        keys = {role: make_key(settings, role) for role in ("admin", "csm", "uploader")}
        client.headers["Authorization"] = f"Bearer {keys['admin']}"
        ids = {}
        for name in ("fa_call_internet.flac", "en_call_billing.wav"):
            response = upload(client, samples_dir / "calls" / name, language="auto")
            ids[name] = response.json()["id"]
        drain(client)
        yield client, keys, ids


def as_(keys: dict[str, str], role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {keys[role]}"}


def queue_items(client: TestClient, conversation_id: str) -> list[dict]:
    items = []
    for queue in ("cs", "sales"):
        page = client.get(f"/v1/queues/{queue}/items", params={"status": "all"}).json()
        items += [i for i in page["items"] if conversation_id in i["conversation_ids"]]
    return items


def test_an_unreadable_persian_call_is_held_not_routed(desk):
    client, _keys, ids = desk
    body = client.get(f"/v1/conversations/{ids['fa_call_internet.flac']}").json()
    assert body["status"] == "routed" and body["language"] == "fa"
    assert all(t["confidence"] is not None for t in body["turns"])
    assert body["insights"], "the complaint is still found"
    for insight in body["insights"]:
        assert insight["needs_listening"] is True
        assert insight["transcript_confidence"] < 0.6
    assert body["routes"] == []
    assert queue_items(client, body["id"]) == []


def test_a_clear_english_call_holds_nothing(desk):
    client, _keys, ids = desk
    body = client.get(f"/v1/conversations/{ids['en_call_billing.wav']}").json()
    assert body["insights"] and body["routes"]
    assert not any(i["needs_listening"] for i in body["insights"])
    assert {t["confidence"] > 0.8 for t in body["turns"] if t["speaker"] == "customer"} == {True}
    assert queue_items(client, body["id"])


def test_the_to_listen_list_and_its_roles(desk):
    client, keys, ids = desk
    listed = client.get("/v1/conversations", params={"needs_listening": "true"}).json()
    assert [c["id"] for c in listed] == [ids["fa_call_internet.flac"]]
    assert listed[0]["needs_listening"] is True
    everything = {c["id"]: c for c in client.get("/v1/conversations").json()}
    assert everything[ids["en_call_billing.wav"]]["needs_listening"] is False
    as_csm = client.get(
        "/v1/conversations", params={"needs_listening": "true"}, headers=as_(keys, "csm")
    )
    assert as_csm.status_code == 200 and len(as_csm.json()) == 1
    # a CSM reads the held conversation (it is in no queue yet) to listen to it
    held = client.get(f"/v1/conversations/{ids['fa_call_internet.flac']}", headers=as_(keys, "csm"))
    assert held.status_code == 200
    assert client.get("/v1/conversations", headers=as_(keys, "csm")).status_code == 403
    refused = client.get(
        "/v1/conversations", params={"needs_listening": "true"}, headers=as_(keys, "uploader")
    )
    assert refused.status_code == 403 and refused.json()["code"] == "E013_forbidden"


def test_listening_then_confirming_routes_it_and_rejecting_drops_it(desk):
    client, keys, ids = desk
    conversation_id = ids["fa_call_internet.flac"]
    page = client.get(f"/v1/conversations/{conversation_id}").json()
    first, *rest = [i["id"] for i in page["insights"]]
    confirmed = client.post(
        f"/v1/insights/{first}/reviews",
        json={"verdict": "confirm", "note": "listened: the line keeps dropping"},
        headers=as_(keys, "csm"),
    )
    assert confirmed.status_code == 201, confirmed.text
    items = queue_items(client, conversation_id)
    assert len(items) == 1 and items[0]["queue"] == "cs"
    for other in rest:
        rejected = client.post(
            f"/v1/insights/{other}/reviews", json={"verdict": "reject"}, headers=as_(keys, "csm")
        )
        assert rejected.status_code == 201
    assert len(queue_items(client, conversation_id)) == 1
    listed = client.get("/v1/conversations", params={"needs_listening": "true"}).json()
    assert listed == []
    # the fact that it needed listening stays on the insight
    after = client.get(f"/v1/conversations/{conversation_id}").json()
    assert all(i["needs_listening"] for i in after["insights"])
