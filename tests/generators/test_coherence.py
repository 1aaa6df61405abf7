"""Cross-field rules of `ToolSampler.sample`: one test per rule, over the bundled tools and made-up ones."""

import datetime as dt
import random
import re
import uuid
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from generators import _vocab as vocab
from generators.dates import sample_now
from generators.pools import ValuePools, poll_options
from generators.registry import load_registry
from generators.values import ToolSampler

TOOLS_DIR = Path(__file__).resolve().parents[2] / "tool_schemas"
REGISTRY = {t.name: t for t in load_registry(TOOLS_DIR)}
POOLS = ValuePools.build(3, split="train")
N = 300


def draws(tool, n=N, now=True, mode="all", seed=0):
    """(now, args) pairs for a bundled tool (or a parameters schema with a made-up name)."""
    name, params = (tool, REGISTRY[tool].parameters) if isinstance(tool, str) else tool
    sampler = ToolSampler(params, POOLS, name)
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        current = sample_now(rng) if now else None
        out.append((current, sampler.sample(rng, mode, now=current)))
    return out


def day(value):
    return dt.date.fromisoformat(value[:10])


def moment(value):
    return dt.datetime.fromisoformat(value[:19])


# --- spans that fit the kind ----------------------------------------------------------------------------


@pytest.mark.parametrize("tool", ["search_hotels", "book_hotel_room"])
@pytest.mark.parametrize("now", [True, False])
def test_hotel_stays_are_1_to_14_nights_ahead(tool, now):
    for current, a in draws(tool, now=now):
        assert 1 <= (day(a["check_out_date"]) - day(a["check_in_date"])).days <= 14, a
        if current:
            assert day(a["check_in_date"]) > current.date(), (current, a)


def test_car_rentals_are_1_to_21_days_ahead():
    for current, a in draws("search_rental_cars"):
        assert 1 <= (day(a["dropoff_time"]) - day(a["pickup_time"])).days <= 21, a
        assert moment(a["pickup_time"]) > current


def test_meetings_last_15_minutes_to_3_hours():
    for current, a in draws("create_calendar_event"):
        minutes = (moment(a["end_time"]) - moment(a["start_time"])).total_seconds() / 60
        assert 15 <= minutes <= 180 and minutes % 15 == 0, a
        assert moment(a["start_time"]) > current


@pytest.mark.parametrize("tool", ["request_time_off", "set_out_of_office_reply"])
def test_time_off_is_1_to_15_days(tool):
    for current, a in draws(tool):
        assert 1 <= (day(a["end_date"]) - day(a["start_date"])).days + 1 <= 15, a
        assert day(a["start_date"]) > current.date()


def test_round_trips_return_after_leaving():
    for current, a in draws("search_flights"):
        assert 2 <= (day(a["return_date"]) - day(a["departure_date"])).days <= 21, a
        assert day(a["departure_date"]) > current.date()


@pytest.mark.parametrize("tool", ["list_transactions", "get_cloud_cost_report"])
def test_reports_cover_a_past_range(tool):
    for current, a in draws(tool):
        assert day(a["start_date"]) <= day(a["end_date"]) <= current.date(), (current, a)


@pytest.mark.parametrize(
    ("tool", "field", "past"),
    [
        ("get_service_logs", "since", True),  # logs: behind the current time
        ("log_blood_pressure", "measured_at", True),
        ("get_historical_weather", "date", True),
        ("search_emails", "received_after", True),
        ("book_restaurant_table", "reservation_time", False),  # bookings: ahead
        ("schedule_interview", "interview_time", False),
        ("create_reminder", "remind_at", False),
        ("order_food_delivery", "deliver_at", False),
        ("book_doctor_appointment", "preferred_date", False),
    ],
)
def test_dates_fall_on_the_right_side_of_now(tool, field, past):
    for current, a in draws(tool):
        value = a[field]
        if len(value) == 10:
            assert (day(value) <= current.date()) if past else (day(value) >= current.date()), (current, a)
        else:
            assert (moment(value) < current) if past else (moment(value) > current), (current, a)
        assert abs((day(value) - current.date()).days) <= 400


def test_kinds_are_inferred_from_names_not_tool_files():
    # Made-up tools: the rules come from the words, not from a per-tool table.
    stay = ("reserve_cabin", {"type": "object", "properties": {
        "check_in": {"type": "string", "format": "date"}, "check_out": {"type": "string", "format": "date"}}})
    bike = ("rent_bike", {"type": "object", "properties": {
        "pickup_time": {"type": "string", "format": "date-time"},
        "dropoff_time": {"type": "string", "format": "date-time"}}})
    leave = ("submit_leave", {"type": "object", "properties": {
        "start_date": {"type": "string", "format": "date"}, "end_date": {"type": "string", "format": "date"}}})
    for _, a in draws(stay, mode="all"):
        assert 1 <= (day(a["check_out"]) - day(a["check_in"])).days <= 14
    for _, a in draws(bike, mode="all"):
        assert 1 <= (day(a["dropoff_time"]) - day(a["pickup_time"])).days <= 21
    for _, a in draws(leave, mode="all"):
        assert 0 <= (day(a["end_date"]) - day(a["start_date"])).days <= 14


