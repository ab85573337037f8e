"""Generate ``data/tickets/tickets.jsonl``: sample support tickets of the fictional company Lumora.

Every ticket is composed from one of many hand-written scenarios in ``ticket_scenarios.toml`` next
to this script (account and login, billing and plans, orders and shipping, returns and refunds,
Hub and camera troubleshooting, integrations and the API, privacy and security, out-of-scope
requests, and a few tickets that stayed unresolved). Each scenario has several phrasings of the
subject, the customer's message and the agent's resolution, and links to published help-center
articles; the script fails if a linked id is not a published article under ``data/kb``. The
generator fills in a customer, wraps the message the way the channel would (an email with a
greeting and signature, a web form, a chat, a phone-call note or a social-media message), and
dates the ticket in 2025-2026, respecting the dates when policies changed.

The customer messages deliberately contain personal data, because the ingestion pipeline must
redact it: names, email addresses, phone numbers (US, UK, German and other formats), street
addresses, order/invoice/return/claim numbers and, now and then, a payment card number pasted by
mistake. ALL OF THESE DATA ARE FICTIONAL. Names are invented, email domains use the reserved
``.example`` top-level domain, US and UK phone numbers come from the ranges reserved for fiction
(555-01xx, 07700 900xxx, 020 7946 0xxx, ...), other phone numbers and addresses are made up, and
every card number is a publicly documented payment-processor test number.

Run it from anywhere; the output is deterministic (``random.Random(7)``) and the script uses only
the standard library::

    python data/scripts/make_tickets.py
"""

from __future__ import annotations

import json
import random
import re
import sys
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import NoReturn

DATA = Path(__file__).resolve().parent.parent
OUTPUT = DATA / "tickets" / "tickets.jsonl"
SCENARIOS = Path(__file__).resolve().with_name("ticket_scenarios.toml")
KB = DATA / "kb"
SEED = 7
N_TICKETS = 340
FIRST_ID = 10001
START = datetime(2025, 1, 6, tzinfo=UTC)
END = datetime(2026, 11, 20, 23, 59, tzinfo=UTC)

# Facts that changed over time, as (pattern, first day it holds, first day it no longer holds).
# A scenario whose agent resolutions match a pattern must be dated inside the window.
FACT_WINDOWS = [
    (re.compile(r"\b45 days"), "2026-03-01", None),  # return window extended from 30 days
    (re.compile(r"\$3\.99|\$39 "), None, "2026-04-01"),  # Plus price before the increase
    (re.compile(r"\$4\.99|\$49\b"), "2026-04-01", None),  # Plus price from April 2026
    (re.compile(r"now return 410 Gone|was retired"), "2026-07-01", None),  # API v1 retired
]

CHANNELS = ("email", "chat", "phone", "web_form", "social")
DEFAULT_CHANNEL_WEIGHTS = {"email": 35, "chat": 26, "web_form": 19, "social": 11, "phone": 9}

# --------------------------------------------------------------------------------------------
# Fictional people
# --------------------------------------------------------------------------------------------

