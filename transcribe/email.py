"""Parse one email file (.eml, RFC 5322 / MIME) into a Transcript.

The newest message (the one whose headers the file carries) is always a turn. Quoted earlier
messages ("On ... wrote:", "-----Original Message-----", Outlook "From: / Sent:" blocks, their
Persian forms) are cut from it; when a quoted message names its author's address it becomes an
earlier turn, oldest first, and `meta["quoted_turns"]` counts those. Signatures ("-- ", device
footers, a closing like "Best regards" / "با احترام" followed by a few name lines) are dropped.

Subject: it is prepended to the first turn's text (after removing "Re:"/"Fwd:"/"پاسخ:" prefixes
and ticket tags) only when it carries words of its own, so "Complaint: double charge" reaches the
detectors while "Re: Ticket #4411" or "Hello" does not. It is always kept in `meta["subject"]`.

Length: with `max_text_chars` the body text kept is capped, oldest quoted history dropped first
(`meta["truncated"]`); analysis time grows with the text, so one long thread cannot hold the queue.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser
from typing import cast

from core.errors import ErrorCode, HamsuError
from transcribe.types import Role, Transcript, Turn

# how many quoted messages deep a thread is followed; deeper history is dropped
MAX_THREAD_DEPTH = 20

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (.zip, .docx, .xlsx...)"),
    (b"\xd0\xcf\x11\xe0", "an Outlook .msg / OLE file (save the message as .eml instead)"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"{\\rtf", "an RTF document"),
)
_EMAIL_HEADERS = frozenset(
    "from to cc subject date message-id mime-version content-type received return-path "
    "reply-to in-reply-to references".split()
)
_ADDRESS = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
# bidi controls that RTL mail clients wrap around Persian lines
_BIDI = dict.fromkeys(
    map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
)

# --- where quoted history starts ---------------------------------------------------------------
_SEPARATOR = re.compile(
    r"^-{2,}\s*(?:original message|forwarded message|پیام اصلی|پیام ارسال شده|پیام هدایت شده)"
    r"\s*-{2,}$",
    re.IGNORECASE,
)
_ATTRIBUTION = re.compile(r"^(?:On\s.{4,300}\swrote|در\s.{4,300}\sنوشت(?:ه است)?)\s*[:：]$")
_HEADER_LINE = re.compile(
    r"^\*?(from|sent|date|to|cc|subject|از|ارسال شده|ارسال|تاریخ|به|رونوشت|موضوع)\*?\s*[:：]\*?"
    r"\s*(.*)$",
    re.IGNORECASE,
)
_FROM_LABELS = {"from", "از"}
_DATE_LABELS = {"sent", "date", "ارسال شده", "ارسال", "تاریخ"}
_RECIPIENT_LABELS = {"to", "cc", "subject", "به", "رونوشت", "موضوع"}
_UNDERSCORES = re.compile(r"^_{10,}$")

# --- signatures --------------------------------------------------------------------------------
_DEVICE_FOOTER = re.compile(
    r"^(?:sent from my \w+|sent from (?:outlook|mail|yahoo mail)\b|get outlook for \w+"
    r"|ارسال شده از \S+)",
    re.IGNORECASE,
)
_DISCLAIMER = re.compile(
    r"^(?:confidentiality notice|disclaimer\b|this (?:e-?mail|message)(?: and any attachments?)?"
    r" (?:is|are|may be|contains?) (?:confidential|privileged))",
    re.IGNORECASE,
)
_EN_CLOSING = (
    r"(?:(?:best|kind|warm|warmest|many)\s+(?:regards|wishes)|regards|best|cheers|sincerely"
    r"|yours\s+(?:sincerely|truly|faithfully)|respectfully|all\s+the\s+best|many\s+thanks"
    r"|thanks(?:\s+(?:again|in\s+advance|a\s+lot))?|thank\s+you(?:\s+(?:again|in\s+advance))?)"
)
_FA_CLOSING = (
    r"(?:با\s*(?:احترام|سپاس|تشکر)(?:\s*(?:و|فراوان|مجدد|احترام|سپاس|تشکر))*"
    r"|ارادتمند(?:\s*شما)?|سپاسگزارم|قربان\s*شما)"
)
# a closing alone on its line, or an English closing with a capitalised name ("Thanks, Sara");
# the name must be capitalised so "Thanks, but I am cancelling" stays message text
_CLOSING = re.compile(
    rf"^(?:(?i:{_EN_CLOSING})(?:\s*,\s*[A-Z][\w.'-]*(?:\s+[A-Z][\w.'-]*){{0,2}})?[,.!]*"
    rf"|{_FA_CLOSING}[،,.!]*)$"
)
# lines under a closing that still look like a signature (name, title, company, phone)
_MAX_SIGNATURE_LINES = 6
_MAX_SIGNATURE_LINE_CHARS = 80

# --- subject -----------------------------------------------------------------------------------
_SUBJECT_PREFIX = re.compile(
    r"^\s*(?:(?:re|fwd?|aw|wg|sv|tr|پاسخ(?: به)?|هدایت|بازارسال)\s*(?:\[\d+\])?\s*[:：]\s*"
    r"|\[[^\]]*\]\s*)+",
    re.IGNORECASE,
)
_ID_WORDS = frozenset(
    "ticket case order invoice ref reference request number تیکت سفارش فاکتور شماره".split()
)
_GENERIC_SUBJECTS = frozenset(
    {
        *"hello hi hey question help inquiry enquiry request update test follow-up".split(),
        *("follow up", "no subject", "(no subject)"),
        *"سلام سوال درخواست پیگیری".split(),
        "بدون موضوع",
    }
)

# quoted-attribution dates, e.g. Gmail "On Mon, Mar 3, 2025 at 10:02 AM ..."
_ATTRIBUTION_DATE = re.compile(
    r"(\w{3}, \w{3} \d{1,2}, \d{4} at \d{1,2}:\d{2}\s?[AP]M|\w{3} \d{1,2}, \d{4}, at \d{1,2}:\d{2}"
    r"\s?[AP]M)"
)
_DATE_FORMATS = (
    "%a, %b %d, %Y at %I:%M %p",
    "%b %d, %Y, at %I:%M %p",
    "%A, %B %d, %Y %I:%M %p",
    "%A, %B %d, %Y %I:%M:%S %p",
    "%d %B %Y %H:%M",
)


def parse_email(
    data: bytes,
    *,
    company_domains: list[str],
    filename: str = "",
    max_text_chars: int | None = None,
) -> Transcript:
    """Parse an .eml file; senders from `company_domains` (and their subdomains) are agents.

    `max_text_chars` caps the body text kept (see `_within`); `meta["truncated"]` and
    `meta["dropped_chars"]` say when text was dropped.
    """
    msg = _parse_message(data, filename)
    domains = [d.strip().lower().lstrip("@") for d in company_domains if d.strip()]
    sender = _first_address(_header(msg, "from"))
    newest, history = _split_newest(_body_text(msg).splitlines())
    newest, history, dropped = _within(newest, history, max_text_chars)
    turns = _history_turns(history, domains)
    quoted = len(turns)
    text = _clean(newest)
    if text:
        turns.append(
            Turn(
                speaker=_role(sender, domains),
                text=text,
                speaker_label=sender,
                sent_at=_parse_date(_header(msg, "date")),
            )
        )
    if not turns:
        raise HamsuError(
            ErrorCode.EMPTY_TRANSCRIPT,
            f"{_name(filename)} has no message text left after removing quoted replies and "
            "signatures",
        )
    subject = _header(msg, "subject")
    informative = _informative_subject(subject)
    if informative:
        turns[0].text = f"{informative}\n\n{turns[0].text}"
    meta: dict[str, object] = {
        "subject": subject,
        "from": sender,
        "to": [a for _, a in getaddresses([_header(msg, "to")]) if a],
        "message_id": _header(msg, "message-id"),
        "quoted_turns": quoted,
    }
    if in_reply_to := _header(msg, "in-reply-to"):
        meta["in_reply_to"] = in_reply_to
    if dropped:
        meta["truncated"] = True
        meta["dropped_chars"] = dropped
    return Transcript(channel="email", turns=turns, meta=meta)


def _within(
    newest: list[str], history: list[str], limit: int | None
) -> tuple[list[str], list[str], int]:
    """At most `limit` characters of body lines, and how many were dropped.

    Analysis time grows with the text, so one long thread would hold the queue for minutes. The
    newest message is kept first, then quoted history from the most recent quote back, so what
    goes is the oldest history and, only when the newest message alone is too long, its tail.
    """
    total = sum(len(line) + 1 for line in (*newest, *history))
    if limit is None or total <= limit:
        return newest, history, 0
    newest = _first_chars(newest, limit)
    history = _first_chars(history, limit - sum(len(line) + 1 for line in newest))
    return newest, history, total - sum(len(line) + 1 for line in (*newest, *history))


def _first_chars(lines: list[str], budget: int) -> list[str]:
    """The leading lines within `budget` characters (a line break counts as one); a line that
    does not fit is cut at its last space within the budget."""
    kept: list[str] = []
    for line in lines:
        if len(line) + 1 > budget:
            part = line[: max(budget - 1, 0)]
            part = part.rsplit(" ", 1)[0] if " " in part else part
            if part.strip():
                kept.append(part)
            break
        kept.append(line)
        budget -= len(line) + 1
    return kept


# --- reading the file --------------------------------------------------------------------------


def _parse_message(data: bytes, filename: str) -> EmailMessage:
    """Parse the bytes, refusing files that are plainly something other than an email."""
    what = _name(filename)
    data = _utf8_from_wide(data.removeprefix(b"\xef\xbb\xbf"), what)
    if not data.strip():
        raise HamsuError(ErrorCode.EMPTY_FILE, f"{what} is empty")
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            raise HamsuError(
                ErrorCode.MALFORMED_EMAIL, f"{what} is {kind}, not an email (starts {data[:8]!r})"
            )
    if b"\x00" in data[:4096]:
        raise HamsuError(ErrorCode.MALFORMED_EMAIL, f"{what} is binary data, not an email")
    msg = cast(EmailMessage, BytesParser(policy=policy.default).parsebytes(data))
    if not {name.lower() for name in msg.keys()} & _EMAIL_HEADERS:
        first = data.lstrip().split(b"\n", 1)[0][:60].decode("utf-8", "replace").strip()
        raise HamsuError(
            ErrorCode.MALFORMED_EMAIL,
            f"{what} has no email headers (From, To, Subject, Date...); it starts with {first!r}",
        )
    return msg


def _utf8_from_wide(data: bytes, what: str) -> bytes:
    """A message saved as UTF-16/UTF-32 text ("Unicode" in Windows editors) re-encoded as UTF-8,
    which the MIME parser reads; other bytes unchanged."""
    # the UTF-32LE mark begins like UTF-16LE's, so the UTF-32 marks are tried first
    for bom, codec in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            try:
                return data.decode(codec).encode("utf-8")
            except UnicodeDecodeError as exc:
                raise HamsuError(
                    ErrorCode.BAD_ENCODING,
                    f"{what} starts with a {codec.upper()} byte-order mark but byte {exc.start} "
                    f"is not valid {codec.upper()}",
                ) from exc
    return data


def _header(msg: EmailMessage, name: str) -> str:
    """One header as text; raw 8-bit headers (not RFC 2047 encoded) go through the charset chain."""
    for key, raw in msg.raw_items():
        if key.lower() == name and any("\udc80" <= ch <= "\udcff" for ch in raw):
            return _decode(raw.encode("ascii", "surrogateescape"), None).strip()
    try:
        value = msg.get(name)
    except Exception:
        # the stdlib's structured-header parser raises assorted errors (IndexError,
        # AttributeError, HeaderParseError...) on malformed addresses; the raw text still serves
        value = next((raw for key, raw in msg.raw_items() if key.lower() == name), None)
    return str(value).strip() if value is not None else ""


def _body_text(msg: EmailMessage) -> str:
    """The message's own text: the text/plain body, else its HTML body converted to text."""
    bodies = [msg.get_body(preferencelist=(kind,)) for kind in ("plain", "html")]
    found = [part for part in bodies if part is not None]
    if not found:
        kinds = sorted({p.get_content_type() for p in msg.walk() if not p.is_multipart()})
        raise HamsuError(
            ErrorCode.EMPTY_TRANSCRIPT,
            f"the email has no text body; its parts are: {', '.join(kinds) or 'none'}",
        )
    for part in found:
        raw = part.get_payload(decode=True)
        text = _decode(raw if isinstance(raw, bytes) else b"", part.get_content_charset())
        if part.get_content_subtype() == "html":
            text = html_to_text(text)
        if text.strip():
            return text
    return ""


