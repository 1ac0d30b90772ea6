"""Accounts (v1): create and change them, list them, and one account's timeline, open items and
sentiment trend. Fields may be added; none is renamed."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.schemas.queues import QueueItemPublic
from core.labels import InsightKind
from pipeline.accounts import normalize_domain, normalize_phone

_TIER_HELP = "matched by routing rules (`match: {tier: ...}`)"
_DOMAINS_HELP = "email domains of the customer; emails from them link to the account"
_PHONES_HELP = (
    "the customer's phone numbers in any common form (09…, +98…, 0098…, +44 …, Persian digits); "
    "stored as digits with the country code; uploads with `phone` link to the account"
)
_EXTERNAL_HELP = "the customer's id in the company's CRM; uploads may name the account by it"


def _clean_text(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def _domains(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    out: list[str] = []
    for value in values:
        domain = normalize_domain(value)
        if domain not in out:
            out.append(domain)
    return out


def _phones(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    out: list[str] = []
    for value in values:
        phone = normalize_phone(value)
        if phone not in out:
            out.append(phone)
    return out


class AccountCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Harbor Goods",
                    "external_id": "CRM-10442",
                    "tier": "enterprise",
                    "domains": ["harborgoods.example"],
                    "phones": ["+44 20 7946 0321"],
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=200, examples=["Harbor Goods"])
    external_id: str | None = Field(
        default=None, max_length=200, description=_EXTERNAL_HELP, examples=["CRM-10442"]
    )
    tier: str = Field(
        default="standard",
        min_length=1,
        max_length=50,
        description=_TIER_HELP,
        examples=["enterprise"],
    )
    domains: list[str] = Field(
        default_factory=list,
        max_length=100,
        description=_DOMAINS_HELP,
        examples=[["harborgoods.example"]],
    )
    phones: list[str] = Field(
        default_factory=list,
        max_length=100,
        description=_PHONES_HELP,
        examples=[["+44 20 7946 0321", "09121234567"]],
    )

    _strip = field_validator("name", "external_id", "tier", mode="before")(_clean_text)

    @field_validator("external_id")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("domains")
    @classmethod
    def _check_domains(cls, value: list[str]) -> list[str]:
        return _domains(value) or []

    @field_validator("phones")
    @classmethod
    def _check_phones(cls, value: list[str]) -> list[str]:
        return _phones(value) or []


class AccountUpdate(BaseModel):
    """Only the fields sent change; `domains` and `phones` replace the whole list;
    `external_id: null` removes it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"tier": "enterprise", "phones": ["09121234567"]}]},
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    external_id: str | None = Field(default=None, max_length=200, description=_EXTERNAL_HELP)
    tier: str | None = Field(default=None, min_length=1, max_length=50, description=_TIER_HELP)
    domains: list[str] | None = Field(default=None, max_length=100, description=_DOMAINS_HELP)
    phones: list[str] | None = Field(default=None, max_length=100, description=_PHONES_HELP)

    _strip = field_validator("name", "external_id", "tier", mode="before")(_clean_text)

    @field_validator("external_id")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("domains")
    @classmethod
    def _check_domains(cls, value: list[str] | None) -> list[str] | None:
        return _domains(value)

    @field_validator("phones")
    @classmethod
    def _check_phones(cls, value: list[str] | None) -> list[str] | None:
        return _phones(value)


class AccountPublic(BaseModel):
    id: str = Field(examples=["4f0c2b9e8d7a4c1b9a3e5d6f7a8b9c0d"])
    name: str = Field(examples=["Harbor Goods"])
    external_id: str | None = Field(default=None, examples=["CRM-10442"])
    tier: str = Field(examples=["enterprise"])
    domains: list[str] = Field(examples=[["harborgoods.example"]])
    phones: list[str] = Field(examples=[["442079460321"]])
    created_at: str = Field(examples=["2025-03-01T09:00:00+00:00"])


class AccountSummary(AccountPublic):
    conversations: int = Field(description="conversations linked to the account", examples=[7])
    open_items: int = Field(
        description="open or claimed queue items of the account in the queues the caller sees",
        examples=[2],
    )
    last_conversation_at: str | None = Field(
        default=None, description="when the newest conversation was uploaded"
    )


