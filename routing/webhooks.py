"""Webhook delivery: target checks, HMAC-SHA256 signatures and the sender that works the outbox.

`routing.events.emit` writes one `WebhookDelivery` row per subscriber in the same transaction as the
change. The `WebhookSender` here picks due rows, POSTs them, logs each try as a `WebhookAttempt` and
retries with exponential backoff. Rows are durable, so a restart loses nothing: pending deliveries
go out from the next process, and one that was in flight when the process died is sent again (the
receiver drops the duplicate by its event id).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import random
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import update
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, col, func, select

from core.errors import ErrorCode, HamsuError
from core.settings import Settings, WebhookSettings
from models.db import get_engine
from models.tables import WebhookAttempt, WebhookDelivery, WebhookSubscription, new_id, utcnow

log = logging.getLogger("hamsu.webhooks")

SIGNATURE_HEADER = "X-Hamsu-Signature"
EVENT_HEADER = "X-Hamsu-Event"
EVENT_ID_HEADER = "X-Hamsu-Event-Id"
DELIVERY_HEADER = "X-Hamsu-Delivery"
USER_AGENT = "Hamsu-Webhooks/1"
# sent by POST /v1/webhooks/{id}/test to one subscription; nobody subscribes to it
PING_EVENT = "ping"
# what an attempt row says while its HTTP request is under way
IN_FLIGHT = "in flight"
INTERRUPTED = "interrupted: the sender stopped before the receiver answered"
# the response body kept in the delivery log for a non-2xx answer
_BODY_SNIPPET = 300

AddressInfo = ipaddress.IPv4Address | ipaddress.IPv6Address


class DeliveryStatus:
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ALL = (PENDING, SUCCEEDED, FAILED)


def generate_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


# --- targets -------------------------------------------------------------------------------------


# IPv6 addresses that carry an IPv4 one which a relay, a NAT64 gateway or the host's own stack can
# turn back into IPv4 traffic: 2002:7f00:1:: reaches 127.0.0.1 as surely as the literal does
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _embedded_ipv4(address: AddressInfo) -> tuple[str, ipaddress.IPv4Address] | None:
    """(how, the IPv4 address) for an IPv6 address that embeds one, else None."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return "IPv4-mapped", address.ipv4_mapped
    if address.sixtofour is not None:
        return "6to4", address.sixtofour
    if address.teredo is not None:
        return "Teredo", address.teredo[1]  # (server, client): traffic ends at the client
    if address in _NAT64:
        return "NAT64", ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _why_private(address: AddressInfo) -> str | None:
    """The reason an address may not be a target, or None for a public address."""
    for flag, reason in (
        ("is_unspecified", "unspecified"),
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_multicast", "multicast"),
        ("is_private", "private"),
        ("is_reserved", "reserved"),
    ):
        if getattr(address, flag):
            return reason
    if not address.is_global:
        return "not globally routable"
    return None


