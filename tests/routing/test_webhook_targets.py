"""Webhook targets whose IPv6 address embeds a private or loopback IPv4 address (6to4, NAT64,
Teredo, IPv4-mapped) are refused at creation and again at delivery, unless allow-listed."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlmodel import Session

from api.main import create_app
from core.errors import ErrorCode, HamsuError
from core.settings import Settings, WebhookSettings
from models.db import get_engine
from models.tables import WebhookDelivery, WebhookSubscription
from routing.events import emit
from routing.webhooks import WebhookSender, generate_secret, validate_target
from tests.api.conftest import make_key, make_settings

SIX_TO_FOUR_LOOPBACK = "http://[2002:7f00:1::]/"  # 6to4 of 127.0.0.1


class Item(BaseModel):
    id: int


@pytest.mark.parametrize(
    ("url", "words"),
    [
        (SIX_TO_FOUR_LOOPBACK, "6to4 address embedding the loopback address 127.0.0.1"),
        ("http://[2002:a00:5::1]:8080/hook", "6to4 address embedding the private address 10.0.0.5"),
        ("http://[64:ff9b::7f00:1]/", "NAT64 address embedding the loopback address 127.0.0.1"),
        ("http://[64:ff9b::a9fe:a9fe]/", "embedding the link-local address 169.254.169.254"),
        (
            "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",  # Teredo, client 127.0.0.1
            "Teredo address embedding the loopback address 127.0.0.1",
        ),
        ("http://[::ffff:127.0.0.1]/", "IPv4-mapped address embedding the loopback address"),
    ],
)
def test_addresses_embedding_a_private_ipv4_are_refused(url, words):
    with pytest.raises(HamsuError) as caught:
        validate_target(url, [])
    assert caught.value.code == ErrorCode.INVALID_WEBHOOK_TARGET
    assert words in caught.value.message


def test_embedded_public_addresses_and_allow_lists_pass():
    validate_target("http://[2002:5db8:d822::1]/hook", [])  # 6to4 of 93.184.216.34
    # allow-listing the IPv4 address allows its embedded forms, as allow-listing the IPv6 does
    validate_target(SIX_TO_FOUR_LOOPBACK, ["127.0.0.1/32"])
    validate_target(SIX_TO_FOUR_LOOPBACK, ["2002:7f00::/24"])
    validate_target("http://[::ffff:127.0.0.1]/", ["127.0.0.0/8"])
    with pytest.raises(HamsuError):
        validate_target(SIX_TO_FOUR_LOOPBACK, ["10.0.0.0/8"])


def _settings(data_dir: Path) -> Settings:
    return make_settings(data_dir).model_copy(
        update={"webhooks": WebhookSettings(timeout_s=2.0, max_attempts=3)}
    )


def test_refused_at_creation(tmp_path):
    settings = _settings(tmp_path / "var")
    with TestClient(create_app(settings, start_worker=False)) as client:
        client.headers["Authorization"] = f"Bearer {make_key(settings, 'admin')}"
        response = client.post(
            "/v1/webhooks", json={"url": SIX_TO_FOUR_LOOPBACK, "events": ["queue_item.created"]}
        )
    assert response.status_code == 422
    assert response.json()["code"] == ErrorCode.INVALID_WEBHOOK_TARGET
    assert "127.0.0.1" in response.json()["message"]


def test_refused_at_delivery_for_a_subscription_stored_before_the_check(tmp_path):
    settings = _settings(tmp_path / "var")
    engine = get_engine(settings.database_url)
    with Session(engine) as session:
        # as a version without this check stored it: the row is there, the target never checked
        session.add(
            WebhookSubscription(
                url=SIX_TO_FOUR_LOOPBACK, events=["queue_item.created"], secret=generate_secret()
            )
        )
        session.commit()
        emit(session, "queue_item.created", Item(id=1))
        session.commit()

    assert WebhookSender(settings).run_due() == 1
    with Session(engine) as session:
        delivery = session.get(WebhookDelivery, 1)
        assert delivery is not None
    assert delivery.status == "pending" and delivery.last_status_code is None
    assert delivery.last_error is not None
    assert delivery.last_error.startswith("target refused: 2002:7f00:1:: is a 6to4 address")