def test_a_follow_up_end_keeps_to_its_start():
    sampler = ToolSampler(REGISTRY["search_hotels"].parameters, POOLS, "search_hotels")
    rng = random.Random(1)
    for _ in range(200):
        now = sample_now(rng)
        args = sampler.sample(rng, "all", now=now)
        out = sampler.sample_value("check_out_date", rng, now=now, args=args)
        assert 1 <= (day(out) - day(args["check_in_date"])).days <= 14


# --- values that agree ------------------------------------------------------------------------------------


def test_currency_pairs_differ():
    assert all(a["base_currency"] != a["target_currency"] for _, a in draws("get_exchange_rate", n=1000))


def test_origin_and_destination_differ_within_one_country():
    country = {row[0]: row[3] for row in vocab.LOCATIONS}
    for _, a in draws("get_directions"):
        assert a["origin"] != a["destination"]
        assert country[a["origin"]] == country[a["destination"]], a
    assert all(a["origin"] != a["destination"] for _, a in draws("search_flights"))
    station = dict(vocab.STATIONS)
    for _, a in draws("search_trains"):  # no train from Paris to New York
        assert station[a["origin_station"]] == station[a["destination_station"]], a
        assert a["origin_station"] != a["destination_station"]


def test_region_and_country_agree():
    rows = {(row[1], row[3]) for row in vocab.LOCATIONS}
    for _, a in draws("get_severe_weather_alerts"):
        assert (a["region"], a["country_code"]) in rows, a
    cities = {row[3]: set() for row in vocab.LOCATIONS}
    for row in vocab.LOCATIONS:
        cities[row[3]].add(row[0])
    for _, a in draws("geocode_address"):
        assert a["address"].rsplit(", ", 1)[1] in cities[a["country_code"]], a


def test_a_persons_email_is_their_own():
    for _, a in draws("schedule_interview"):
        assert a["candidate_email"] == POOLS.email_of[a["candidate_name"]]
    for _, a in draws("book_hotel_room"):
        assert a["guest"]["email"] == POOLS.email_of[a["guest"]["full_name"]]


def test_poll_options_answer_the_question():
    for _, a in draws("create_poll"):
        assert set(a["options"]) <= set(poll_options(a["question"])), a
        assert len(set(a["options"])) == len(a["options"]) >= 2


def test_a_payslip_month_has_ended():
    for current, a in draws("get_payslip"):
        months_ago = (current.year - a["year"]) * 12 + current.month - a["month"]
        assert 1 <= months_ago <= 14, (current, a)


def test_expense_shares_sum_to_100():
    for _, a in draws("split_expense"):
        assert sum(p["share_percent"] for p in a["participants"]) == 100, a


@pytest.mark.parametrize(
    ("tool", "path", "lo", "hi", "step"),
    [
        ("search_hotels", "max_price_per_night", 60, 450, 5),  # a night, not $3
        ("find_nearby_places", "radius_meters", 200, 5000, 100),
        ("add_to_cart", "quantity", 1, 4, 1),
        ("search_flights", "passengers.adults", 1, 4, 1),
        ("get_nutrition_facts", "quantity_grams", 30, 400, 10),
        ("create_calendar_event", "reminder_minutes", 5, 60, 5),
        ("create_vm_instance", "disk_size_gb", 20, 500, 10),
    ],
)
def test_numbers_in_realistic_ranges(tool, path, lo, hi, step):
    schema = REGISTRY[tool].parameters
    for key in path.split("."):
        schema = schema["properties"][key]
    lo, hi = max(lo, schema.get("minimum", lo)), min(hi, schema.get("maximum", hi))
    for _, a in draws(tool):
        v = a
        for key in path.split("."):
            v = v[key]
        assert lo <= v <= hi and v % step == 0, (path, v)


@pytest.mark.parametrize(
    ("tool", "field", "pattern"),
    [
        ("track_order", "order_id", r"^(\d{3}-\d{7}-\d{7}|ORD-\d{6})$"),
        ("send_slack_message", "thread_id", r"^17\d{8}\.\d{6}$"),  # a Slack message timestamp
        ("pay_invoice", "invoice_id", r"^INV-(20\d{2}-\d{4}|\d{6})$"),
        ("check_flight_status", "flight_number", "^(" + "|".join(vocab.AIRLINES) + r")\d{1,4}$"),
        ("cancel_calendar_event", "event_id", r"^evt_[a-z0-9]{12}$"),
    ],
)
def test_ids_have_realistic_formats(tool, field, pattern):
    assert all(re.match(pattern, a[field]) for _, a in draws(tool)), field


def test_ibans_carry_valid_check_digits():
    for _, a in draws("transfer_money"):
        code = a["recipient_iban"]
        digits = "".join(str(int(ch, 36)) for ch in code[4:] + code[:4])
        assert int(digits) % 97 == 1, code


def test_uuid_format_gives_uuids():
    schema = {"type": "object", "properties": {"request_id": {"type": "string", "format": "uuid"}},
              "required": ["request_id"]}
    for _, a in draws(("make_request", schema)):
        assert uuid.UUID(a["request_id"]).version == 4


# --- validity --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tool", sorted(REGISTRY))
def test_every_bundled_tool_samples_valid_args_with_a_current_date(tool):
    parameters = REGISTRY[tool].parameters
    check = Draft202012Validator(parameters, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for mode in ("none", "some", "all"):
        for _, a in draws(tool, n=45, mode=mode, seed=1):
            assert not list(check.iter_errors(a)), a


def test_same_seed_same_values_with_now():
    assert draws("search_hotels", n=50, seed=4) == draws("search_hotels", n=50, seed=4)