def _refusal(address: AddressInfo) -> tuple[str, str] | None:
    """(reason, how the message says it) when `address` may not be a target, else None. An
    address embedding a non-public IPv4 one is refused for that one; an IPv4-mapped address is
    judged only by its IPv4 address, which is where a dual-stack socket connects."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        form, inner = embedded
        inner_reason = _why_private(inner)
        if inner_reason is not None:
            article = "an" if form[0] in "AEIOU" else "a"
            return inner_reason, (
                f"{article} {form} address embedding the {inner_reason} address {inner}"
            )
        if form == "IPv4-mapped":
            return None
    reason = _why_private(address)
    return None if reason is None else (reason, f"a {reason} address")


def _allowed(
    address: AddressInfo, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]
) -> bool:
    """In an allow-listed range, itself or (for an address embedding one) its IPv4 address."""
    embedded = _embedded_ipv4(address)
    candidates = [address] if embedded is None else [address, embedded[1]]
    return any(candidate in network for candidate in candidates for network in networks)


def _split_allow_list(
    allow_private: list[str],
) -> tuple[list[ipaddress.IPv4Network | ipaddress.IPv6Network], set[str]]:
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    hosts: set[str] = set()
    for entry in allow_private:
        entry = entry.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            hosts.add(entry.lower().rstrip("."))
    return networks, hosts


@dataclass(frozen=True)
class Target:
    """A checked target: where to connect (`addresses`, empty when the host is allow-listed by
    name and left to the resolver) and the parts needed to pin the connection to them."""

    url: str
    scheme: str
    host: str
    addresses: tuple[AddressInfo, ...]


def _resolve(host: str, port: int) -> list[AddressInfo]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError) as exc:  # gaierror, or a name IDNA cannot encode
        raise HamsuError(
            ErrorCode.INVALID_WEBHOOK_TARGET, f"host {host!r} does not resolve: {exc}"
        ) from exc
    addresses: list[AddressInfo] = []
    for info in infos:
        raw = str(info[4][0]).split("%", 1)[0]  # drop an IPv6 zone id
        address = ipaddress.ip_address(raw)
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise HamsuError(ErrorCode.INVALID_WEBHOOK_TARGET, f"host {host!r} has no address")
    return addresses


def check_target(url: str, allow_private: list[str]) -> Target:
    """`validate_target`, returning the checked addresses so the sender can connect to exactly
    those (a second lookup by the HTTP client could answer differently)."""
    bad = ErrorCode.INVALID_WEBHOOK_TARGET
    try:
        parts = urlsplit(url.strip())
        port = parts.port
        httpx.URL(url.strip())  # what the sender will parse
    except (ValueError, httpx.InvalidURL) as exc:
        raise HamsuError(bad, f"{url!r} is not a valid URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        shown = f"{scheme}://" if scheme else "no scheme"
        raise HamsuError(bad, f"webhook URLs must start with http:// or https://; got {shown}")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise HamsuError(bad, f"{url!r} has no host")
    networks, hosts = _split_allow_list(allow_private)
    if host.lower() in hosts:
        return Target(url=url.strip(), scheme=scheme, host=host, addresses=())
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        addresses = _resolve(host, port or (443 if scheme == "https" else 80))
    for address in addresses:
        refusal = _refusal(address)
        if refusal is None or _allowed(address, networks):
            continue
        reason, phrase = refusal
        via = "" if str(address) == host else f" ({host} resolves to it)"
        raise HamsuError(
            bad,
            f"{address} is {phrase}{via}; webhook targets must be public unless "
            "allow-listed in webhooks.allow_private (HAMSU_WEBHOOKS__ALLOW_PRIVATE)",
        ).with_details(host=host, address=str(address), reason=reason)
    return Target(url=url.strip(), scheme=scheme, host=host, addresses=tuple(addresses))


def validate_target(url: str, allow_private: list[str]) -> None:
    """Refuse anything but an http(s) URL whose host resolves only to public addresses.

    Loopback, private, link-local, reserved, multicast and unspecified addresses are refused, and
    so are IPv6 addresses embedding such an IPv4 address (IPv4-mapped, 6to4, Teredo, NAT64),
    unless the address (or the IPv4 address it embeds) lies in an allow-listed CIDR or the host
    name itself is allow-listed.
    Raises HamsuError(INVALID_WEBHOOK_TARGET) with the precise reason.
    """
    check_target(url, allow_private)


# --- signatures ----------------------------------------------------------------------------------


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The `X-Hamsu-Signature` value: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "t.body")>`."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={_digest(secret, t, body)}"


def verify_signature(
    secret: str,
    header: str,
    body: bytes,
    tolerance_s: float = 300,
    now: float | None = None,
) -> bool:
    """For receivers: True when `header` signs exactly `body` with `secret` and its timestamp is
    within `tolerance_s` of now (which bounds replays of a captured request)."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        return False
    expected = _digest(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)