REGIONS: dict[str, dict[str, list[str]]] = {
    "US": {
        "first": ["Daniela", "Marcus", "Jennifer", "Tyler", "Aisha", "Brandon", "Kevin", "Rachel",
                  "Luis", "Megan", "Darnell", "Priya", "Jacob", "Stephanie", "Omar", "Kayla",
                  "Hannah", "Trevor", "Maria", "Derek", "Ashley", "Wei", "Gloria", "Frank",
                  "Tamika", "Ethan", "Rosa", "Bill"],
        "last": ["Ruiz", "Whitfield", "Okafor", "Brennan", "Nakamura", "Delgado", "Patel",
                 "Kowalski", "Jenkins", "Castillo", "Morgan", "Reyes", "Thompson", "Goldberg",
                 "Washington", "Lindqvist", "Hernandez", "Carter", "Novak", "Abernathy", "Liu",
                 "McKenna", "Bianchi", "Foster"],
        "domains": ["gmail.example", "outlook.example", "yahoo.example", "icloud.example",
                    "proton.example", "comcast.example"],
    },
    "CA": {
        "first": ["Émilie", "Connor", "Jasmine", "Raj", "Mathieu", "Kaitlyn", "Liam", "Ananya"],
        "last": ["Tremblay", "MacDonald", "Singh", "Chen", "Gagnon", "Fraser", "Leblanc",
                 "Dhillon"],
        "domains": ["gmail.example", "outlook.example", "rogers.example", "shaw.example"],
    },
    "UK": {
        "first": ["Oliver", "Charlotte", "Harry", "Amelia", "Callum", "Siobhan", "Rhys", "Imogen",
                  "Tom", "Gareth", "Fiona", "Declan", "Zara", "Nadia", "Graham", "Poppy"],
        "last": ["Pemberton", "Hughes", "McAllister", "Ashworth", "Thornton", "Begum", "Evans",
                 "Clarke", "Whitaker", "Lloyd", "Sutherland", "Okonkwo", "Barnes", "Fairclough"],
        "domains": ["btinternet.example", "gmail.example", "outlook.example", "sky.example",
                    "yahoo.example"],
    },
    "DE": {
        "first": ["Jonas", "Lena", "Markus", "Katrin", "Tobias", "Anja", "Felix", "Sabine",
                  "Jürgen", "Miriam", "Lukas", "Ayşe", "Stefan", "Birgit"],
        "last": ["Schneider", "Weber", "Hoffmann", "Becker", "Krüger", "Wagner", "Schäfer",
                 "Yılmaz", "Neumann", "Vogel", "Hartmann", "Zimmermann"],
        "domains": ["gmx.example", "web.example", "t-online.example", "posteo.example",
                    "gmail.example"],
    },
    "FR": {
        "first": ["Camille", "Julien", "Élodie", "Mathilde", "Nicolas", "Inès"],
        "last": ["Moreau", "Lefebvre", "Girard", "Fontaine", "Rousseau", "Benali"],
        "domains": ["orange.example", "free.example", "gmail.example"],
    },
    "NL": {
        "first": ["Sanne", "Daan", "Femke", "Joris", "Lotte", "Bram"],
        "last": ["de Vries", "Jansen", "van Dijk", "Bakker", "Visser", "Smit"],
        "domains": ["ziggo.example", "kpn.example", "gmail.example"],
    },
    "IE": {
        "first": ["Aoife", "Cian", "Niamh", "Seán", "Ciara", "Darragh"],
        "last": ["Murphy", "O'Brien", "Kelly", "Byrne", "Walsh", "Doyle"],
        "domains": ["eircom.example", "gmail.example", "outlook.example"],
    },
    "AU": {
        "first": ["Mitchell", "Chloe", "Lachlan", "Jess"],
        "last": ["Nguyen", "Campbell", "Harris", "Kowalczyk"],
        "domains": ["bigpond.example", "gmail.example"],
    },
}
REGION_WEIGHTS = {"US": 46, "UK": 18, "DE": 12, "CA": 9, "IE": 5, "FR": 5, "NL": 5}
EU_UK = ("UK", "DE", "FR", "NL", "IE")
EU = ("DE", "FR", "NL", "IE")

WORK_DOMAINS = ["brightwater-consulting.example", "northgate-dental.example",
                "riverside-university.example", "hope-animal-rescue.example",
                "kessler-architekten.example", "maplegrove-school.example",
                "harbourview-lettings.example", "oakline-logistics.example"]

US_CITIES = [("Portland", "OR", "972"), ("Austin", "TX", "787"), ("Columbus", "OH", "432"),
             ("Denver", "CO", "802"), ("Raleigh", "NC", "276"), ("Madison", "WI", "537"),
             ("Sacramento", "CA", "958"), ("Tampa", "FL", "336"), ("Boise", "ID", "837"),
             ("Chicago", "IL", "606"), ("Brooklyn", "NY", "112"), ("Seattle", "WA", "981"),
             ("Phoenix", "AZ", "850"), ("Minneapolis", "MN", "554"), ("Richmond", "VA", "232")]
