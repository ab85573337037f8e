"""Personal-data redaction for support tickets before they enter the knowledge base.

Detectors run in a fixed order, each on the output of the previous one, and replace what they
find with a placeholder such as ``[EMAIL]``. The order matters:

1. Emails first: they contain names and digits that later detectors would half-match.
2. Order numbers (``LUM-2026-004512``) before cards and phones, so their digits are never read
   as part of a longer card or phone number.
3. Cards before phones: a 16-digit card grouped ``4111 1111 1111 1111`` contains runs that look
   like phone numbers; redacting a phone inside it would leave the other card digits visible.
   Card security codes (``cvv 123``) come right after cards; only the digits are replaced
   (``cvv [CVV]``), and only after a keyword, as three digits alone are no personal data.
4. Phones before addresses, so an address tail (city, ZIP) cannot swallow a phone number.
5. Names last: greetings and sign-offs are easiest to spot once the other data is gone.

Formats covered: emails; US, UK, German, French, Dutch, Irish and Australian phone numbers;
13-19 digit card numbers, grouped or not (no Luhn check, so mistyped cards are caught too);
3-4 digit card security codes after CVV, CVC, CVV2, CID, CSC or "security code";
US/Canadian/UK/Irish/Australian street addresses and postcodes and German/Dutch/French streets.
Name detection is heuristic (greetings, sign-offs, self-introductions, ``Name:`` lines and
names given by the caller); a name mentioned only mid-sentence is not found. Company contact
details (``support@...``, a support hotline) are redacted like any others.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from itertools import pairwise

__all__ = ["find_personal_data", "redact"]

Finding = tuple[str, str]

_EMAIL_RE = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
    r"(?![\w-])"
)
# LUM-2026-004512 is the order format; the help center also shows shop orders as LM-20461375.
# Order (LM-), invoice (LUM-), return (RMA-) and warranty-claim (WC-) numbers.
_ORDER_RE = re.compile(
    r"(?<![\w-])(?:LUM-\d{4}-\d{6,7}|LM-\d{8}|RMA-\d{5,10}|WC-\d{5,10})(?![\w-])", re.IGNORECASE
)
# A run of digit groups joined by single spaces or dashes; _card_spans picks the card inside.
_DIGIT_RUN_RE = re.compile(r"(?<![\w.,/:+-])\d+(?:[ -]\d+)*(?![\w/]|[.,]\d)")
# "cvv 123", "CVC: 9876", "CVV2 is 055", "security code #123": the code is the group.
_CVV_RE = re.compile(
    r"\b(?i:cvv2?|cvc2?|cv2|cid|csc|(?:card[ \t]+)?security[ \t]+code|"
    r"card[ \t]+verification[ \t]+(?:value|code|number))\b"
    r"(?:[ \t]*(?:[:=#-]|(?i:is|was|number|code|no)\b\.?)){0,3}"
    r"[ \t]*(?P<code>\d{3,4})(?![\w]|[.,]\d)"
)
_PHONE_RE = re.compile(
    r"""
    (?:
        (?<![\w+])\+\d{1,3}(?:[ .-]?\(0\))?[ .-]?\(?\d{1,5}\)?(?:[ .-]?\d{2,5}){1,5}
      | (?<![\w.+/:-])\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}                  # (555) 123-4567
      | (?<![\w.+/:-])(?:1[ .-])?\d{3}(?P<sep>[ .-])\d{3}(?P=sep)\d{4}   # 555-123-4567
      | (?<![\w.+/:-])(?P<trunk>                                        # national, leading 0
            0\d{2,4}[ -]?\d{3,4}(?:[ -]?\d{3,4})?                      # 07700 900123
          | 0\d(?:[ .-]?\d{2}){4}                                      # 06 12 34 56 78
          | 0\d[ -]\d{8}                                               # 06-12345678
        )
    )
    (?![\w]|[.,:/-]\d)
    """,
    re.VERBOSE,
)
_STATES = (  # US states and Canadian provinces
    "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|"
    "NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|"
    "AB|BC|MB|NB|NL|NS|NT|NU|ON|PE|QC|SK|YT"
)
_STATE = rf"(?:{_STATES})\b"
_AU_STATE_POSTCODE = r"(?:NSW|VIC|QLD|WA|SA|TAS|ACT|NT)[ \t]+\d{4}\b"
_ZIP = r"\d{5}(?:-\d{4})?\b"
_UK_POSTCODE = r"\b(?:[A-Z]{1,2}\d[A-Z\d]?|GIR) \d[A-Z]{2}\b"
_CA_POSTCODE = r"\b[A-Z]\d[A-Z] ?\d[A-Z]\d\b"
_EIRCODE = r"\b(?:[AC-FHKNPRTV-Y]\d{2}|D6W) ?[0-9AC-FHKNPRTV-Y]{4}\b"
_POSTCODE = rf"(?:{_UK_POSTCODE}|{_CA_POSTCODE}|{_EIRCODE})"
_CAP_WORD = r"[A-ZÀ-ÖØ-Þ][\w'.-]*"
_CITY = rf"{_CAP_WORD}(?:[ \t]{_CAP_WORD}){{0,2}}"
_SUFFIX = (
    r"(?i:street|st|avenue|ave|road|rd|lane|ln|drive|dr|boulevard|blvd|way|court|ct|place|pl|"
    r"terrace|close|crescent|grove|gardens|mews|row|park|walk|parkway|pkwy|highway|hwy|square|"
    r"sq)\b\.?"
)
_UNIT = r"(?i:apt|apartment|unit|suite|ste|flat|floor|\#)\.?[ \t]*\#?[ \t]*[A-Za-z0-9-]+"
_HOUSE = rf"(?:{_UNIT},?(?:[ \t]+\d{{1,6}}[A-Za-z]?)?|\d{{1,6}}[A-Za-z]?)"
_TAIL = (
    rf"(?:,?\s+(?:{_CITY},?\s+){{0,2}}"
    rf"(?:{_AU_STATE_POSTCODE}|{_STATE}(?:\s+(?:{_ZIP}|{_CA_POSTCODE}))?|{_POSTCODE}|{_ZIP}))"
)
# "10115 Berlin", "60316 Frankfurt am Main", "1016 HX Amsterdam"
_EU_PLACE = (
    r"(?:,?\s+(?:\d{5}|\d{4} ?[A-Z]{2})[ \t]+[A-ZÀ-Þ][\w-]*(?:[ \t]+(?:am|an|[A-Z][\w-]*)){0,2})"
)
_ADDRESS_RES = (
    # "742 Evergreen Terrace, Springfield, IL 62704", "Flat 3, 42 Mill Lane\nLeeds\nLS6 2AB"
    re.compile(
        rf"\b{_HOUSE}(?:[ \t]+|,?\n)(?:{_CAP_WORD}|\d+(?:st|nd|rd|th))"
        rf"(?:[ \t]+(?:{_CAP_WORD}|\d+(?:st|nd|rd|th))){{0,3}}?[ \t]+{_SUFFIX}"
        rf"(?:[ \t]+(?:N|S|E|W|NE|NW|SE|SW)\b)?(?:,?[ \t]*{_UNIT})?{_TAIL}?"
    ),
    # German and Dutch: street name, then house number, then "10115 Berlin" or "1016 HX Amsterdam".
    re.compile(
        r"\b[A-ZÄÖÜ][a-zäöüß]+(?:straße|strasse|str\.|weg|gasse|platz|allee|straat|gracht|laan|"
        rf"plein|kade|singel|dijk)[ \t]+\d{{1,4}}[a-z]?\b{_EU_PLACE}?"
    ),
    # French: "12 rue de la République, 75011 Paris"
    re.compile(
        r"\b\d{1,4}(?:[ \t]?(?:bis|ter))?,?[ \t]+(?:rue|avenue|boulevard|bd|place|chemin|allée|"
        r"impasse|quai|route)(?:[ \t]+(?:(?:de|du|des|la|le|les)\b|[ld]['’][A-ZÀ-Þ][\w'-]*|"
        rf"[A-ZÀ-Þ][\w'-]*))+{_EU_PLACE}?"
    ),
    re.compile(rf"\b{_CITY},[ \t]*{_STATE}[ \t]+(?:{_ZIP}|{_CA_POSTCODE})"),
    re.compile(rf"\b{_STATE}[ \t]+\d{{5}}-\d{{4}}\b"),
    re.compile(_POSTCODE),
)

# Capitalised words that follow greetings, sign-offs and "this is" without being names.
_NOT_NAMES_TEXT = """
    a again agent alexa all also am amazon an and android another any app apple are at away back
    being best billing bluetooth bridge bulb cam camera care cheers customer customers dear did
    do doorbell dr email english ethernet everybody everyone firmware folks for friday friend
    friends from getting glad good google great greetings guys had happy has have having hello
    help helpdesk hey hi home homekit hope how hub i if in is it just kind light lights lock
    looking lumora madam many matter max me mini miss monday morning mr mrs ms much mx my new no
    not now ok okay on one our outdoor please plug plus pro prof quick reaching really regards
    sales saturday sensor service siri so sorry speaker staff still strip sunday support sure
    team tech technical thank thanks that the there this thread thursday to trying tuesday two
    unable unfortunately update using very we wednesday well what when which why wi-fi wifi will
    with writing yes you your zigbee
