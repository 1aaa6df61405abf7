"""Word lists and rules behind `generators.values` and `generators.surface` (data only, no logic).

Faker has no airports, products, rooms or dishes, and its cities are invented; these short lists
fill the gaps so that a `city` reads like a city and a `room` like a room.
"""

from __future__ import annotations

CITIES = (
    "Paris", "London", "Tokyo", "New York", "Berlin", "Madrid", "Rome", "Lisbon", "Amsterdam", "Vienna",
    "Prague", "Dublin", "Chicago", "Boston", "Seattle", "San Francisco", "Los Angeles", "Austin", "Denver",
    "Miami", "Toronto", "Vancouver", "Montreal", "Mexico City", "Sao Paulo", "Buenos Aires", "Lima",
    "Bogota", "Cairo", "Nairobi", "Lagos", "Cape Town", "Dubai", "Istanbul", "Mumbai", "Delhi", "Bangalore",
    "Singapore", "Bangkok", "Seoul", "Osaka", "Shanghai", "Hong Kong", "Sydney", "Melbourne", "Auckland",
    "Oslo", "Stockholm", "Copenhagen", "Helsinki", "Warsaw", "Budapest", "Athens", "Zurich", "Brussels",
)
AIRPORTS = (
    ("JFK", "New York"), ("LHR", "London"), ("CDG", "Paris"), ("FRA", "Frankfurt"), ("AMS", "Amsterdam"),
    ("MAD", "Madrid"), ("FCO", "Rome"), ("LIS", "Lisbon"), ("DUB", "Dublin"), ("ZRH", "Zurich"),
    ("ORD", "Chicago"), ("LAX", "Los Angeles"), ("SFO", "San Francisco"), ("SEA", "Seattle"),
    ("BOS", "Boston"), ("DEN", "Denver"), ("MIA", "Miami"), ("ATL", "Atlanta"), ("YYZ", "Toronto"),
    ("YVR", "Vancouver"), ("MEX", "Mexico City"), ("GRU", "Sao Paulo"), ("NRT", "Tokyo"), ("HND", "Tokyo"),
    ("ICN", "Seoul"), ("SIN", "Singapore"), ("BKK", "Bangkok"), ("DXB", "Dubai"), ("IST", "Istanbul"),
    ("BOM", "Mumbai"), ("DEL", "Delhi"), ("SYD", "Sydney"), ("MEL", "Melbourne"), ("AKL", "Auckland"),
    ("CPT", "Cape Town"), ("NBO", "Nairobi"), ("CAI", "Cairo"), ("OSL", "Oslo"), ("ARN", "Stockholm"),
    ("CPH", "Copenhagen"), ("HEL", "Helsinki"), ("VIE", "Vienna"), ("PRG", "Prague"), ("ATH", "Athens"),
)
CURRENCIES = ("USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "SEK", "NOK", "INR", "BRL", "MXN", "SGD")
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹"}
LANGUAGE_CODES = ("en", "fr", "de", "es", "it", "pt", "nl", "ja", "zh", "ko", "ar", "hi", "sv", "pl", "tr")
ADJECTIVES = (
    "wireless", "ergonomic", "stainless", "compact", "portable", "waterproof", "organic", "vintage", "smart",
    "bamboo", "leather", "ceramic", "cordless", "foldable", "insulated",
)
PRODUCTS = (
    "headphones", "desk lamp", "water bottle", "backpack", "keyboard", "coffee grinder", "yoga mat",
    "phone case", "running shoes", "blender", "office chair", "monitor stand", "travel mug", "speaker",
    "notebook", "sunglasses", "frying pan", "air purifier", "electric kettle", "rain jacket",
)
SENTENCES = (
    "Running about ten minutes late, start without me.", "Please review the attached draft before Friday.",
    "Can we move our sync to the afternoon?", "The build is green again, thanks for the quick fix.",
    "Lunch is on me today.", "Reminder to submit your timesheets.", "Window seat if possible, please.",
    "Please leave the package at the back door.", "Allergic to peanuts.",
    "Follow-up on the blood test results.",
    "Annual check-up.", "Persistent headache for a week.", "Ring the bell twice.", "Extra napkins please.",
    "I'll be out of the office with limited access to email.", "Great job on the launch, everyone!",
    "Call mom about the weekend.", "Pick up the dry cleaning.", "Renew the car insurance.",
    "The checkout page returns 500 errors for some users.", "Latency spiked after the last deploy.",
    "Team dinner to celebrate the release.", "Which day works best for the offsite?",
    "What should we order for the team lunch?", "Late check-in, arriving around midnight.",
    "Quiet room away from the elevator.", "Split for the cabin weekend.", "Taxi from the airport.",
    "Dinner at the conference.", "Client lunch with the Acme team.", "It arrived damaged.",
    "Rolling back because error rates doubled.", "Back on Monday, ping me if urgent.",
)
TITLES = (
    "Weekly team sync", "Quarterly planning", "Project kickoff", "Budget review", "1:1 with Sam",
    "Design review", "Dentist appointment", "Lunch with Maria", "Sprint retrospective", "Board meeting",
    "Invoice for March", "Welcome aboard", "Offsite agenda", "Checkout errors in production",
    "Database latency spike", "Login page down", "Parent-teacher meeting", "Yoga class", "Flight to Lisbon",
    "Contract renewal", "Interview debrief", "Product demo", "Release planning", "Happy hour",
)
OPTIONS = ("Pizza", "Sushi", "Tacos", "Burgers", "Monday", "Tuesday", "Friday", "Yes", "No", "Maybe",
           "Morning", "Afternoon", "Option A", "Option B", "Remote", "In person")
KEYWORDS = (
    "budget report", "quarterly review", "machine learning", "vegan recipes", "hiking trails", "jazz",
    "project kickoff", "tax documents", "onboarding", "marketing plan", "climate change", "invoice",
    "team offsite", "product launch", "customer feedback", "roadmap", "security audit", "holiday photos",
    "sales forecast", "design review", "release notes", "contract renewal", "travel insurance", "fitness",
)
CURATED: dict[str, tuple[str, ...]] = {
    "room": ("kitchen", "living room", "bedroom", "bathroom", "office", "hallway", "garage", "dining room",
             "guest room", "basement", "nursery", "upstairs", "downstairs", "attic", "patio"),
    "door": ("front door", "back door", "garage door", "side gate", "patio door", "basement door"),
    "scene": ("movie night", "good morning", "dinner party", "reading", "relax", "bedtime", "focus"),
    "station": ("Central Station", "Union Station", "Kings Cross", "Gare du Nord", "Penn Station",
                "Grand Central", "Victoria", "Paddington", "Hauptbahnhof", "Waterloo"),
    "dish": ("chicken tikka masala", "pad thai", "lasagna", "mushroom risotto", "beef tacos", "ramen",
             "caesar salad", "shakshuka", "paella", "banana bread", "vegetable curry", "carbonara"),
    "food": ("banana", "cooked brown rice", "greek yogurt", "almonds", "avocado", "salmon fillet",
             "oatmeal", "boiled egg", "apple", "chicken breast", "whole wheat bread", "lentil soup"),
    "medication": ("ibuprofen", "amoxicillin", "metformin", "lisinopril", "atorvastatin", "vitamin D",
                   "omeprazole", "cetirizine", "levothyroxine", "paracetamol"),
    "dosage": ("500 mg", "2 tablets", "10 ml", "1 capsule", "250 mg", "5 mg", "1 tablet", "20 mg"),
    "restaurant": ("Luigi's Trattoria", "The Green Fork", "Sakura Sushi", "Blue Door Bistro", "Taco Loco",
                   "The Golden Curry", "Harbor Grill", "Le Petit Cafe", "Smokehouse BBQ", "Noodle Bar"),
    "pharmacy": ("CVS Pharmacy", "Walgreens", "Boots", "Rite Aid", "Main Street Pharmacy", "City Drugstore"),
    "calendar": ("Work", "Personal", "Family", "Team Events", "Holidays", "Fitness"),
    "folder": ("Invoices", "Projects", "Archive", "Receipts", "Travel", "Reports", "Photos", "Contracts"),
    "service": ("auth-service", "payments-api", "checkout", "search-indexer", "user-profile",
                "notification-worker", "billing", "api-gateway", "inventory-service", "web-frontend"),
    "channel": ("general", "team-lunch", "engineering", "random", "design", "incidents", "sales",
                "marketing", "support", "announcements"),
    "emoji": (":palm_tree:", ":coffee:", ":calendar:", ":house:", ":car:", ":face_with_thermometer:",
              ":headphones:", ":airplane:", ":books:", ":tada:"),
    "instance": ("web-server-1", "db-primary", "build-runner", "staging-api", "cache-node-2", "worker-3"),
    "ticker": ("AAPL", "MSFT", "GOOGL", "AMZN", "TSLA", "NVDA", "META", "NFLX", "IBM", "V", "JPM", "KO"),
    "promo": ("SPRING25", "WELCOME10", "FREESHIP", "SAVE20", "SUMMER2026", "VIP15", "BLACKFRIDAY"),
    "zone": ("upstairs", "downstairs", "main floor", "bedrooms", "living area", "basement", "office"),
}

# (kind, name tokens, phrases). A rule fires when a token of the parameter name is in its set, or
# one of its phrases occurs in "<name words> | <description>". First match wins, so specific first.
STRING_RULES: tuple[tuple[str, frozenset[str], tuple[str, ...]], ...] = tuple(
    (kind, frozenset(tokens.split()), phrases)
    for kind, tokens, phrases in (
        ("iata_code", "iata airport", ("iata",)),
        ("currency_code", "currency", ("iso 4217", "currency code")),
        ("country_code", "", ("country code", "iso 3166", "alpha-2")),
        ("language_code", "locale", ("language code",)),
        ("email", "email emails", ("email address",)),
        ("url", "url urls uri link website homepage webhook", ()),
        ("phone", "phone mobile telephone tel", ()),
        ("datetime", "datetime timestamp", ()),
        ("date", "date birthday dob deadline", ()),
        ("timezone", "timezone tz", ("time zone",)),
        ("time", "time", ()),
        ("version", "version", ()),
        ("identifier", "id ids sku reference ref iban number", ()),
        ("ticker", "ticker", ()),
        ("promo", "promo coupon voucher", ()),
        ("station", "station", ()),
        ("room", "room rooms", ()),
        ("zone", "zone", ()),
        ("door", "door", ()),
        ("scene", "scene", ()),
        ("dish", "dish recipe", ()),
        ("food", "food ingredient", ()),
        ("medication", "medication medicine drug", ()),
        ("dosage", "dosage dose", ()),
        ("restaurant", "restaurant", ()),
        ("pharmacy", "pharmacy", ()),
        ("calendar", "calendar", ()),
        ("folder", "folder directory", ()),
        ("service", "service services", ()),
        ("channel", "channel", ()),
        ("emoji", "emoji", ()),
        ("instance", "instance vm", ()),
        ("password", "password passphrase secret", ()),
        ("username", "username usernames handle login users user", ("username",)),
        ("first_name", "", ("first name", "given name")),
        ("last_name", "surname", ("last name", "family name")),
        ("person_name", "attendee assignee recipient contact candidate passenger guest author owner manager "
         "employee patient driver sender person participant interviewer doctor customer fullname",
         ("full name", "person's name")),
        ("company", "company organization organisation org employer vendor merchant supplier business", ()),
        ("file_path", "path filepath", ()),
        ("file_name", "filename file archive attachment", ()),
        ("address", "address street", ()),
        ("zipcode", "zip zipcode postcode postal", ()),
        ("state", "state province region county", ()),
        ("country", "country nationality citizenship", ()),
        ("language", "language lang", ()),
        ("city", "city town location origin origins destination destinations place pickup dropoff venue "
         "where", ("city name",)),
        ("job", "job occupation profession position", ()),
        ("keyword", "query search keyword keywords term tag tags label labels topic category interest", ()),
        ("title", "title subject headline summary name", ()),
        ("sentence", "message body text content description note notes comment comments reason question "
         "prompt instructions requests request visit", ()),
        ("color", "color colour", ()),
        ("hostname", "host hostname domain server", ()),
        ("ipv4", "ip", ()),
        ("product", "product products item items", ()),
        ("option", "option options choice choices", ()),
    )
)
NUMBER_RULES: tuple[tuple[str, frozenset[str], tuple[str, ...]], ...] = tuple(
    (kind, frozenset(tokens.split()), phrases)
    for kind, tokens, phrases in (
        ("percent", "percent percentage pct", ()),
        ("salary", "salary income", ()),
        ("duration", "minutes seconds hours days nights duration timeout delay", ()),
        ("money", "amount price cost total budget salary fee balance payment fare spend revenue", ()),
        ("latitude", "lat latitude", ()),
        ("longitude", "lon lng longitude", ()),
        ("year", "year", ()),
        ("month", "month", ()),
        ("age", "age", ()),
        ("rating", "rating stars star", ()),
        ("temperature", "temperature temp celsius fahrenheit", ()),
        ("systolic", "systolic", ()),
        ("diastolic", "diastolic", ()),
        ("pulse", "bpm pulse", ()),
        ("page", "page", ()),
        ("distance", "distance km miles radius meters", ()),
        ("weight", "grams kg weight calories", ()),
        ("level", "level effort priority", ()),
        ("count", "count quantity qty number num guests passengers adults children infants rooms servings "
         "seats tickets replicas size limit results suggestions lines passes times stops people party gb",
         ()),
    )
)
# kind -> (natural low, natural high, decimals for type number)
NUMBER_RANGES: dict[str, tuple[float, float, int]] = {
    "money": (5, 500, 2), "percent": (5, 95, 0), "latitude": (-60, 70, 4), "longitude": (-180, 180, 4),
    "year": (2020, 2030, 0), "month": (1, 12, 0), "age": (18, 90, 0), "rating": (1, 5, 1),
    "temperature": (16, 27, 1), "systolic": (100, 145, 0), "diastolic": (60, 95, 0),
    "pulse": (50, 110, 0), "salary": (30000, 200000, 0), "duration": (5, 120, 0), "page": (1, 40, 0),
    "distance": (1, 50, 1), "weight": (50, 500, 0), "level": (1, 5, 0), "count": (1, 6, 0),
    "number": (1, 100, 2),
}
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                "eleven", "twelve")

