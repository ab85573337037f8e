"""Vocabulary of the synthetic help center: products, tasks, symptoms and sentence templates.

Kept apart from the generator so the generator reads as structure, not word lists. Templates
use ``str.format`` slots filled by :mod:`eval.bench.synth`.
"""

from __future__ import annotations

PRODUCTS = (
    ("lumora-hub", "Lumora Hub"), ("hub-mini", "Hub Mini"), ("cam-indoor", "Cam Indoor"),
    ("cam-outdoor", "Cam Outdoor"), ("cam-floodlight", "Floodlight Cam"),
    ("doorbell", "Video Doorbell"), ("doorbell-pro", "Doorbell Pro"),
    ("motion-sensor", "Motion Sensor"), ("contact-sensor", "Contact Sensor"),
    ("leak-sensor", "Leak Sensor"), ("smart-plug", "Smart Plug"), ("smart-bulb", "Smart Bulb"),
    ("siren", "Indoor Siren"), ("keypad", "Keypad"), ("thermostat", "Thermostat"),
    ("chime", "Chime"), ("smoke-listener", "Smoke Listener"), ("garage", "Garage Controller"),
)
GENERATIONS = ("", " (2nd gen)", " (3rd gen)", " Pro", " Lite")
CATEGORIES = (("hardware", "hw"), ("setup", "set"), ("troubleshooting", "ts"),
              ("account", "acct"), ("billing", "bill"), ("integrations", "int"),
              ("privacy", "priv"), ("orders", "ship"))

TASKS = (
    "set up motion zones", "change the Wi-Fi network", "update the firmware", "factory reset",
    "share access with family", "turn on night vision", "schedule recording",
    "adjust motion sensitivity", "enable two-factor sign-in", "mount on a wall",
    "replace the battery", "pair with the Hub", "rename the device", "move to another room",
    "turn off the status light", "set quiet hours", "download a video clip",
    "set up package detection", "connect to a mesh network", "enable away mode",
    "create an automation", "calibrate the temperature", "change the chime sound",
    "set up privacy masks", "export the event history", "turn on local storage",
    "set the time zone", "test the siren", "reduce false alerts", "check the signal strength",
    "install the weather cover", "link a second phone", "transfer ownership",
    "set up geofencing", "change notification sounds", "use two-way talk",
)
SYMPTOMS = (
    "keeps going offline", "shows a red light", "won't pair", "has a blurry picture",
    "sends too many alerts", "drains the battery quickly", "is stuck updating",
    "records no sound", "shows the wrong temperature", "doesn't ring the chime",
    "is slow to load live view", "disconnects at night", "won't turn on",
    "lost its schedule", "shows a black screen", "beeps every minute", "is not detected",
    "misses motion events", "has a flickering light", "cannot reach the cloud",
)
FEATURES = (
    "motion zones", "person detection", "package detection", "night vision", "two-way talk",
    "cloud recording", "local storage", "activity history", "smart alerts", "quiet hours",
    "geofencing", "away mode", "live view", "snapshot mode", "privacy masks", "siren",
    "event timeline", "sound detection", "energy reports", "scenes", "automations",
)
INTEGRATIONS = ("Amazon Alexa", "Google Home", "Apple Home", "IFTTT", "SmartThings",
                "Matter", "Home Assistant", "Philips Hue", "Sonos", "Zapier")
PLANS = ("Plus", "Pro", "Basic", "Family", "Business")
REGIONS = ("United States", "Canada", "United Kingdom", "Ireland", "Germany", "France",
           "Spain", "Italy", "Netherlands", "Belgium", "Austria", "Switzerland", "Sweden",
           "Norway", "Denmark", "Finland", "Poland", "Portugal", "Australia", "New Zealand",
           "Japan", "Singapore", "Mexico", "Brazil")
SCREENS = ("Settings", "Device settings", "Notifications", "Account", "Billing", "Home",
           "Automations", "Members", "Privacy", "Storage", "Power", "Network", "Advanced")
SETTINGS = ("Motion sensitivity", "Recording length", "Status light", "Night mode",
            "Alert frequency", "Video quality", "Audio recording", "Auto-update",
            "Battery saver", "Detection range", "Chime volume", "Retrigger time",
            "Privacy mode", "Offline alerts", "Event cooldown", "Image rotation")
ACCOUNT_TOPICS = ("change your email address", "reset your password", "delete your account",
                  "download your data", "manage signed-in devices", "change your home name",
                  "add a second home", "leave a shared home", "update your phone number",
                  "close a Business account")