US_STREETS = ["Maple", "Oak", "Cedar", "Elm", "Willow", "Lakeview", "Hillcrest", "Sunset",
              "Park", "Franklin", "Jefferson", "Birch", "Chestnut", "Magnolia", "Ridge",
              "Greenwood", "Prospect", "Orchard"]
US_SUFFIXES = ["Street", "St", "Avenue", "Ave", "Road", "Rd", "Drive", "Dr", "Lane", "Court",
               "Way", "Blvd", "Place"]
US_AREA = ["415", "503", "312", "617", "206", "512", "720", "919", "614", "305", "608", "916"]
CA_CITIES = [("Toronto", "ON", "M4C 1B5"), ("Vancouver", "BC", "V5K 0A1"),
             ("Calgary", "AB", "T2P 1J9"), ("Ottawa", "ON", "K1N 5T2"),
             ("Halifax", "NS", "B3H 2Y9"), ("Montréal", "QC", "H2X 1Y4")]
CA_AREA = ["416", "604", "403", "613", "902", "514"]
UK_TOWNS = [("Leeds", "LS6 2AB"), ("Bristol", "BS3 4QT"), ("Manchester", "M14 5RG"),
            ("Brighton", "BN2 1HU"), ("Edinburgh", "EH6 7LN"), ("Norwich", "NR2 3DP"),
            ("London", "SE15 4PL"), ("Cardiff", "CF24 3AA"), ("York", "YO10 5DD"),
            ("Nottingham", "NG7 1FQ")]
UK_STREETS = ["Kingsley Road", "Mill Lane", "Victoria Street", "Church Close", "Elmwood Avenue",
              "Station Road", "Ashdown Crescent", "Beech Grove", "Albert Terrace", "Orchard Way"]
DE_STREETS = ["Lindenstraße", "Schillerstraße", "Bergstraße", "Birkenweg", "Ahornweg",
              "Kastanienallee", "Rosengasse", "Hauptstraße", "Gartenstraße", "Goethestraße"]
DE_CITIES = [("10437", "Berlin"), ("20357", "Hamburg"), ("80469", "München"), ("50674", "Köln"),
             ("04109", "Leipzig"), ("79098", "Freiburg"), ("60316", "Frankfurt am Main"),
             ("70176", "Stuttgart")]
FR_STREETS = ["rue des Lilas", "rue Victor Hugo", "avenue Jean Jaurès", "rue de la République"]
FR_CITIES = [("69003", "Lyon"), ("75011", "Paris"), ("33000", "Bordeaux"), ("31000", "Toulouse")]
NL_STREETS = ["Prinsengracht", "Bloemstraat", "Kerkstraat", "Vondelstraat", "Oudegracht"]
NL_CITIES = [("1016 HX", "Amsterdam"), ("3511 LK", "Utrecht"), ("2513 AB", "Den Haag"),
             ("3012 CN", "Rotterdam")]
IE_ADDRESSES = [("{n} Seaview Terrace", "Clontarf, Dublin", "D03 X2V7"),
                ("{n} Church Road", "Cork", "T12 K8AF"), ("{n} Oak Park", "Galway", "H91 E2W4"),
                ("Apt {n}, Harbour Court", "Dún Laoghaire", "A96 K2T8")]
AU_ADDRESSES = [("{n} Wattle Street", "Fitzroy", "VIC 3065"),
                ("{n} Bondi Road", "Bondi", "NSW 2026"),
                ("{n} Jacaranda Avenue", "Paddington", "QLD 4064")]

# Publicly documented payment-processor test card numbers (never real cards).
TEST_CARDS = ["4111111111111111", "4242424242424242", "5555555555554444", "4012888888881881",
              "5105105105105100", "4000056655665556", "5200828282828210", "2223003122003222",
              "6011111111111117", "4000002500003155", "4000000000003220", "5454545454545454",
              "4000000000000077", "6011000990139424", "3566002020360505"]

