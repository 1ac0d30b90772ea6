"""Which account a conversation belongs to.

At upload, in this order: an explicit account id (Account.id or Account.external_id), an account
name (created if new), the caller's phone number. When none of these names an account, the
customer's email domain (`link_account`, once the file is parsed) and, for JSON chats, phone
numbers in the chat's metadata.

Phone numbers are kept as digits with the country code and nothing else ("989121234567",
"442079460321"). A national number with a trunk 0 is taken as Iranian (Hamsu's home market):
09121234567 → 989121234567, 021 8888 1234 → 982188881234.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import String, cast
from sqlmodel import Session, col, select

from core.errors import ErrorCode, HamsuError
from models.tables import Account
from transcribe.types import Transcript

HOME_COUNTRY_CODE = "98"
# E.164 allows at most 15 digits; fewer than 8 with the country code is not a reachable number
MIN_PHONE_DIGITS, MAX_PHONE_DIGITS = 8, 15
_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")
# what people put between digits: spaces (also no-break and thin), dashes, dots, slashes, brackets
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212.()/\[\]]")
# direction marks that copying from right-to-left text leaves around numbers
_BIDI = re.compile(r"[\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_DOMAIN = re.compile(
    r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$"
)
# keys of a JSON chat's metadata that may hold the customer's phone number
_PHONE_KEYS = re.compile(r"phone|mobile|msisdn|caller|tel\b|telephone|cell|whatsapp", re.I)
_NOT_CUSTOMER_KEYS = re.compile(r"agent|operator|support|company|business", re.I)


def normalize_phone(value: str) -> str:
    """Digits with the country code; ValueError with a readable reason when it is no number.

    Accepts Persian and Arabic digits, spaces and punctuation, "+CC", "00CC", "tel:", and
    "+44 (0) 20 ..." (the bracketed trunk 0 is dropped).
    """
    text = _BIDI.sub("", str(value).translate(_DIGITS)).strip()
    if text.lower().startswith("tel:"):
        text = text[4:].strip()
    text = re.sub(r"^\+\s*(\d{1,3})\s*\(0\)", r"+\1", text)
    plus = text.startswith("+")
    digits = _SEPARATORS.sub("", text.removeprefix("+") if plus else text)
    if not digits.isdigit() or not digits.isascii():
        raise ValueError(f"{value!r} is not a phone number (only digits, spaces, - . ( ) and +)")
    if plus:
        normalized = digits
    elif digits.startswith("00"):
        normalized = digits[2:]
    elif digits.startswith("0"):
        normalized = HOME_COUNTRY_CODE + digits[1:]
    elif len(digits) == 10 and digits.startswith("9"):  # an Iranian mobile without its 0
        normalized = HOME_COUNTRY_CODE + digits
    else:
        normalized = digits
    if normalized.startswith("0") or not MIN_PHONE_DIGITS <= len(normalized) <= MAX_PHONE_DIGITS:
        raise ValueError(
            f"{value!r} is not a phone number: expected {MIN_PHONE_DIGITS} to "
            f"{MAX_PHONE_DIGITS} digits with the country code, like +98 912 123 4567 or "
            "09121234567"
        )
    return normalized


def normalize_domain(value: str) -> str:
    """A lower-case ASCII (IDNA) domain; "@Example.COM." → "example.com"; ValueError if none."""
    text = str(value).strip().lower().removeprefix("@").rstrip(".")
    if "@" in text:  # a whole address was given
        text = text.rsplit("@", 1)[1]
    try:
        text = text.encode("idna").decode("ascii")
    except (UnicodeError, ValueError):
        raise ValueError(f"{value!r} is not a domain name") from None
    if not _DOMAIN.match(text):
        raise ValueError(f"{value!r} is not a domain name like example.com")
    return text


def email_domain(address: str) -> str:
    if "@" not in address:
        return ""
    try:
        return normalize_domain(address)
    except ValueError:
        return address.rsplit("@", 1)[-1].strip().lower()


def find_account(session: Session, ref: str) -> Account | None:
    """The account whose id, else whose external (CRM) id, is `ref`."""
    ref = ref.strip()
    if not ref:
        return None
    account = session.get(Account, ref)
    if account is None:
        account = session.exec(select(Account).where(Account.external_id == ref)).first()
    return account


def _json_list_holds(column: Any, value: str) -> Any:
    """Prefilter: the JSON list column's text holds the quoted value (checked exactly after)."""
    return cast(column, String).ilike(f'%"{value}"%')


def accounts_with_phone(session: Session, phone: str) -> list[Account]:
    rows = session.exec(select(Account).where(_json_list_holds(col(Account.phones), phone))).all()
    return [a for a in rows if phone in (a.phones or [])]


def accounts_with_domain(session: Session, domain: str) -> list[Account]:
    rows = session.exec(select(Account).where(_json_list_holds(col(Account.domains), domain))).all()
    return [a for a in rows if domain in {d.lower() for d in a.domains or []}]