def _decode(raw: bytes, declared: str | None) -> str:
    """Decode text bytes: the declared charset, then UTF-8, then windows-1256.

    windows-1256 maps every byte, so it is the last resort; a decode that yields control
    characters is still refused (binary data, or UTF-16 labelled as something else).
    """
    candidates = [declared, "utf-8", "windows-1256"]
    # Legacy 8-bit text is practically never valid UTF-8 by accident, so valid non-ASCII UTF-8
    # wins over a declared single-byte charset (a common mislabel by mail tools).
    if not raw.isascii() and _is_utf8(raw):
        candidates.insert(0, "utf-8")
    for charset in candidates:
        if not charset:
            continue
        try:
            text = raw.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
        if _readable(text):
            return text
    raise HamsuError(
        ErrorCode.BAD_ENCODING,
        f"email text is not readable as {declared or 'its undeclared charset'}, UTF-8 or "
        "windows-1256: it holds control characters (binary data?)",
    )


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _readable(text: str) -> bool:
    """False when a decode produced control characters: binary data or the wrong charset."""
    bad = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f")
    return bad * 100 <= len(text)


# --- HTML --------------------------------------------------------------------------------------


class _HtmlText(HTMLParser):
    """Collects the visible text of an HTML body, one line per block, "> " inside blockquotes."""

    _SKIP = frozenset({"script", "style", "head", "title", "noscript", "template"})
    _PARAGRAPH = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "pre"})
    _BLOCK = _PARAGRAPH | frozenset(
        {"div", "li", "tr", "hr", "section", "article", "header", "footer", "dt", "dd", "address"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._line: list[str] = []
        self._skip = 0
        self._quote = 0
        self._line_quote = 0
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skip += 1
        elif tag == "br":
            # a <br> on an empty line is a blank line: Gmail writes paragraphs as <div><br></div>
            self._newline(paragraph=not "".join(self._line).strip())
        elif tag == "blockquote":
            self._newline(paragraph=True)
            self._quote += 1
        elif tag in self._BLOCK:
            self._newline(paragraph=tag in self._PARAGRAPH)
            if tag == "pre":
                self._pre += 1
            if tag == "li":
                self._line.append("- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag == "blockquote":
            self._newline(paragraph=True)
            self._quote = max(0, self._quote - 1)
        elif tag in self._BLOCK:
            self._newline(paragraph=tag in self._PARAGRAPH)
            if tag == "pre":
                self._pre = max(0, self._pre - 1)

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._pre:
            first, *rest = data.split("\n")
            self._add(first)
            for line in rest:
                self._newline()
                self._add(line)
        else:
            # HTML collapses whitespace; ZWNJ (U+200C, Persian) is not whitespace and is kept
            self._add(re.sub(r"[ \t\r\n\f\v\xa0]+", " ", data))

    def _add(self, text: str) -> None:
        self._line.append(text)
        if text.strip():
            self._line_quote = max(self._line_quote, self._quote)

    def _newline(self, paragraph: bool = False) -> None:
        text = "".join(self._line).strip()
        if text:
            self.lines.append("> " * self._line_quote + text)
        self._line, self._line_quote = [], self._quote
        if paragraph and self.lines and self.lines[-1]:
            self.lines.append("")

    def text(self) -> str:
        self._newline()
        return "\n".join(self.lines).strip()


def html_to_text(html: str) -> str:
    """Visible text of an HTML email body, keeping paragraph breaks and marking quotes with ">"."""
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    return parser.text()


# --- quoted history ----------------------------------------------------------------------------


def _split_newest(lines: list[str]) -> tuple[list[str], list[str]]:
    """Split body lines into the newest message (">" lines removed) and the quoted history."""
    cut = len(lines)
    for i in range(len(lines)):
        if _starts_history(lines, i):
            cut = i - 1 if i and _UNDERSCORES.match(lines[i - 1].strip()) else i
            break
    # interleaved replies quote with ">" between the sender's own lines: drop only the quotes
    newest = [line for line in lines[:cut] if not line.lstrip().startswith(">")]
    return newest, lines[cut:]


def _starts_history(lines: list[str], i: int) -> bool:
    line = _plain(lines[i])
    if _SEPARATOR.match(line) or _attribution_at(lines, i):
        return True
    return _header_of(line) in _FROM_LABELS and _is_header_block(lines, i)


def _plain(line: str) -> str:
    return line.translate(_BIDI).strip()


def _attribution_at(lines: list[str], i: int) -> int:
    """How many lines (1 or 2: clients wrap long ones) an "On ... wrote:" line spans; 0 if none."""
    line = _plain(lines[i])
    if _ATTRIBUTION.match(line):
        return 1
    if i + 1 < len(lines) and _ATTRIBUTION.match(f"{line} {_plain(lines[i + 1])}"):
        return 2
    return 0


def _header_of(line: str) -> str:
    match = _HEADER_LINE.match(line)
    return match.group(1).lower() if match else ""


def _is_header_block(lines: list[str], i: int) -> bool:
    """An Outlook/forward header: "From:" followed closely by a date and a recipient/subject."""
    labels = {_header_of(_plain(line)) for line in lines[i + 1 : i + 6]}
    return bool(labels & _DATE_LABELS) and bool(labels & _RECIPIENT_LABELS)


def _history_turns(lines: list[str], domains: list[str]) -> list[Turn]:
    """Turns for the quoted messages whose author address is known, oldest first."""
    turns: list[Turn] = []
    for _ in range(MAX_THREAD_DEPTH):
        while lines and (not _plain(lines[0]) or _UNDERSCORES.match(_plain(lines[0]))):
            lines = lines[1:]
        if not lines:
            break
        if _SEPARATOR.match(_plain(lines[0])):
            lines = lines[1:]
        author, sent_at, body_start = _quoted_header(lines)
        newest, lines = _split_newest(_dequote(lines[body_start:]))
        text = _clean(newest)
        if author and text:
            turns.append(
                Turn(
                    speaker=_role(author, domains),
                    text=text,
                    speaker_label=author,
                    sent_at=sent_at,
                )
            )
    turns.reverse()
    return turns


def _quoted_header(lines: list[str]) -> tuple[str, datetime | None, int]:
    """Author address, date and body start of a quoted message (attribution or header block)."""
    if span := _attribution_at(lines, 0):
        attribution = " ".join(_plain(line) for line in lines[:span])
        found = _ATTRIBUTION_DATE.search(attribution)
        return _first_address(attribution), _parse_date(found.group(1) if found else ""), span
    fields: dict[str, str] = {}
    end = 0
    while end < len(lines) and (match := _HEADER_LINE.match(_plain(lines[end]))):
        fields.setdefault(match.group(1).lower(), match.group(2))
        end += 1
    author = next((_first_address(v) for k, v in fields.items() if k in _FROM_LABELS), "")
    date = next((_parse_date(v) for k, v in fields.items() if k in _DATE_LABELS), None)
    return author, date, end


def _dequote(lines: list[str]) -> list[str]:
    """Remove one level of ">" quoting when the block is ">"-quoted."""
    body = [line for line in lines if line.strip()]
    if not body or sum(line.lstrip().startswith(">") for line in body) * 2 < len(body):
        return lines
    return [re.sub(r"^\s*> ?", "", line) for line in lines]


# --- signature and cleanup ---------------------------------------------------------------------


def _clean(lines: list[str]) -> str:
    """The message text without its signature, with tidy whitespace."""
    lines = _strip_signature([line.rstrip() for line in lines])
    text = "\n".join(lines).strip()
    return re.sub(r"\n{3,}", "\n\n", text)


def _strip_signature(lines: list[str]) -> list[str]:
    for i, line in enumerate(lines):
        plain = _plain(line)
        # "-- " is the RFC 3676 delimiter; many clients trim it to "--"
        if plain == "--" or _DEVICE_FOOTER.match(plain) or _DISCLAIMER.match(plain):
            lines = lines[:i]
            break
    for i in range(len(lines) - 1, -1, -1):
        if _CLOSING.match(_plain(lines[i])) and _looks_like_signature(lines[i + 1 :]):
            return lines[:i]
    return lines


def _looks_like_signature(lines: list[str]) -> bool:
    filled = [line for line in lines if line.strip()]
    return len(filled) <= _MAX_SIGNATURE_LINES and all(
        len(line.strip()) <= _MAX_SIGNATURE_LINE_CHARS for line in filled
    )


# --- small helpers -----------------------------------------------------------------------------


def _name(filename: str) -> str:
    return f"'{filename}'" if filename else "the email"


def _first_address(value: str) -> str:
    match = _ADDRESS.search(value)
    return match.group(0).lower() if match else ""


def _role(address: str, domains: list[str]) -> Role:
    if not address:
        return "unknown"
    domain = address.rpartition("@")[2]
    return "agent" if any(domain == d or domain.endswith(f".{d}") for d in domains) else "customer"


def _parse_date(value: str) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    # client formats first: the RFC 5322 parser half-reads "March 10, 2025 2:15 PM" as 02:15
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None


def _informative_subject(subject: str) -> str:
    """The subject without reply prefixes when it says something; "" for ids and greetings."""
    text = _SUBJECT_PREFIX.sub("", subject).strip()
    if text.lower().strip(" .!?؟") in _GENERIC_SUBJECTS:
        return ""
    words = [w.lower() for w in re.findall(r"[^\W\d_]{3,}", text)]
    return text if any(w not in _ID_WORDS for w in words) else ""