ASCII_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "é": "e", "è": "e",
                            "É": "E", "ş": "s", "ı": "i", "á": "a", "ú": "u", "'": "", " ": ""})



@dataclass(frozen=True)
class Person:
    region: str
    first: str
    last: str
    email: str
    email2: str  # a work or organization address
    phone: str
    address: str  # one line
    address_block: str  # as written in a signature
    address_parts: tuple[str, str]  # the street line and the postcode (what must never leak)
    other: str  # another person in the household


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def make_phone(rng: random.Random, region: str) -> str:
    if region in ("US", "CA"):
        area = rng.choice(US_AREA if region == "US" else CA_AREA)
        tail = f"01{_digits(rng, 2)}"
        return rng.choice([f"({area}) 555-{tail}", f"{area}-555-{tail}", f"+1 {area} 555 {tail}",
                           f"{area}.555.{tail}", f"1-{area}-555-{tail}"])
    if region == "UK":
        d3 = _digits(rng, 3)
        return rng.choice([f"07700 900{d3}", f"+44 7700 900{d3}", f"020 7946 0{d3}",
                           f"0161 496 0{d3}", f"+44 (0)113 496 0{d3}", f"07700 900 {d3}"])
    if region == "DE":
        return rng.choice([f"0151 {_digits(rng, 8)}", f"+49 151 {_digits(rng, 8)}",
                           f"+49 30 {_digits(rng, 8)}", f"030 {_digits(rng, 4)} {_digits(rng, 4)}",
                           f"+49 (0)89 {_digits(rng, 4)} {_digits(rng, 4)}",
                           f"0176 {_digits(rng, 4)} {_digits(rng, 4)}"])
    if region == "FR":
        pairs = " ".join(_digits(rng, 2) for _ in range(4))
        return rng.choice([f"+33 6 {pairs}", f"06 {pairs}"])
    if region == "NL":
        return rng.choice([f"+31 6 {_digits(rng, 8)}", f"06-{_digits(rng, 8)}"])
    if region == "IE":
        return rng.choice([f"+353 87 {_digits(rng, 3)} {_digits(rng, 4)}",
                           f"087 {_digits(rng, 3)} {_digits(rng, 4)}"])
    return rng.choice([f"+61 4{_digits(rng, 2)} {_digits(rng, 3)} {_digits(rng, 3)}",
                       f"04{_digits(rng, 2)} {_digits(rng, 3)} {_digits(rng, 3)}"])


def make_address(rng: random.Random, region: str) -> tuple[str, str, tuple[str, str]]:
    """Return the address on one line, as a signature block, and its street and postcode."""
    n = rng.randint(2, 2890)
    if region == "US":
        city, state, zip3 = rng.choice(US_CITIES)
        street = f"{n} {rng.choice(US_STREETS)} {rng.choice(US_SUFFIXES)}"
        if rng.random() < 0.25:
            street += rng.choice([f", Apt {rng.randint(1, 30)}{rng.choice('ABCD')}",
                                  f" #{rng.randint(2, 40)}", f", Unit {rng.randint(1, 12)}"])
        code = f"{state} {zip3}{_digits(rng, 2)}"
        return f"{street}, {city}, {code}", f"{street}\n{city}, {code}", (street, code)
    if region == "CA":
        city, prov, postal = rng.choice(CA_CITIES)
        suffix = rng.choice(["Street", "Avenue", "Road", "Crescent"])
        street = f"{n} {rng.choice(US_STREETS)} {suffix}"
        return (f"{street}, {city}, {prov} {postal}", f"{street}\n{city}, {prov} {postal}",
                (street, postal))
    if region == "UK":
        town, postcode = rng.choice(UK_TOWNS)
        flat = f"Flat {rng.randint(1, 9)}, " if rng.random() < 0.25 else ""
        street = f"{flat}{rng.randint(1, 160)} {rng.choice(UK_STREETS)}"
        return f"{street}, {town} {postcode}", f"{street}\n{town}\n{postcode}", (street, postcode)
    if region in ("DE", "FR", "NL"):
        if region == "DE":
            (plz, city), suffix = rng.choice(DE_CITIES), rng.choice(["", "", "a", "b"])
            street = f"{rng.choice(DE_STREETS)} {rng.randint(1, 140)}{suffix}"
        elif region == "FR":
            plz, city = rng.choice(FR_CITIES)
            street = f"{rng.randint(1, 90)} {rng.choice(FR_STREETS)}"
        else:
            plz, city = rng.choice(NL_CITIES)
            street = f"{rng.choice(NL_STREETS)} {rng.randint(1, 400)}"
        return f"{street}, {plz} {city}", f"{street}\n{plz} {city}", (street, f"{plz} {city}")
    street, locality, code = rng.choice(IE_ADDRESSES if region == "IE" else AU_ADDRESSES)
    street = street.format(n=rng.randint(1, 60))
    return f"{street}, {locality} {code}", f"{street}\n{locality} {code}", (street, code)