def encode_payload(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def backoff_s(attempts: int, settings: WebhookSettings) -> float:
    """Seconds before the next try after `attempts` failed ones: base·2^(attempts-1), capped,
    plus up to 10 % jitter so that many failing deliveries do not retry in lockstep."""
    delay = min(settings.backoff_base_s * 2 ** max(attempts - 1, 0), settings.backoff_max_s)
    return delay * (1 + random.uniform(0, 0.1))


# --- sender --------------------------------------------------------------------------------------


@dataclass
class _Claim:
    delivery_id: int
    attempt_id: int
    attempt_number: int
    url: str
    secret: str
    event: str
    event_id: str
    payload: dict[str, Any]


@dataclass
class _Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def queue_ping(session: Session, subscription: WebhookSubscription) -> WebhookDelivery:
    """A `ping` delivery for one subscription, through the normal outbox; the caller commits."""
    event_id = new_id()
    delivery = WebhookDelivery(
        subscription_id=subscription.id,  # type: ignore[arg-type]
        event=PING_EVENT,
        event_id=event_id,
        payload={
            "id": event_id,
            "event": PING_EVENT,
            "created_at": utcnow().isoformat(),
            "data": {"webhook_id": subscription.id, "message": "Hamsu webhook test"},
        },
    )
    session.add(delivery)
    return delivery


class WebhookSender:
    """Daemon threads that send due deliveries; `run_due` does one pass in the caller's thread."""

    def __init__(
        self, settings: Settings, *, threads: int = 2, poll_interval_s: float = 1.0
    ) -> None:
        self.settings = settings
        self.threads = threads
        self.poll_interval_s = poll_interval_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def _config(self) -> WebhookSettings:
        return self.settings.webhooks

    @property
    def lease_s(self) -> float:
        """How long a claimed delivery belongs to its sender; httpx applies the timeout to
        connect, write and read separately, so an attempt can take a few times timeout_s."""
        return 4 * self._config.timeout_s + 5

    # lifecycle

    def start(self) -> None:
        self._stop.clear()
        if recovered := self.recover_interrupted():
            log.info("%d webhook deliveries were in flight at shutdown; sending again", recovered)
        for n in range(self.threads):
            thread = threading.Thread(target=self._loop, name=f"hamsu-webhooks-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def notify(self) -> None:
        """Look for due deliveries now instead of at the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        # one deadline for all threads, not `timeout` each
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()

    def recover_interrupted(self) -> int:
        """Attempts left in flight by a process that died: mark them and make their deliveries
        due now. Like the pipeline worker, this assumes one Hamsu process per database."""
        engine = get_engine(self.settings.database_url)
        now = utcnow()
        with Session(engine) as session:
            attempts = session.exec(
                select(WebhookAttempt).where(
                    WebhookAttempt.error == IN_FLIGHT, col(WebhookAttempt.status_code).is_(None)
                )
            ).all()
            for attempt in attempts:
                attempt.error = INTERRUPTED
                session.add(attempt)
                delivery = session.get(WebhookDelivery, attempt.delivery_id)
                if delivery is not None and delivery.status == DeliveryStatus.PENDING:
                    delivery.next_attempt_at = now
                    delivery.last_error = INTERRUPTED
                    session.add(delivery)
            session.commit()
            return len(attempts)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_due()
                wait = self._seconds_to_next_due()
            except Exception:  # keep the sender alive; each attempt records its own failure
                log.exception("webhook sender loop error")
                wait = self.poll_interval_s
            self._wake.wait(wait)
            self._wake.clear()

    def _seconds_to_next_due(self) -> float:
        engine = get_engine(self.settings.database_url)
        with Session(engine) as session:
            next_at = session.exec(
                select(func.min(WebhookDelivery.next_attempt_at))
                .join(
                    WebhookSubscription,
                    col(WebhookSubscription.id) == col(WebhookDelivery.subscription_id),
                )
                .where(WebhookDelivery.status == DeliveryStatus.PENDING)
                .where(WebhookSubscription.active == True)  # noqa: E712
            ).one()
        if next_at is None:
            return self.poll_interval_s
        seconds = (_aware(next_at) - utcnow()).total_seconds()
        return min(max(seconds, 0.01), self.poll_interval_s)

    # one pass

    def run_due(self, now: datetime | None = None) -> int:
        """Send every delivery due at `now` (default: the current time) once, in this thread;
        returns how many attempts were made. A retry scheduled during the pass waits for the
        next pass."""
        now = now or utcnow()
        made = 0
        while not self._stop.is_set():
            claim = self._claim(now)
            if claim is None:
                break
            try:
                outcome = self._send(claim)
            except Exception as exc:  # a bug must not leave the attempt in flight for ever
                log.exception("webhook delivery %s: unexpected error", claim.delivery_id)
                outcome = _Outcome(None, f"internal error: {type(exc).__name__}: {exc}", 0)
            self._finish(claim, outcome, now)
            made += 1
        return made

    def _claim(self, now: datetime) -> _Claim | None:
        """Take one due delivery with a conditional UPDATE, so two senders never make the same
        attempt; the claim pushes next_attempt_at a lease ahead and logs the attempt in flight."""
        engine = get_engine(self.settings.database_url)
        with Session(engine) as session:
            candidates = session.exec(
                select(WebhookDelivery.id, WebhookDelivery.attempts)
                .join(
                    WebhookSubscription,
                    col(WebhookSubscription.id) == col(WebhookDelivery.subscription_id),
                )
                .where(WebhookDelivery.status == DeliveryStatus.PENDING)
                .where(col(WebhookDelivery.next_attempt_at) <= now)
                .where(WebhookSubscription.active == True)  # noqa: E712
                .order_by(col(WebhookDelivery.next_attempt_at), col(WebhookDelivery.id))
                .limit(20)
            ).all()
            lease_until = max(now, utcnow()) + timedelta(seconds=self.lease_s)
            for found_id, attempts in candidates:
                assert found_id is not None
                delivery_id: int = found_id
                result = session.exec(
                    update(WebhookDelivery)
                    .where(col(WebhookDelivery.id) == delivery_id)
                    .where(col(WebhookDelivery.status) == DeliveryStatus.PENDING)
                    .where(col(WebhookDelivery.attempts) == attempts)
                    .where(col(WebhookDelivery.next_attempt_at) <= now)
                    .values(attempts=attempts + 1, next_attempt_at=lease_until)
                )
                if result.rowcount != 1:
                    session.rollback()
                    continue
                attempt = WebhookAttempt(delivery_id=delivery_id, error=IN_FLIGHT)
                session.add(attempt)
                session.commit()
                attempt_id = attempt.id
                delivery = session.get(WebhookDelivery, delivery_id)
                subscription = (
                    None
                    if delivery is None
                    else session.get(WebhookSubscription, delivery.subscription_id)
                )
                if delivery is None or subscription is None or attempt_id is None:
                    # the subscription was deleted (with its deliveries) since the claim: skip it
                    continue
                return _Claim(
                    delivery_id=delivery_id,
                    attempt_id=attempt_id,
                    attempt_number=attempts + 1,
                    url=subscription.url,
                    secret=subscription.secret,
                    event=delivery.event,
                    event_id=delivery.event_id,
                    payload=delivery.payload,
                )
        return None

    def _send(self, claim: _Claim) -> _Outcome:
        started = time.monotonic()

        def outcome(status_code: int | None, error: str | None) -> _Outcome:
            return _Outcome(status_code, error, int((time.monotonic() - started) * 1000))

        try:
            target = check_target(claim.url, self._config.allow_private)
        except HamsuError as exc:  # DNS changed since the subscription was checked
            return outcome(None, f"target refused: {exc.message}")
        body = encode_payload(claim.payload)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            EVENT_HEADER: claim.event,
            EVENT_ID_HEADER: claim.event_id,
            DELIVERY_HEADER: str(claim.delivery_id),
            SIGNATURE_HEADER: sign(claim.secret, body),
        }
        url = httpx.URL(target.url)
        extensions: dict[str, Any] = {}
        if target.addresses and str(target.addresses[0]) != target.host:
            # connect to the address that was checked, not to whatever a new lookup says
            headers["Host"] = url.netloc.decode("ascii").rpartition("@")[2]
            if target.scheme == "https":
                extensions["sni_hostname"] = target.host
            url = url.copy_with(host=str(target.addresses[0]))
        try:
            with (
                httpx.Client(
                    timeout=self._config.timeout_s, follow_redirects=False, trust_env=False
                ) as client,
                client.stream(
                    "POST", url, content=body, headers=headers, extensions=extensions
                ) as response,
            ):
                if 200 <= response.status_code < 300:
                    return outcome(response.status_code, None)
                snippet = b""
                for chunk in response.iter_bytes():
                    snippet += chunk
                    if len(snippet) >= _BODY_SNIPPET:
                        break
                text = snippet[:_BODY_SNIPPET].decode("utf-8", "replace").strip()
                reason = f"HTTP {response.status_code}" + (f": {text}" if text else "")
                if response.is_redirect:
                    location = response.headers.get("location", "")
                    reason = f"HTTP {response.status_code} redirect to {location!r} not followed"
                return outcome(response.status_code, reason)
        except httpx.TimeoutException as exc:
            return outcome(None, f"timeout after {self._config.timeout_s:g} s: {exc!r}")
        except httpx.HTTPError as exc:
            return outcome(None, f"{type(exc).__name__}: {exc}")

    def _finish(self, claim: _Claim, outcome: _Outcome, now: datetime) -> None:
        engine = get_engine(self.settings.database_url)
        with Session(engine) as session:
            attempt = session.get(WebhookAttempt, claim.attempt_id)
            delivery = session.get(WebhookDelivery, claim.delivery_id)
            if attempt is None or delivery is None:  # the subscription was deleted meanwhile
                return
            attempt.status_code = outcome.status_code
            attempt.error = outcome.error
            attempt.duration_ms = outcome.duration_ms
            session.add(attempt)
            if (
                delivery.status == DeliveryStatus.PENDING
                and delivery.attempts == claim.attempt_number
            ):
                finished_at = utcnow()
                delivery.last_status_code = outcome.status_code
                delivery.last_error = outcome.error
                if outcome.ok:
                    delivery.status = DeliveryStatus.SUCCEEDED
                    delivery.delivered_at = finished_at
                elif delivery.attempts >= self._config.max_attempts:
                    delivery.status = DeliveryStatus.FAILED
                    log.warning(
                        "webhook delivery %s (%s) failed after %d attempts: %s",
                        delivery.id,
                        delivery.event,
                        delivery.attempts,
                        outcome.error,
                    )
                else:
                    delay = backoff_s(delivery.attempts, self._config)
                    delivery.next_attempt_at = max(now, finished_at) + timedelta(seconds=delay)
                session.add(delivery)
            try:
                session.commit()
            except StaleDataError:
                # the subscription was deleted, deliveries and log with it, after the rows above
                # were read: there is nothing left to record the outcome on
                session.rollback()
                log.info(
                    "webhook delivery %s was deleted while being sent; outcome dropped",
                    claim.delivery_id,
                )