"""
_NOT_NAMES = frozenset(_NOT_NAMES_TEXT.split())
_NOT_A_NAME = r"(?!(?i:" + "|".join(re.escape(w) for w in sorted(_NOT_NAMES)) + r")\b)"
_UP = "A-ZÀ-ÖØ-ÞŁŚŽŠČĆŻŹ"
_LOW = "a-zß-öø-ÿ\u0100-\u017f"
_NAME_WORD = rf"[{_UP}][{_LOW}]*(?:['’]?[{_UP}][{_LOW}]+)*(?:-[{_UP}][{_LOW}]+)*"
# Lowercase particles inside surnames: "Daan de Vries", "Ludwig van der Berg".
_PARTICLES = frozenset({"al", "bin", "da", "de", "del", "della", "den", "der", "di", "dos", "du"})
_PARTICLES |= {"el", "la", "le", "ten", "ter", "van", "von"}
_PARTICLE = "(?:" + "|".join(sorted(_PARTICLES)) + r")[ \t]+"
# The first word is never an ordinary word, so "Thanks.\nBest,\nTom" finds Tom, not "Best".
_NAME = rf"(?P<name>{_NOT_A_NAME}{_NAME_WORD}(?:[ \t]+(?:{_PARTICLE}){{0,2}}{_NAME_WORD}){{0,2}})"
_HONORIFIC = r"(?:(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof)\.?[ \t]+)?"
_GREETING = r"\b(?i:hi|hello|hey|dear|greetings|good[ \t]+(?:morning|afternoon|evening))"
_SIGNOFF = (
    r"\b(?i:many[ \t]+thanks|thanks|thank[ \t]+you|thx|(?:best|kind|warm)[ \t]+regards|regards|"
    r"best[ \t]+wishes|best|cheers|sincerely|yours[ \t]+(?:sincerely|truly)|take[ \t]+care)"
)
_END_OF_LINE = r"(?=[ \t]*(?:[.!,]?[ \t]*(?:\n|$)|[(|–—-]))"
_NAME_RES = (
    re.compile(
        rf"{_GREETING},?[ \t]+{_HONORIFIC}{_NAME}(?=[ \t]*(?:[,!.:;\n]|$)|[ \t]+[a-z])",
        re.MULTILINE,
    ),
    re.compile(rf"{_SIGNOFF}[ \t]*[,!.–—-]?[ \t]*(?:\n[ \t]*)?{_NAME}{_END_OF_LINE}"),
    re.compile(
        rf"{_SIGNOFF}(?:[ \t]+[a-z']+){{1,6}}[ \t]*[,!.]?[ \t]*\n[ \t]*{_NAME}{_END_OF_LINE}"
    ),
    re.compile(rf"\b(?i:my[ \t]+name[ \t]+is|this[ \t]+is|i['’]m)[ \t]+{_NAME}"),
    re.compile(
        rf"^[ \t]*(?i:(?:customer|full|your|contact)[ \t]+)?(?i:name)[ \t]*[:=][ \t]*{_NAME}",
        re.MULTILINE,
    ),
)
_PLACEHOLDERS = {
    kind: f"[{kind.upper()}]"
    for kind in ("email", "order", "card", "cvv", "phone", "address", "name")
}


def redact(text: str, *, names: Iterable[str] = ()) -> str:
    """Replace personal data in ``text`` with placeholders such as ``[EMAIL]`` and ``[NAME]``.

    Args:
        text: Free text, e.g. a customer message or an agent reply.
        names: Names known from structured fields (e.g. the ticket's requester); every
            occurrence of them, or of their parts, is redacted too.

    Returns:
        The text with emails, order numbers, card numbers and security codes, phone numbers,
        street addresses and personal names replaced.
    """
    return _scan(text, names=names)[0]


def find_personal_data(text: str, *, names: Iterable[str] = ()) -> list[Finding]:
    """List the personal data that :func:`redact` would replace.

    Args:
        text: Free text to audit.
        names: Names known from structured fields, as for :func:`redact`.

    Returns:
        ``(kind, matched_text)`` pairs in detection order; kind is one of ``email``, ``order``,
        ``card``, ``cvv``, ``phone``, ``address`` and ``name``.
    """
    return _scan(text, names=names)[1]


def _scan(text: str, *, names: Iterable[str]) -> tuple[str, list[Finding]]:
    findings: list[Finding] = []
    # The order matters (see the module docstring). Above all, cards go before phones: a phone
    # match inside "4111 1111 1111 1111" would leave the rest of the card number readable.
    text = _replace(text, "email", _EMAIL_RE.finditer, findings)
    text = _replace(text, "order", _ORDER_RE.finditer, findings)
    text = _replace(text, "card", _card_spans, findings)
    text = _replace(text, "cvv", _cvv_spans, findings)
    text = _replace(text, "phone", _phone_spans, findings)
    for pattern in _ADDRESS_RES:
        text = _replace(text, "address", pattern.finditer, findings)
    return _redact_names(text, names=names, findings=findings), findings


def _replace(
    text: str,
    kind: str,
    finder: Callable[[str], Iterable[re.Match[str] | tuple[int, int]]],
    findings: list[Finding],
) -> str:
    """Replace every span ``finder`` yields with the placeholder of ``kind``."""
    spans = [m.span() if isinstance(m, re.Match) else m for m in finder(text)]
    if not spans:
        return text
    pieces, last = [], 0
    for start, end in spans:
        findings.append((kind, text[start:end]))
        pieces += [text[last:start], _PLACEHOLDERS[kind]]
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def _card_spans(text: str) -> Iterable[tuple[int, int]]:
    """Spans of card-like numbers: 13-19 digits, ungrouped or grouped as cards are printed."""
    for run in _DIGIT_RUN_RE.finditer(text):
        groups = list(re.finditer(r"\d+", run.group()))
        lengths = [len(g.group()) for g in groups]
        separators = [run.group()[a.end() : b.start()] for a, b in pairwise(groups)]
        i = 0
        while i < len(groups):
            end = _longest_card(lengths, separators, i)
            if end:
                yield run.start() + groups[i].start(), run.start() + groups[end - 1].end()
            i = end or i + 1


def _longest_card(lengths: list[int], separators: list[str], start: int) -> int:
    """End (exclusive) of the longest card made of groups ``start..``, or 0 if there is none.

    A card has 13-19 digits, one kind of separator, and every group but the last has 4+ digits
    (4-4-4-4, 4-6-5, 4-4-4-1), so dates such as ``2026-03-14 2026-03-15`` never qualify.
    """
    best, digits = 0, 0
    for end in range(start, len(lengths)):
        digits += lengths[end]
        if digits > 19 or (end > start and separators[end - 1] != separators[start]):
            break
        if digits >= 13:
            best = end + 1
        if lengths[end] < 4:  # a short group can only be the last one
            break
    return best


def _cvv_spans(text: str) -> Iterable[tuple[int, int]]:
    """Spans of the digits of card security codes that follow a keyword."""
    return (match.span("code") for match in _CVV_RE.finditer(text))


def _phone_spans(text: str) -> Iterable[tuple[int, int]]:
    position = 0
    while (match := _PHONE_RE.search(text, position)) is not None:
        end = _phone_end(match)
        if end is None:
            position = match.start() + 1
        else:
            yield match.start(), end
            position = end


def _phone_end(match: re.Match[str]) -> int | None:
    """Where the phone number in ``match`` ends, or None if it is not a plausible number."""
    number = match.group()
    digits = len(re.sub(r"\(0\)|\D", "", number))
    if match.group("trunk"):  # national format with a leading 0: 10-12 digits in Europe
        return match.end() if 10 <= digits <= 12 else None
    if 7 <= digits <= 15:
        return match.end()
    # Too long: an international number ran into the next number ("+49 30 1234567 030 ...").
    # Cut at the first separator after which the number has the 10+ digits most countries use.
    counted = 0
    for group in re.finditer(r"\(0\)|\d+", number):
        counted += 0 if group.group() == "(0)" else len(group.group())
        if counted >= 10:
            return match.start() + group.end() if counted <= 15 else None
    return None


def _redact_names(text: str, *, names: Iterable[str], findings: list[Finding]) -> str:
    """Redact names found by the heuristics, then every other mention of those names."""
    spans: list[tuple[int, int]] = []
    for pattern in _NAME_RES:
        for match in pattern.finditer(text):
            words = _leading_name_words(match.group("name"))
            if words:
                start = match.start("name")
                spans.append((start, start + _span_of_words(text[start:], words)))
    found = [text[start:end] for start, end in _merge(spans)]
    text = _replace(text, "name", lambda _: _merge(spans), findings)
    text = _redact_mentions(text, found, findings=findings, ignore_case=False)
    # Names from structured fields are certain, so match them in any case ("maria lopez").
    return _redact_mentions(text, names, findings=findings, ignore_case=True)


def _leading_name_words(candidate: str) -> list[str]:
    """The words of ``candidate`` up to the first word that is not a name."""
    words: list[str] = []
    for word in candidate.split():
        if word in _PARTICLES:
            words.append(word)
            continue
        if word.lower() in _NOT_NAMES or len(word) < 2:
            break
        words.append(word)
    while words and words[-1] in _PARTICLES:
        words.pop()
    return words


def _span_of_words(text: str, words: list[str]) -> int:
    """Length of the prefix of ``text`` that holds ``words`` separated by spaces or tabs."""
    match = re.match(r"[ \t]+".join(map(re.escape, words)), text)
    return match.end() if match else len(words[0])


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(set(spans)):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _redact_mentions(
    text: str, mentions: Iterable[str], *, findings: list[Finding], ignore_case: bool
) -> str:
    """Redact whole-word mentions of known names (longest first, so full names win).

    A full name is always redacted; its single words only when they are not ordinary words,
    so a customer called "Will Hope" does not turn every "will" into ``[NAME]``.
    """
    full = {" ".join(m.split()) for m in mentions}
    parts = {w for m in full for w in m.split() if w.lower() not in _NOT_NAMES | _PARTICLES}
    keep = {m for m in full | parts if len(m) >= 2}
    if not keep:
        return text
    alternatives = "|".join(
        r"[ \t]+".join(map(re.escape, m.split())) for m in sorted(keep, key=len, reverse=True)
    )
    flags = re.IGNORECASE if ignore_case else 0
    pattern = re.compile(rf"(?<![\w\[])(?:{alternatives})(?![\w\]])", flags)
    return _replace(text, "name", pattern.finditer, findings)