def make_email(rng: random.Random, first: str, last: str, domain: str) -> str:
    f, s = first.lower().translate(ASCII_FOLD), last.lower().translate(ASCII_FOLD)
    user = rng.choice([f"{f}.{s}", f"{f}{s}{rng.randint(1, 99)}", f"{f[0]}{s}", f"{f}_{s}",
                       f"{f}.{s}{rng.randint(70, 99)}", f"{s}.{f}",
                       f"{f}{rng.randint(1980, 2004)}"])
    return f"{user}@{domain}"


def make_person(rng: random.Random, regions: tuple[str, ...] | None) -> Person:
    if regions:
        region = rng.choice(regions)
    else:
        region = rng.choices(list(REGION_WEIGHTS), weights=list(REGION_WEIGHTS.values()))[0]
    pool = REGIONS[region]
    first, last = rng.choice(pool["first"]), rng.choice(pool["last"])
    other = rng.choice([n for n in pool["first"] if n != first])
    address, block, parts = make_address(rng, region)
    return Person(
        region=region, first=first, last=last,
        email=make_email(rng, first, last, rng.choice(pool["domains"])),
        email2=make_email(rng, first, last, rng.choice(WORK_DOMAINS)),
        phone=make_phone(rng, region), address=address, address_block=block,
        address_parts=parts, other=other,
    )


def make_card(rng: random.Random) -> str:
    number = rng.choice(TEST_CARDS)
    sep = rng.choice([" ", " ", " ", "-"])
    return sep.join(number[i:i + 4] for i in range(0, 16, 4))


# --------------------------------------------------------------------------------------------
# Scenarios and published articles
# --------------------------------------------------------------------------------------------

PLACEHOLDER_RE = re.compile(r"\{(\w+)\}")
PLACEHOLDERS = frozenset({"first", "last", "name", "email", "email2", "phone", "address", "order",
                          "order2", "card", "last4", "invoice", "rma", "claim", "other", "recent",
                          "diag", "address_block"})
TEXT_FIELDS = ("subjects", "messages", "resolutions")


@dataclass(frozen=True)
class Scenario:
    key: str
    category: str
    product: str
    tags: tuple[str, ...]
    links: tuple[str, ...]
    weight: int
    subjects: tuple[str, ...]
    messages: tuple[str, ...]
    resolutions: tuple[str, ...]
    regions: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    after: str = ""  # first day the scenario's facts hold (ISO date)
    before: str = ""  # first day they no longer hold
    unresolved: bool = False


def fail(message: str) -> NoReturn:
    sys.exit(f"make_tickets: {message}")