# What a user says instead of a value they leave out (clarification requests). None of these may
# contain a value: pool values that a phrase would "mention" are dropped when pools are built.
VAGUE: dict[str, tuple[str, ...]] = {
    "date": ("sometime next week", "soon", "later this month", "whenever works", "at some point next month",
             "after the holidays"),
    "datetime": ("sometime next week", "later", "whenever works for everyone", "at some point soon",
                 "after lunch sometime"),
    "time": ("later today", "in the afternoon", "whenever is convenient", "around lunchtime",
             "sometime in the evening"),
    "place": ("my usual place", "somewhere nearby", "back home", "the usual spot", "where I'm headed",
              "my hometown"),
    "iata_code": ("the nearest airport", "my home airport", "the usual airport"),
    "country": ("that country I mentioned", "abroad", "over there"),
    "person": ("someone from the team", "my colleague", "a friend of mine", "the person I mentioned",
               "my manager"),
    "email": ("my work email", "their usual address", "the email on file"),
    "phone": ("my number", "their usual number", "the number on file"),
    "money": ("the usual amount", "some money", "a reasonable amount", "whatever it costs"),
    "count": ("a few", "several", "a couple", "some"),
    "percent": ("a bit", "a small percentage", "somewhat"),
    "company": ("my company", "that company", "the usual vendor"),
    "url": ("the link I sent", "our website", "that page"),
    "currency": ("the local currency", "my usual currency"),
    "language": ("my language", "the local language"),
    "file": ("that file", "the document I was working on", "the usual file"),
    "text": ("the thing we discussed", "what we talked about", "you know what I mean", "the usual"),
    "product": ("the thing I looked at before", "that item", "the usual"),
    "identifier": ("my order", "the last one", "the one from before"),
    "enum": ("whichever option fits", "whatever you think is best", "the usual option"),
    "array": ("the usual ones", "a few of them", "the ones I mentioned"),
    "number": ("the usual", "whatever makes sense", "the normal amount"),
}
# value kind -> VAGUE key; kinds absent here (booleans, objects, uuids, pins) have no natural vague form.
VAGUE_KIND = {
    "date": "date", "datetime": "datetime", "time": "time", "city": "place", "address": "place",
    "street": "place", "state": "place", "station": "place", "room": "place", "zone": "place",
    "restaurant": "place", "pharmacy": "place", "iata_code": "iata_code", "country": "country",
    "country_code": "country", "person_name": "person", "first_name": "person", "last_name": "person",
    "username": "person", "email": "email", "phone": "phone", "money": "money", "count": "count",
    "percent": "percent", "company": "company", "url": "url", "currency_code": "currency",
    "language": "language", "language_code": "language", "file_path": "file", "file_name": "file",
    "folder": "file", "title": "text", "sentence": "text", "keyword": "text", "product": "product",
    "dish": "product", "food": "product", "identifier": "identifier", "enum": "enum", "array": "array",
    "duration": "number", "distance": "number", "weight": "number", "number": "number", "job": "text",
    "channel": "text", "service": "text", "medication": "product", "dosage": "number",
}


def vague_blob() -> str:
    """Every vague phrase, lower-case, space-padded and '|'-separated, for whole-word containment tests."""
    return "|".join(f" {p.lower()} " for phrases in VAGUE.values() for p in phrases)