BILLING_TOPICS = ("change your payment method", "get a refund", "switch to annual billing",
                  "cancel your subscription", "download an invoice", "apply a promo code",
                  "understand a double charge", "pause your plan", "add a VAT number",
                  "move your plan to another home")
ORDER_TOPICS = ("track your order", "change a shipping address", "return an item",
                "exchange a damaged device", "order replacement parts", "ship to a PO box",
                "check delivery times", "cancel an order", "claim a warranty")
SYLLABLES = ("lu", "mo", "ra", "vi", "ta", "ne", "ko", "sa", "ri", "do", "fe", "lin", "qua",
             "zen", "tor", "bel", "cas", "mir", "pa", "xo", "ul", "gra", "hex", "ion")

SENTENCES = (
    "The {product} checks for {feature} changes every {n} seconds while it is online.",
    "Open the Lumora app, tap the {product}, then go to **{screen}** > **{setting}**.",
    "Most customers fix this in under {n} minutes without contacting support.",
    "If you use {integration}, changes you make in the Lumora app sync within a minute.",
    "Keep the {product} within {n} meters of the Hub or of a Wi-Fi access point.",
    "Firmware {version} improved {feature} and fixed a problem with {setting2}.",
    "{feature_cap} is included with the {plan} plan and keeps clips for {days} days.",
    "Customers in {region} can order spare parts from the Lumora shop.",
    "You can turn {feature} on or off at any time; the change applies to every member.",
    "A weak signal is the most common cause: look for at least {bars} bars under **Network**.",
    "The {code_name} accessory fits every {product} sold after {year}.",
    "Alerts are grouped for {n} seconds, so a busy doorway does not flood your phone.",
    "When {feature} is off, the {product} still records to local storage if a card is inserted.",
    "Batteries last about {months} months with default settings and {n} events a day.",
    "The {product} works on 2.4 GHz Wi-Fi networks; 5 GHz-only networks are not supported.",
    "Your settings are saved in the cloud, so a replacement {product} picks them up after setup.",
    "Changing **{setting}** affects battery life: higher values wake the device more often.",
    "Error {code} means the {product} could not reach the Lumora cloud for {n} minutes.",
    "Owners and Admins can change this setting; Members see it greyed out.",
    "The status light blinks {colour} while the {product} is {state}.",
    "We roll out firmware in stages, so some homes get version {version} a few days later.",
    "Use the **{code_name}** mount when the {product} faces a street or a busy corridor.",
    "Deliveries to {region} usually arrive within {days} business days.",
    "If the problem started after an update, restart the {product} once before anything else.",
)
STEP_TEMPLATES = (
    "Open the Lumora app and select the {product}.",
    "Tap **{screen}**, then **{setting}**.",
    "Choose a value between {n} and {n2}, then tap **Save**.",
    "Press and hold the button on the back for {n} seconds until the light turns {colour}.",
    "Wait until the app shows **Connected**; this can take up to {n} minutes.",
    "Unplug the {product} for {n} seconds and plug it back in.",
    "Move the {product} closer to the Hub and try again.",
    "Scan the QR code on the {product} or on its box.",
    "Select your Wi-Fi network and enter its password.",
    "Tap **Test** to check that {feature} works.",
    "Go to **{screen}** > **{setting}** and turn it off.",
    "Sign in again with the account that owns the home.",
)
NOTES = (
    "> **Note:** {feature_cap} needs the {plan} plan in {region}.",
    "> **Tip:** Name your devices by room so automations are easier to read.",
    "> **Note:** Factory resets remove the {product} from every automation it was part of.",
    "> **Important:** Don't unplug the {product} while the light is {colour}.",
    "> **Note:** This option appears only on firmware {version} or later.",
)
COLOURS = ("white", "blue", "amber", "green", "red", "purple")
STATES = ("updating", "pairing", "offline", "recording", "resetting", "in setup mode")
OFF_TOPIC = (
    "What is the capital of France?", "Write me a poem about cats",
    "Do you sell electric scooters?", "Can I pay in bitcoin?",
    "What's the weather tomorrow?", "Who won the football match last night?",
    "How do I bake sourdough bread?", "Recommend a good science fiction novel",
    "What is the meaning of life?", "Translate hello into Japanese",
    "How tall is Mount Everest?", "Can you book me a flight to Rome?",
)