def published_article_ids(kb: Path) -> set[str]:
    """Ids of the published articles under ``kb`` (Markdown front matter, JSON, JSONL, HTML)."""
    ids: set[str] = set()
    for path in sorted(kb.rglob("*")):
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        if path.suffix == ".md" and (front := re.match(r"---\n(.*?)\n---", text, re.DOTALL)):
            meta = dict(re.findall(r"^(\w+):[ \t]*(.*?)[ \t]*$", front.group(1), re.MULTILINE))
            if meta.get("status", "published").strip("\"'") == "published":
                ids.add(meta["id"].strip("\"'"))
        elif path.suffix == ".html" and 'name="kb:status" content="published"' in text:
            ids.update(re.findall(r'name="kb:id" content="([^"]+)"', text))
        elif path.suffix in (".json", ".jsonl"):
            records = ([json.loads(line) for line in text.splitlines() if line.strip()]
                       if path.suffix == ".jsonl" else json.loads(text)["articles"])
            ids.update(str(r["id"]) for r in records if _json_published(r))
    return ids


def _json_published(record: dict[str, object]) -> bool:
    hidden = any(record.get(k) is True for k in ("draft", "outdated", "archived"))
    return not hidden and record.get("status", "published") == "published"


def load_scenarios(path: Path, *, published: set[str]) -> list[Scenario]:
    """Read and check the scenarios: links must be published articles, placeholders known."""
    scenarios = []
    for raw in tomllib.loads(path.read_text(encoding="utf-8"))["scenario"]:
        fields = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
        fields = {k: tuple(t.strip() for t in v) if k in TEXT_FIELDS else v
                  for k, v in fields.items()}
        scenario = Scenario(**fields)
        if not len(scenario.subjects) == len(scenario.messages) == len(scenario.resolutions):
            fail(f"scenario {scenario.key}: subjects, messages and resolutions must pair up")
        missing = [a for a in scenario.links if a not in published]
        if missing:
            fail(f"scenario {scenario.key} links to {missing}, which are not published articles")
        for text in (t for f in TEXT_FIELDS for t in getattr(scenario, f)):
            unknown = set(PLACEHOLDER_RE.findall(text)) - PLACEHOLDERS
            if unknown:
                fail(f"scenario {scenario.key} uses unknown placeholders {sorted(unknown)}")
        for text in scenario.resolutions:  # customers may quote old facts; agents may not
            _check_dates(scenario, text)
        scenarios.append(scenario)
    if len({s.key for s in scenarios}) != len(scenarios):
        fail("two scenarios share a key")
    return scenarios


def _check_dates(scenario: Scenario, text: str) -> None:
    for pattern, since, until in FACT_WINDOWS:
        too_early = since and (not scenario.after or scenario.after < since)
        too_late = until and (not scenario.before or scenario.before > until)
        if pattern.search(text) and (too_early or too_late):
            fail(f"scenario {scenario.key} quotes '{pattern.pattern}', true only from "
                 f"{since or 'the start'} to {until or 'now'}: set after/before accordingly")


def ticket_counts(scenarios: list[Scenario], total: int) -> list[int]:
    """Split ``total`` tickets over the scenarios in proportion to their weights."""
    weight_sum = sum(s.weight for s in scenarios)
    shares = [total * s.weight / weight_sum for s in scenarios]
    counts = [int(share) for share in shares]
    by_remainder = sorted(range(len(shares)), key=lambda i: counts[i] - shares[i])
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


# --------------------------------------------------------------------------------------------
# Tickets
# --------------------------------------------------------------------------------------------

# Tickets arrive mostly during US and European daytime (weights per UTC hour).
HOUR_WEIGHTS = [2, 2, 1, 1, 1, 1, 2, 3, 5, 7, 8, 9, 10, 10, 10, 10, 10, 9, 8, 7, 6, 5, 4, 3]
TOPICS = {"account": "Account and sign-in", "billing": "Billing and subscriptions",
          "orders": "Orders and shipping", "returns": "Returns, refunds and warranty",
          "hardware": "Device troubleshooting", "integrations": "Integrations and API",
          "privacy": "Privacy and security", "out_of_scope": "Other"}