class AccountsPage(BaseModel):
    items: list[AccountSummary]
    total: int = Field(examples=[1])
    limit: int = Field(examples=[50])
    offset: int = Field(examples=[0])


class SentimentPoint(BaseModel):
    label: str = Field(examples=["negative"])
    score: float = Field(examples=[0.81])
    polarity: float = Field(description="p(positive) - p(negative), in [-1, 1]", examples=[-0.72])


class CustomerSentiment(BaseModel):
    overall: SentimentPoint | None = None
    first: SentimentPoint | None = Field(default=None, description="the first third of turns")
    last: SentimentPoint | None = Field(default=None, description="the last third of turns")


class TimelineInsight(BaseModel):
    id: int
    kind: str = Field(examples=[InsightKind.UNMET_EXPECTATION])
    score: float = Field(examples=[0.93])
    quote: str = Field(
        examples=["your sales rep, Mark, promised us that the platform syncs stock levels"]
    )
    turn: int
    speaker: str = Field(examples=["customer"])
    category: str | None = None


class TimelineEntry(BaseModel):
    id: str = Field(
        description="the conversation id", examples=["9b1e4c2d7f6a4e0b8c3d2a1f0e9d8c7b"]
    )
    channel: str = Field(examples=["email"])
    language: str = Field(examples=["en"])
    status: str = Field(examples=["routed"])
    filename: str = Field(examples=["en_unmet_promise.eml"])
    created_at: str = Field(description="when it was uploaded")
    sent_at: str | None = Field(
        default=None,
        description="when the conversation's first message was sent (for an email, the oldest "
        "message of its thread; chats with times); null for calls",
        examples=["2025-03-10T09:12:00+00:00"],
    )
    occurred_at: str = Field(
        description="what the timeline is ordered by: `sent_at`, else `created_at`"
    )
    duration_s: float | None = Field(default=None, description="calls: audio length")
    caller_phone: str | None = Field(default=None, examples=["989121234567"])
    customer_sentiment: CustomerSentiment = Field(default_factory=CustomerSentiment)
    insight_counts: dict[str, int] = Field(
        default_factory=dict,
        examples=[{InsightKind.UNMET_EXPECTATION: 1, InsightKind.CHURN_RISK: 1}],
    )
    top_insights: list[TimelineInsight] = Field(
        default_factory=list,
        description="the strongest insights (up to 3) with their quotes; for csm and sales only "
        "those of conversations behind items in their queues",
    )
    readable: bool = Field(
        description="whether the caller may open the conversation (GET /v1/conversations/{id})"
    )
    url: str = Field(examples=["/v1/conversations/9b1e4c2d7f6a4e0b8c3d2a1f0e9d8c7b"])


class TrendPoint(BaseModel):
    conversation_id: str
    at: str = Field(description="the conversation's `occurred_at`")
    channel: str = Field(examples=["chat"])
    polarity: float = Field(description="the customer's overall polarity", examples=[-0.41])
    label: str = Field(examples=["negative"])


class SentimentTrend(BaseModel):
    direction: Literal["improving", "worsening", "stable"] = Field(
        description="the mean polarity of the last third of conversations against the first "
        "third: a change of more than `threshold` either way, else stable (also with fewer "
        "than two conversations)",
        examples=["worsening"],
    )
    first_third: float | None = Field(default=None, examples=[0.35])
    last_third: float | None = Field(default=None, examples=[-0.52])
    change: float | None = Field(default=None, examples=[-0.87])
    threshold: float = Field(examples=[0.15])
    points: list[TrendPoint] = Field(description="oldest first")


class AccountDetail(AccountPublic):
    timeline: list[TimelineEntry] = Field(
        description="the account's conversations across calls, emails and chats, oldest first"
    )
    timeline_total: int = Field(description="all conversations of the account", examples=[7])
    open_items: list[QueueItemPublic] = Field(
        description="open and claimed items of the account in the queues the caller sees"
    )
    sentiment_trend: SentimentTrend
