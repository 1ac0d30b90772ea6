"""Which account a conversation belongs to, when the uploader did not say."""

from __future__ import annotations

from sqlmodel import Session, select

from models.tables import Account
from transcribe.types import Transcript


def email_domain(address: str) -> str:
    return address.rsplit("@", 1)[-1].strip().lower() if "@" in address else ""


def link_account(session: Session, transcript: Transcript) -> Account | None:
    """The account whose registered email domain one of the customer's senders uses."""
    domains = {
        email_domain(turn.speaker_label)
        for turn in transcript.turns
        if turn.speaker == "customer" and email_domain(turn.speaker_label)
    }
    if not domains:
        return None
    for account in session.exec(select(Account)).all():
        if domains & {d.lower() for d in account.domains}:
            return account
    return None