GREETINGS = ["Hi,", "Hello,", "Hi there,", "Hello Lumora team,", "Dear Lumora Support,", "Hey,", ""]
SIGNOFFS = ["Thanks,", "Thank you,", "Best regards,", "Cheers,", "Kind regards,", "Regards,",
            "Thanks in advance,", "Best,"]
SIGNATURES = ["{first}", "{name}", "{name}", "{name}\n{phone}", "{name}\n{address_block}",
              "{name}\nMobile: {phone}\n{address_block}", "{first}\n\nSent from my iPhone",
              "{name}\n{email}", "{name} | {phone} | {email}"]
CHAT_INTROS = ["Chat started from the Lumora app.", "Website chat (help center widget).",
               "Chat transferred from the shop."]
CHAT_FORMS = ["Name: {name}\nEmail: {email}", "Visitor: {name} <{email}>",
              "Pre-chat email: {email}"]


@dataclass(frozen=True)
class Ticket:
    """One generated ticket and the personal data planted in its texts, as (kind, value)."""

    record: dict[str, object]
    personal_data: tuple[tuple[str, str], ...]


def fill(template: str, values: dict[str, str]) -> str:
    return PLACEHOLDER_RE.sub(lambda m: values[m.group(1)], template)


def pick_time(rng: random.Random, scenario: Scenario) -> datetime:
    first = max(START.date(), date.fromisoformat(scenario.after or START.date().isoformat()))
    last = END.date()
    if scenario.before:
        last = min(last, date.fromisoformat(scenario.before) - timedelta(days=1))
    day = first + timedelta(days=rng.randint(0, (last - first).days))
    hour = rng.choices(range(24), weights=HOUR_WEIGHTS)[0]
    return datetime(day.year, day.month, day.day, hour, rng.randint(0, 59), rng.randint(0, 59),
                    tzinfo=UTC)


def ticket_values(rng: random.Random, person: Person, created: datetime) -> dict[str, str]:
    card = make_card(rng)
    day = created - timedelta(days=rng.randint(3, 12))
    us_style = person.region in ("US", "CA")
    return {
        "first": person.first, "last": person.last, "name": f"{person.first} {person.last}",
        "email": person.email, "email2": person.email2, "phone": person.phone,
        "address": person.address, "address_block": person.address_block, "other": person.other,
        "order": f"LM-{rng.randint(20000000, 29999999)}",
        "order2": f"LM-{rng.randint(20000000, 29999999)}",
        "card": card, "last4": card[-4:],
        "invoice": f"LUM-{created.year}-{rng.randint(1000, 99999):07d}",
        "rma": f"RMA-{rng.randint(1000000, 9999999)}", "claim": f"WC-{rng.randint(100000, 999999)}",
        "recent": f"{day:%B} {day.day}" if us_style else f"{day.day} {day:%B}",
        "diag": f"DX-{rng.randint(0, 0xFFFF):04X}",
    }


def wrap(rng: random.Random, *, channel: str, template: str, scenario: Scenario,
         values: dict[str, str]) -> str:
    """The customer's message as the channel delivers it, with the contact details it carries."""
    if channel in ("chat", "social") and rng.random() < 0.3:
        template = template.lower()  # typed quickly on a phone
    message = fill(template, values)
    if channel == "email":
        greeting = rng.choice(GREETINGS)
        text = f"{greeting}\n\n{message}" if greeting else message
        if not re.search(r"\{(first|name)\}", template.splitlines()[-1]):
            text += f"\n\n{rng.choice(SIGNOFFS)}\n{fill(rng.choice(SIGNATURES), values)}"
        return text
    if channel == "web_form":
        fields = [f"Name: {values['name']}", f"Email: {values['email']}"]
        fields += [f"Phone: {values['phone']}"] if rng.random() < 0.6 else []
        fields += [f"Order number: {values['order']}"] if "{order}" in template else []
        fields += [f"Topic: {TOPICS[scenario.category]}"]
        return "\n".join(fields) + f"\n\nMessage:\n{message}"
    if channel == "chat":
        form = fill(rng.choice(CHAT_FORMS), values)
        return f"{rng.choice(CHAT_INTROS)}\n{form}\n\nCustomer: {message}"
    if channel == "phone":
        return (f"Inbound call on the Pro support line. Caller: {values['name']}, callback number "
                f"{values['phone']}; identity checked with the account email {values['email']}."
                f"\n\nCustomer's words as noted by the agent: {message}")
    platform = rng.choice(["X", "Facebook", "Instagram"])
    text = f"Direct message on {platform} (moved from a public post).\n\n{message}"
    return text + (f"\n\nAccount email: {values['email']}" if rng.random() < 0.5 else "")