def account_by_phone(session: Session, phones: Iterable[str]) -> Account | None:
    """The (oldest) account that registered one of these normalized numbers, tried in order."""
    for phone in phones:
        found = sorted(accounts_with_phone(session, phone), key=lambda a: a.created_at)
        if found:
            return found[0]
    return None


def link_account(
    session: Session, transcript: Transcript, *, phones: Sequence[str] = ()
) -> Account | None:
    """The account whose registered email domain one of the customer's senders uses; failing
    that, the one that registered one of `phones` (normalized numbers, e.g. from chat
    metadata)."""
    domains = {
        email_domain(turn.speaker_label)
        for turn in transcript.turns
        if turn.speaker == "customer" and email_domain(turn.speaker_label)
    }
    for domain in sorted(domains):
        found = sorted(accounts_with_domain(session, domain), key=lambda a: a.created_at)
        if found:
            return found[0]
    return account_by_phone(session, phones)


def chat_metadata_phones(data: bytes) -> list[str]:
    """Normalized phone numbers in a JSON chat's metadata: top-level keys beside "messages" and
    one level of objects below them ({"customer": {"phone": ...}}); agents' numbers are skipped.
    Nothing for text chats, lists of messages or unreadable JSON."""
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return []
    if not isinstance(doc, dict):
        return []
    found: list[str] = []

    def collect(mapping: dict[str, Any], depth: int) -> None:
        for key, value in mapping.items():
            if key == "messages" or _NOT_CUSTOMER_KEYS.search(str(key)):
                continue
            if isinstance(value, dict) and depth == 0:
                collect(value, depth + 1)
            elif _PHONE_KEYS.search(str(key)):
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, str | int) and not isinstance(item, bool):
                        try:
                            phone = normalize_phone(str(item))
                        except ValueError:
                            continue
                        if phone not in found:
                            found.append(phone)

    collect(doc, 0)
    return found


def resolve_upload_account(
    session: Session,
    *,
    account_id: str | None,
    name: str | None,
    phone: str | None,
) -> Account | None:
    """The account named at upload: explicit id (unknown → NOT_FOUND), then name (created if
    new), then the caller's normalized phone number; None when nothing names one."""
    if account_id and account_id.strip():
        account = find_account(session, account_id)
        if account is None:
            raise HamsuError(
                ErrorCode.NOT_FOUND,
                f"account {account_id.strip()!r} not found: account_id must be the id or the "
                "external_id of an account created with POST /v1/accounts",
            ).with_details(account_id=account_id.strip())
        return account
    if name and name.strip():
        account = session.exec(select(Account).where(Account.name == name.strip())).first()
        if account is None:
            account = Account(name=name.strip())
            session.add(account)
            session.flush()
        return account
    if phone:
        return account_by_phone(session, [phone])
    return None


def upload_phone(value: str | None) -> str | None:
    """The caller's number given at upload, normalized; INVALID_OPTION when it is no number."""
    if value is None or not value.strip():
        return None
    try:
        return normalize_phone(value)
    except ValueError as exc:
        raise HamsuError(ErrorCode.INVALID_OPTION, f"phone: {exc}").with_details(
            phone=value
        ) from None


def link_chat_file(session: Session, path: Path, filename: str) -> Account | None:
    """A chat's account by its customer's email domain, then by phone numbers in its JSON
    metadata; a chat that does not parse is left to the worker to report."""
    from transcribe.chat import parse_chat

    data = path.read_bytes()
    phones = chat_metadata_phones(data)
    try:
        transcript = parse_chat(data, filename=filename)
    except HamsuError:
        return account_by_phone(session, phones)
    return link_account(session, transcript, phones=phones)


def check_claims(
    session: Session,
    *,
    exclude_id: str | None = None,
    name: str | None = None,
    external_id: str | None = None,
    domains: Sequence[str] = (),
    phones: Sequence[str] = (),
) -> None:
    """CONFLICT when another account already has this name, external id, a domain or a phone:
    each of them must name one account only, or linking would be a guess."""

    def conflict(field: str, value: str, other: Account) -> HamsuError:
        return HamsuError(
            ErrorCode.CONFLICT,
            f"{field} {value!r} already belongs to account {other.name!r} ({other.id})",
        ).with_details(field=field, value=value, account_id=other.id)

    def others(rows: Iterable[Account]) -> list[Account]:
        return [a for a in rows if a.id != exclude_id]

    if name is not None:
        for other in others(session.exec(select(Account).where(Account.name == name)).all()):
            raise conflict("name", name, other)
    if external_id is not None:
        same = session.exec(select(Account).where(Account.external_id == external_id)).all()
        by_id = session.get(Account, external_id)  # would make explicit linking ambiguous
        for other in others([*same, *([by_id] if by_id else [])]):
            raise conflict("external_id", external_id, other)
    for domain in domains:
        for other in others(accounts_with_domain(session, domain)):
            raise conflict("domain", domain, other)
    for phone in phones:
        for other in others(accounts_with_phone(session, phone)):
            raise conflict("phone", phone, other)
