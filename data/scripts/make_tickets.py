"""Generate ``tickets.jsonl``: sample historical support tickets for the fictional company Lumora.

Every ticket is composed from one of many hand-written scenarios (account and login, billing and
plans, orders and shipping, returns and refunds, Hub and camera troubleshooting, integrations and
the API, privacy and security, out-of-scope requests, and a few tickets that stayed unresolved).
Each scenario has several phrasings of the customer's message and of the agent's resolution, and
the generator fills in a customer, wraps the message the way the channel would (an email with a
greeting and signature, a web form, a chat, a phone transcript or a social-media message), and
dates the ticket in 2025-2026.

The customer messages deliberately contain personal data, because the ingestion pipeline must
redact it: names, email addresses, phone numbers (US, UK, German and other formats), street
addresses, order/return/claim numbers and, now and then, a payment card number pasted by mistake.
ALL OF THESE DATA ARE FICTIONAL. Names are invented, email domains use the reserved ``.example``
top-level domain, US and UK phone numbers come from the ranges reserved for fiction (555-01xx,
07700 900xxx, 020 7946 0xxx, ...), other phone numbers and addresses are made up, and every card
number is a publicly documented payment-processor test number.

Run it from anywhere; it writes ``tickets.jsonl`` next to this file. The output is deterministic
(``random.seed(7)``) and the script uses only the standard library::

    python data/tickets/make_tickets.py
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

OUTPUT = Path(__file__).with_name("tickets.jsonl")
N_TICKETS = 340
FIRST_ID = 10001
START = datetime(2025, 1, 6, tzinfo=timezone.utc)
END = datetime(2026, 11, 20, 23, 59, tzinfo=timezone.utc)

# Dates when policies in the fact sheet changed. Scenarios that quote the new policy are dated after.
RETURNS_45_DAYS = "2026-03-01"
PLUS_PRICE_499 = "2026-04-01"
API_V1_RETIRED = "2026-07-01"

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
        "last": ["Tremblay", "MacDonald", "Singh", "Chen", "Gagnon", "Fraser", "Leblanc", "Dhillon"],
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
IE_ADDRESSES = ["{n} Seaview Terrace, Clontarf, Dublin D03 X2V7", "{n} Church Road, Cork T12 K8AF",
                "{n} Oak Park, Galway H91 E2W4", "Apt {n}, Harbour Court, Dún Laoghaire A96 K2T8"]
AU_ADDRESSES = ["{n} Wattle Street, Fitzroy VIC 3065", "{n} Bondi Road, Bondi NSW 2026",
                "{n} Jacaranda Avenue, Paddington QLD 4064"]

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
    email2: str
    phone: str
    address: str  # one line
    address_block: str  # as written in a signature
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


def make_address(rng: random.Random, region: str) -> tuple[str, str]:
    """Return the address on one line and as a signature block."""
    n = rng.randint(2, 2890)
    if region == "US":
        city, state, zip3 = rng.choice(US_CITIES)
        street = f"{n} {rng.choice(US_STREETS)} {rng.choice(US_SUFFIXES)}"
        if rng.random() < 0.25:
            street += rng.choice([f", Apt {rng.randint(1, 30)}{rng.choice('ABCD')}",
                                  f" #{rng.randint(2, 40)}", f", Unit {rng.randint(1, 12)}"])
        tail = f"{city}, {state} {zip3}{_digits(rng, 2)}"
        return f"{street}, {tail}", f"{street}\n{tail}"
    if region == "CA":
        city, prov, postal = rng.choice(CA_CITIES)
        street = f"{n} {rng.choice(US_STREETS)} {rng.choice(['Street', 'Avenue', 'Road', 'Crescent'])}"
        return f"{street}, {city}, {prov} {postal}", f"{street}\n{city}, {prov} {postal}"
    if region == "UK":
        town, postcode = rng.choice(UK_TOWNS)
        flat = f"Flat {rng.randint(1, 9)}, " if rng.random() < 0.25 else ""
        street = f"{flat}{rng.randint(1, 160)} {rng.choice(UK_STREETS)}"
        return f"{street}, {town} {postcode}", f"{street}\n{town}\n{postcode}"
    if region == "DE":
        plz, city = rng.choice(DE_CITIES)
        street = f"{rng.choice(DE_STREETS)} {rng.randint(1, 140)}{rng.choice(['', '', 'a', 'b'])}"
        return f"{street}, {plz} {city}", f"{street}\n{plz} {city}"
    if region == "FR":
        cp, city = rng.choice(FR_CITIES)
        street = f"{rng.randint(1, 90)} {rng.choice(FR_STREETS)}"
        return f"{street}, {cp} {city}", f"{street}\n{cp} {city}"
    if region == "NL":
        pc, city = rng.choice(NL_CITIES)
        street = f"{rng.choice(NL_STREETS)} {rng.randint(1, 400)}"
        return f"{street}, {pc} {city}", f"{street}\n{pc} {city}"
    pattern = rng.choice(IE_ADDRESSES if region == "IE" else AU_ADDRESSES)
    line = pattern.format(n=rng.randint(1, 60))
    return line, line.replace(", ", "\n")


def make_email(rng: random.Random, first: str, last: str, domain: str) -> str:
    f, l = first.lower().translate(ASCII_FOLD), last.lower().translate(ASCII_FOLD)
    user = rng.choice([f"{f}.{l}", f"{f}{l}{rng.randint(1, 99)}", f"{f[0]}{l}", f"{f}_{l}",
                       f"{f}.{l}{rng.randint(70, 99)}", f"{l}.{f}", f"{f}{rng.randint(1980, 2004)}"])
    return f"{user}@{domain}"


def make_person(rng: random.Random, regions: tuple[str, ...] | None) -> Person:
    if regions:
        region = rng.choice(regions)
    else:
        region = rng.choices(list(REGION_WEIGHTS), weights=list(REGION_WEIGHTS.values()))[0]
    pool = REGIONS[region]
    first, last = rng.choice(pool["first"]), rng.choice(pool["last"])
    other = rng.choice([n for n in pool["first"] if n != first])
    address, block = make_address(rng, region)
    return Person(
        region=region, first=first, last=last,
        email=make_email(rng, first, last, rng.choice(pool["domains"])),
        email2=make_email(rng, first, last, rng.choice(WORK_DOMAINS)),
        phone=make_phone(rng, region), address=address, address_block=block, other=other,
    )


def make_card(rng: random.Random) -> str:
    number = rng.choice(TEST_CARDS)
    sep = rng.choice([" ", " ", " ", "-"])
    return sep.join(number[i:i + 4] for i in range(0, 16, 4))