def pick_channel(rng: random.Random, scenario: Scenario) -> str:
    channels = scenario.channels or CHANNELS
    weights = [DEFAULT_CHANNEL_WEIGHTS[c] for c in channels]
    return rng.choices(channels, weights=weights)[0]


def planted(
    values: dict[str, str], person: Person, texts: Iterable[str]
) -> tuple[tuple[str, str], ...]:
    joined = "\n".join(texts)
    candidates = [("email", values["email"]), ("email", values["email2"]),
                  ("phone", values["phone"]), ("card", values["card"]),
                  *(("address", part) for part in person.address_parts),
                  *((kind, values[kind]) for kind in ("order", "order2", "invoice", "rma")),
                  ("claim", values["claim"]),
                  *(("name", name) for name in (person.first, person.last, person.other))]
    return tuple(dict.fromkeys(
        (kind, value) for kind, value in candidates
        if re.search(rf"(?<!\w){re.escape(value)}(?!\w)", joined)))


def make_ticket(rng: random.Random, scenario: Scenario, *, case: int) -> Ticket:
    person = make_person(rng, scenario.regions or None)
    created = pick_time(rng, scenario)
    values = ticket_values(rng, person, created)
    channel = pick_channel(rng, scenario)
    subject = fill(rng.choice(scenario.subjects[case].split(" | ")), values)
    if channel == "chat" and rng.random() < 0.4:
        subject = ""  # chats often have no subject
    message = wrap(rng, channel=channel, template=scenario.messages[case],
                   scenario=scenario, values=values)
    resolution = fill(scenario.resolutions[case], values)
    record: dict[str, object] = {
        "id": "", "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"), "channel": channel,
        "subject": subject, "customer_message": message, "agent_resolution": resolution,
        "linked_article_ids": list(scenario.links), "tags": list(scenario.tags),
        "resolved": not scenario.unresolved, "customer_name": values["name"],
        "product": scenario.product,
    }
    return Ticket(record, planted(values, person, (subject, message, resolution)))


def build_tickets(*, kb: Path = KB, scenarios_path: Path = SCENARIOS,
                  total: int = N_TICKETS) -> tuple[list[Scenario], list[Ticket]]:
    """All tickets, oldest first, with ids in date order."""
    scenarios = load_scenarios(scenarios_path, published=published_article_ids(kb))
    rng = random.Random(SEED)
    tickets = []
    for scenario, count in zip(scenarios, ticket_counts(scenarios, total), strict=True):
        first_case = rng.randrange(len(scenario.messages))  # cycle so that every case is used
        tickets += [make_ticket(rng, scenario, case=(first_case + k) % len(scenario.messages))
                    for k in range(count)]
    tickets.sort(key=lambda t: str(t.record["created_at"]))
    return scenarios, [Ticket({**t.record, "id": f"T-{number}"}, t.personal_data)
                       for number, t in enumerate(tickets, start=FIRST_ID)]


def main() -> None:
    scenarios, tickets = build_tickets()
    lines = [json.dumps(t.record, ensure_ascii=False) for t in tickets]
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    open_tickets = sum(1 for t in tickets if not t.record["resolved"])
    print(f"wrote {len(tickets)} tickets from {len(scenarios)} scenarios to {OUTPUT} "
          f"({OUTPUT.stat().st_size:,} bytes, {open_tickets} unresolved)")


if __name__ == "__main__":
    main()
