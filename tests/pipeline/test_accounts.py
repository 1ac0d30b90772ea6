"""Account linking rules: phone and domain normalization, chat metadata, lookups, conflicts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session

from core.errors import ErrorCode, HamsuError
from models.db import get_engine
from models.tables import Account
from pipeline.accounts import (
    chat_metadata_phones,
    check_claims,
    find_account,
    link_account,
    normalize_domain,
    normalize_phone,
    resolve_upload_account,
    upload_phone,
)
from tests.databases import database_url
from transcribe.types import Transcript, Turn


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("09121234567", "989121234567"),
        ("0912 123 4567", "989121234567"),
        ("+98 912 123 4567", "989121234567"),
        ("+98-912-123-4567", "989121234567"),
        ("0098 912 1234567", "989121234567"),
        ("989121234567", "989121234567"),
        ("9121234567", "989121234567"),
        ("۰۹۱۲۱۲۳۴۵۶۷", "989121234567"),  # Persian digits
        ("٠٩١٢١٢٣٤٥٦٧", "989121234567"),  # Arabic-Indic digits
        ("+۹۸ ۹۱۲ ۱۲۳ ۴۵۶۷", "989121234567"),
        ("021 8888 1234", "982188881234"),  # Tehran landline with its trunk 0
        ("+44 20 7946 0321", "442079460321"),
        ("+44 (0)20 7946 0321", "442079460321"),
        ("+1 (415) 555-0134", "14155550134"),
        ("tel:+4930123456", "4930123456"),
        ("\u200e+98 912 123 4567\u200f", "989121234567"),
    ],
)
def test_phone_numbers_are_normalized_to_digits_with_country_code(raw, expected):
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "12345", "abc", "0912-CALL-NOW", "+98 912 123 4567 ext 12", "+0"]
)
def test_things_that_are_not_phone_numbers_are_refused(raw):
    with pytest.raises(ValueError, match="phone number"):
        normalize_phone(raw)


def test_upload_phone_error_is_an_invalid_option():
    assert upload_phone(None) is None and upload_phone("  ") is None
    assert upload_phone("09121234567") == "989121234567"
    with pytest.raises(HamsuError) as info:
        upload_phone("not a number")
    assert info.value.code == ErrorCode.INVALID_OPTION and "phone" in info.value.message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Example.COM", "example.com"),
        ("@harborgoods.example.", "harborgoods.example"),
        ("j.okafor@HarborGoods.example", "harborgoods.example"),
        ("mail.co.uk", "mail.co.uk"),
        ("شرکت.ایران", "xn--pgbni38b.xn--mgba3a4f16a"),
    ],
)
def test_domains_are_normalized(raw, expected):
    assert normalize_domain(raw) == expected


@pytest.mark.parametrize("raw", ["", "localhost", "no spaces.com", "a..b", "-x.com", "x.123"])
def test_bad_domains_are_refused(raw):
    with pytest.raises(ValueError, match="domain"):
        normalize_domain(raw)


def test_chat_metadata_phones_skip_agents_and_messages():
    doc = {
        "channel": "chat",
        "customer": {"name": "Olivia", "phone": "+44 20 7946 0321", "email": "o@x.example"},
        "caller_id": "09121234567",
        "agent": {"phone": "+98 21 1111 2222"},
        "support_phone": "+98 21 3333 4444",
        "mobile": ["not a number", "0098 935 000 1111"],
        "messages": [{"from": "customer", "text": "my number is 09120000000", "phone": "x"}],
    }
    found = chat_metadata_phones(json.dumps(doc).encode())
    assert found == ["442079460321", "989121234567", "989350001111"]
    assert chat_metadata_phones(b"[09:12] Customer: hi") == []
    assert chat_metadata_phones(b'[{"from": "customer", "text": "hi"}]') == []
    assert chat_metadata_phones(b"\xff\xfe garbage") == []


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    with Session(get_engine(database_url(tmp_path))) as session:
        yield session


def _accounts(session: Session) -> tuple[Account, Account]:
    harbor = Account(
        name="Harbor Goods",
        external_id="CRM-1",
        domains=["harborgoods.example"],
        phones=["442079460321"],
    )
    payar = Account(name="Pardakht Yar", phones=["989121234567", "982188881234"])
    session.add_all([harbor, payar])
    session.commit()
    return harbor, payar


def test_explicit_name_and_phone_resolution_order(session):
    harbor, payar = _accounts(session)
    assert find_account(session, harbor.id) is harbor
    assert find_account(session, " CRM-1 ") is harbor
    assert find_account(session, "nope") is None
    # explicit id wins over the name and the phone
    got = resolve_upload_account(session, account_id="CRM-1", name="Other", phone="989121234567")
    assert got is harbor
    # the name wins over the phone; a new name is created
    got = resolve_upload_account(session, account_id=None, name=" New Co ", phone="989121234567")
    assert got is not None and got.name == "New Co" and got.id not in (harbor.id, payar.id)
    assert resolve_upload_account(session, account_id="", name=None, phone="989121234567") is payar
    assert resolve_upload_account(session, account_id=None, name=None, phone="98912") is None
    with pytest.raises(HamsuError) as info:
        resolve_upload_account(session, account_id="CRM-404", name="x", phone=None)
    assert info.value.code == ErrorCode.NOT_FOUND and "CRM-404" in info.value.message


def test_link_account_by_email_domain_then_metadata_phones(session):
    harbor, payar = _accounts(session)
    email = Transcript(
        channel="email",
        turns=[
            Turn(speaker="agent", text="hi", speaker_label="support@harborgoods.example"),
            Turn(speaker="customer", text="hello", speaker_label="J.Okafor@HarborGoods.example"),
        ],
    )
    assert link_account(session, email) is harbor
    # an agent's address does not link; phones are the fallback
    agent_only = Transcript(
        channel="chat",
        turns=[Turn(speaker="agent", text="hi", speaker_label="ravi@harborgoods.example")],
    )
    assert link_account(session, agent_only) is None
    assert link_account(session, agent_only, phones=["111", "982188881234"]) is payar
    # a domain beats a phone of another account
    assert link_account(session, email, phones=["989121234567"]) is harbor


def test_claims_conflict_with_other_accounts_only(session):
    harbor, payar = _accounts(session)
    check_claims(session, exclude_id=harbor.id, name="Harbor Goods", phones=["442079460321"])
    for kwargs, field in [
        ({"name": "Harbor Goods"}, "name"),
        ({"external_id": "CRM-1"}, "external_id"),
        ({"external_id": payar.id}, "external_id"),
        ({"domains": ["harborgoods.example"]}, "domain"),
        ({"phones": ["989121234567"]}, "phone"),
    ]:
        with pytest.raises(HamsuError) as info:
            check_claims(session, exclude_id=None, **kwargs)
        assert info.value.code == ErrorCode.CONFLICT
        assert info.value.details["field"] == field
    with pytest.raises(HamsuError):  # payar may not take harbor's phone
        check_claims(session, exclude_id=payar.id, phones=["442079460321"])
