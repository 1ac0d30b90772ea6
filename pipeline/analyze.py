"""The whole path for one file: parse or transcribe, analyze, then route (`decide_routes`).

Used by `hamsu analyze` directly and by the worker, which stores what it returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from core.errors import ErrorCode, HamsuError
from core.settings import Settings
from nlp.analyzer import Analysis, analyzer_for
from nlp.normalize import detect_language
from nlp.pii import find_pii, redact
from pipeline.store import size_limit
from routing.engine import Context, Route, load_rules
from transcribe.types import Channel, Transcript

LANGUAGES = ("fa", "en")
SNIFF_BYTES = 64 * 1024

Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class AnalyzeOptions:
    # "fa" / "en" to skip language identification; None detects it
    language: str | None = None
    # force a channel instead of sniffing the file ("call", "email", "chat")
    channel: Channel | None = None
    # stereo calls: 0 = left, 1 = right carries the agent; None uses the setting
    agent_channel: int | None = None
    account: str | None = None
    # an Account.id or Account.external_id to link the conversation to (wins over `account`)
    account_id: str | None = None
    # the caller's phone number as given at upload; matched against Account.phones
    phone: str | None = None
    # the account's tier as routing rules' `tier` condition sees it, for `hamsu analyze`, which
    # has no account database; the worker uses the linked account's tier
    tier: str | None = None


@dataclass(frozen=True)
class Result:
    transcript: Transcript
    analysis: Analysis
    # empty until `decide_routes`
    routes: tuple[Route, ...] = ()


def check_options(options: AnalyzeOptions) -> None:
    if options.language not in (None, *LANGUAGES):
        raise HamsuError(
            ErrorCode.INVALID_OPTION, f"language must be auto, fa or en; got {options.language!r}"
        )
    if options.channel not in (None, "call", "email", "chat"):
        raise HamsuError(
            ErrorCode.INVALID_OPTION,
            f"channel must be call, email or chat; got {options.channel!r}",
        )
    if options.agent_channel not in (None, 0, 1):
        raise HamsuError(
            ErrorCode.INVALID_OPTION,
            f"agent_channel must be 0 (left) or 1 (right); got {options.agent_channel!r}",
        )


def detect_channel(path: Path, filename: str | None = None) -> Channel:
    from pipeline.sniff import sniff_channel

    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    return sniff_channel(head, filename or path.name)


def to_transcript(
    path: Path,
    channel: Channel,
    options: AnalyzeOptions,
    settings: Settings,
    filename: str,
    progress: Progress | None = None,
) -> Transcript:
    if channel == "call":
        from transcribe.call import transcribe_call

        return transcribe_call(
            path,
            settings=settings.asr,
            data_dir=settings.storage.data_dir,
            language=options.language,
            agent_channel=options.agent_channel,
            progress=(lambda f: progress("transcribing", f)) if progress else None,
        )
    # the upload checked this already; `hamsu analyze` and files stored before a limit was
    # lowered are checked here
    limit = size_limit(settings=settings, channel=channel)
    if path.stat().st_size > limit.max_bytes:
        raise HamsuError(
            ErrorCode.TOO_LARGE,
            f"{filename} is {path.stat().st_size / 1e6:.1f} MB, larger than {limit.label}",
        ).with_details(limit_bytes=limit.max_bytes)
    data = path.read_bytes()
    if channel == "email":
        from transcribe.email import parse_email

        transcript = parse_email(
            data,
            company_domains=settings.email.company_domains,
            filename=filename,
            max_text_chars=settings.email.max_text_chars,
        )
    else:
        from transcribe.chat import parse_chat

        transcript = parse_chat(data, filename=filename)
    transcript.language = options.language or _text_language(transcript)
    return transcript


def _text_language(transcript: Transcript) -> str:
    customer = " ".join(t.text for t in transcript.turns if t.speaker != "agent")
    return detect_language(customer or " ".join(t.text for t in transcript.turns))


def transcribe_file(
    path: Path,
    *,
    settings: Settings,
    options: AnalyzeOptions = AnalyzeOptions(),
    filename: str | None = None,
    progress: Progress | None = None,
) -> Transcript:
    """The first stage: the file as turns (a call transcribed, an email or chat parsed)."""
    check_options(options)
    name = filename or path.name
    channel = options.channel or detect_channel(path, name)
    transcript = to_transcript(path, channel, options, settings, name, progress)
    if not any(t.text.strip() for t in transcript.turns):
        raise HamsuError(ErrorCode.EMPTY_TRANSCRIPT, f"{name}: no words found to analyze")
    return transcript


def analyze_transcript(transcript: Transcript, *, settings: Settings) -> Result:
    """The second stage: insights with their evidence, redacted for showing and storing."""
    result = Result(transcript, analyzer_for(settings.nlp).analyze(transcript))
    return redact_result(result) if settings.nlp.redact_pii else result


def run(
    path: Path,
    *,
    settings: Settings,
    options: AnalyzeOptions = AnalyzeOptions(),
    filename: str | None = None,
    progress: Progress | None = None,
) -> Result:
    """Both stages in one go: `hamsu analyze` and the embedded worker (Celery workers run them
    as two tasks, `pipeline.tasks`)."""
    transcript = transcribe_file(
        path, settings=settings, options=options, filename=filename, progress=progress
    )
    if progress:
        progress("analyzing", 0.0)
    return analyze_transcript(transcript, settings=settings)


def decide_routes(result: Result, *, settings: Settings, tier: str) -> Result:
    """Where the conversation's insights go, decided once with its whole context (its channel,
    the account's tier, each insight's language): `hamsu analyze` and the worker both call this,
    so they route the same file the same way."""
    rules = load_rules(settings.routing.rules_path)
    context = Context(channel=result.transcript.channel, tier=tier)
    routes = rules.route([asdict(i) for i in result.analysis.insights], context)
    return replace(result, routes=tuple(routes))


def redact_result(result: Result) -> Result:
    """Hide phone numbers, emails, cards, national ids and IBANs in what is shown and stored.

    Detection already ran on the original text; quotes and their spans are recomputed against
    the redacted turn so the evidence still points at the right place.
    """
    transcript = replace(
        result.transcript,
        turns=[
            replace(t, text=redact(t.text), words=[]) if find_pii(t.text) else t
            for t in result.transcript.turns
        ],
    )
    insights = []
    for insight in result.analysis.insights:
        quote = redact(insight.quote)
        if quote != insight.quote:
            start = transcript.turns[insight.turn].text.find(quote)
            span = (start, start + len(quote)) if start >= 0 else (0, 0)
            insight = replace(insight, quote=quote, span=span)
        insights.append(insight)
    analysis = replace(result.analysis, insights=insights)
    return Result(transcript, analysis, result.routes)


def sentiment_json(analysis: Analysis) -> dict[str, Any]:
    return {
        role: {part: asdict(score) for part, score in parts.items()}
        for role, parts in analysis.sentiment.items()
    }


def route_json(route: Route) -> dict[str, Any]:
    return {
        "queue": route.queue,
        "priority": route.priority,
        "insights": list(route.insights),
        "rules": list(route.rules),
    }
