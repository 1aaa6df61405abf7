"""The reward on the shapes public labelled data holds (issue 17), in tiered and binary mode.

Each table row is (reply, ground truth, tiered reward, predicted behaviour); binary mode must give 1.0
exactly where tiered gives 1.0. Tiers for an expected clarification: 1.0 asks for every missing value,
0.5 asks but not (recognisably) for it, 0.25 declines / answers / pretends / offers to go on, 0 calls.
"""

from __future__ import annotations

import json

import pytest

from training.rewards import score_completion


def _fn(name: str, description: str, props: dict, required: list[str] | None = None) -> dict:
    params = {"type": "object", "properties": props, "required": required or list(props)}
    return {"type": "function", "function": {"name": name, "description": description, "parameters": params}}


PLACES = _fn(
    "search_places",
    "Find places of interest in a city.",
    {
        "location": {"type": "string", "description": "City name or address to search in"},
        "category": {"type": "string", "description": "Kind of place, e.g. museum"},
    },
)
ADD = _fn(
    "add_numbers",
    "Add a list of numbers.",
    {"numbers_list": {"type": "array", "items": {"type": "number"}, "description": "The numbers to add"}},
)
DOCTOR = _fn(
    "find_doctor",
    "Find a doctor near the user.",
    {
        "specialty": {"type": "string", "enum": ["dentist", "orthodontist", "hygienist"]},
        "zip_code": {"type": "string", "description": "Postal code"},
    },
)
SHIP = _fn(
    "create_shipment",
    "Create a shipment.",
    {
        "address": {
            "type": "object",
            "properties": {"street": {"type": "string"}, "postcode": {"type": "string"}},
            "description": "Delivery address",
        },
        "weight_kg": {"type": "number", "description": "Parcel weight"},
    },
)
TRIP = _fn(
    "plan_trip",
    "Plan a trip for a group.",
    {
        "where_to": {"type": "string", "description": "Destination of the trip"},
        "guests": {"type": "integer", "description": "How many people travel"},
    },
)
SHOP = _fn(
    "shop_search",
    "Search the shop's catalogue.",
    {"keywords": {"type": "string", "description": "Search terms"}, "max_price": {"type": "number"}},
)
FLIGHTS = _fn(
    "search_flights",
    "Search flights between two cities.",
    {
        "origin": {"type": "string", "description": "Departure city"},
        "destination": {"type": "string", "description": "Arrival city"},
        "date": {"type": "string", "description": "Departure day, YYYY-MM-DD"},
        "units": {"type": "string", "enum": ["metric", "imperial"]},
    },
)
STOCK = _fn(
    "get_stock_price",
    "Get the latest stock price.",
    {"symbol": {"type": "string", "description": "Stock ticker"}, "exchange": {"type": "string"}},
    ["symbol"],
)
TOOLS = [PLACES, ADD, DOCTOR, SHIP, TRIP, SHOP, FLIGHTS, STOCK]


def cl(tool: str, *missing: str) -> dict:
    return {"clarification": {"tool": tool, "missing": list(missing)}}


RF = {"refusal": {"reason": "out_of_scope"}}
EXEC = {"tool_call": {"name": "search_flights", "parameters": {"origin": "SFO", "destination": "DEN"}}}
P = pytest.param

CASES = [
    # --- keywords: tool-description words are kept, only siblings' words are dropped ---
    # "city" is in the tool's description too; it still names `location` (no sibling says "city").
    P("Could you tell me which city you're visiting?", cl("search_places", "location"), 1.0, "clarification",
      id="desc-word-shared-with-tool-description"),
    # A word only the tool's name shares still counts ("stock" for `symbol` of get_stock_price).
    P("Which stock are you interested in?", cl("get_stock_price", "symbol"), 1.0, "clarification",
      id="desc-word-shared-with-tool-name"),
    # "address" likewise: a word of the parameter's own description.
    P("What address should I search around?", cl("search_places", "location"), 1.0, "clarification",
      id="desc-second-word"),
    # A sibling's word ("kind" of place) does not ask for `location`.
    P("What kind of place are you after?", cl("search_places", "location"), 0.5, "clarification",
      id="sibling-word-not-this-param"),
    # "Departure city" / "Arrival city": "city" is shared by siblings, so it names neither.
    P("Which city?", cl("search_flights", "destination"), 0.5, "clarification", id="sibling-shared-desc-word"),
    # "arrival" singles out `destination`.
    P("What's your arrival city?", cl("search_flights", "destination"), 1.0, "clarification",
      id="sibling-distinct-desc-word"),
    # --- "number" / "string" are words like any other ---
    P("Which two numbers should I add?", cl("add_numbers", "numbers_list"), 1.0, "clarification",
      id="number-not-stopword"),
    # The singular works as well.
    P("What is the first number?", cl("add_numbers", "numbers_list"), 1.0, "clarification",
      id="number-singular"),
    # --- enum values and nested property names ---
    P("Do you need a dentist, an orthodontist or a hygienist?", cl("find_doctor", "specialty"), 1.0,
      "clarification", id="enum-values-are-keywords"),
    # One enum value is enough.
    P("Is it an orthodontist you want?", cl("find_doctor", "specialty"), 1.0, "clarification",
      id="one-enum-value"),
    # Asking for the fields of an object parameter asks for it.
    P("What street and postcode should it go to?", cl("create_shipment", "address"), 1.0, "clarification",
      id="nested-property-names"),
    # A sibling's enum value asks for the sibling, not for this parameter.
    P("Metric or imperial?", cl("search_flights", "date"), 0.5, "clarification", id="sibling-enum-value"),
    # --- function words in names ---
    # "to" of `where_to` is not a keyword: asking how many guests is not asking for the destination.
    P("To help you better, how many guests are coming?", cl("plan_trip", "where_to"), 0.5, "clarification",
      id="function-word-in-name"),
    # ... while the description word ("destination") is.
    P("What destination do you have in mind?", cl("plan_trip", "where_to"), 1.0, "clarification",
      id="where-to-by-description"),
    # "Where" is the content part of `where_to`.
    P("Where to?", cl("plan_trip", "where_to"), 1.0, "clarification", id="where-to-by-name"),
    # --- paraphrases and other questions: 0.5, never the 1.0 of naming the value ---
    # A paraphrase sharing no word with `keywords` cannot be told from another question: 0.5 (documented).
    P("What sort of products are you looking for?", cl("shop_search", "keywords"), 0.5, "clarification",
      id="paraphrase-no-shared-word"),
    # Naming a description word ("terms") gets full credit.
    P("What search terms should I use?", cl("shop_search", "keywords"), 1.0, "clarification",
      id="paraphrase-with-desc-word"),
    # A question about something else scores the same 0.5, below asking for the missing value.
    P("What is your budget?", cl("shop_search", "keywords"), 0.5, "clarification", id="asks-something-else"),
    # --- a "?" alone is not asking ---
    # Pretending results and offering to proceed is not a clarification.
    P("I found 3 flights to Denver for you. Shall I book one?", cl("search_flights", "date"), 0.25,
      "direct_answer", id="pretends-and-offers"),
    # Pretending even with a real question is not a clarification (the results are made up).
    P("I found 3 flights to Denver. Which date suits you?", cl("search_flights", "date"), 0.25,
      "direct_answer", id="pretends-then-asks"),
    # An offer to proceed alone.
    P("Shall I book the cheapest one?", cl("search_flights", "date"), 0.25, "direct_answer",
      id="offer-to-proceed"),
    # "Would you like me to ...?" offers.
    P("Would you like me to search now?", cl("search_flights", "date"), 0.25, "direct_answer",
      id="would-you-like-me-to"),
    # Offering a choice between values asks for one.
    P("Should I use metric or imperial units?", cl("search_flights", "units"), 1.0, "clarification",
      id="offer-with-choice-asks"),
    # Fabricated outcome.
    P("Your flight has been booked! Anything else?", cl("search_flights", "date"), 0.25, "direct_answer",
      id="fabricated-outcome"),
    # "Let me know if ..." offers, it does not ask.
    P("The flights are usually cheap. Let me know if you need anything else.", cl("search_flights", "date"),
      0.25, "direct_answer", id="let-me-know-if"),
    # "Please let me know the date" asks.
    P("Please let me know the date of travel.", cl("search_flights", "date"), 1.0, "clarification",
      id="please-let-me-know-asks"),
    # "Is there anything else?" is an offer, not a question about the request.
    P("Is there anything else?", cl("search_flights", "date"), 0.25, "direct_answer", id="anything-else"),
    # An answer made up, then a yes/no offer, is no clarification.
    P("It is 20\u00b0C in Paris. Would you like to know more about it?", cl("search_places", "location"),
      0.25, "direct_answer", id="yes-no-would-you-like"),
    # A yes/no "Would you like ...?" that names the missing value asks for it.
    P("Would you like to give me the city first?", cl("search_places", "location"), 1.0, "clarification",
      id="yes-no-naming-the-value"),
    # A yes/no "Do you want ...?" that names another value only offers.
    P("Do you want museums included?", cl("search_places", "location"), 0.25, "direct_answer",
      id="yes-no-naming-another-value"),
    # ... but "would you like" with a choice asks for the value (here naming the description's "museum").
    P("Would you like museums or parks?", cl("search_places", "category"), 1.0, "clarification",
      id="would-you-like-choice"),
    # Made-up results counted out ("There are 3 ...") with a follow-up question.
    P("There are 4 flights that day. Which one do you prefer?", cl("search_flights", "date"), 0.25,
      "direct_answer", id="there-are-n-results"),
    # Confirming a guessed value is not asking for it.
    P("I'll search for flights on December 5, is that right?", cl("search_flights", "date"), 0.25,
      "direct_answer", id="confirms-a-guess"),
    # A question word standing for a kind of value: "how many" for a people count.
    P("How many are travelling?", cl("plan_trip", "guests"), 1.0, "clarification", id="hint-how-many"),
    # --- tiers: asking beats declining or answering ---
    # A decline instead of the question.
    P("I'm sorry, I can't help with that.", cl("search_flights", "date"), 0.25, "refusal",
      id="clar-decline-tier"),
    # A direct answer instead of the question.
    P("Flights to Denver are cheapest on Tuesdays.", cl("search_flights", "date"), 0.25, "direct_answer",
      id="clar-direct-tier"),
    # A guessed call earns nothing.
    P('<tool_call>{"name": "search_flights", "arguments": {"origin": "SFO"}}</tool_call>',
      cl("search_flights", "date"), 0.0, "tool_call", id="clar-call-tier"),
    # --- declines ---
    # BFCL's wording: functions, not tools.
    P("None of the provided functions can be used for this request.", RF, 1.0, "refusal",
      id="bfcl-none-of-provided-functions"),
    # Other function wordings.
    P("None of the functions can be used here.", RF, 1.0, "refusal", id="none-of-the-functions"),
    # "There is no suitable function".
    P("There is no suitable function for ordering food.", RF, 1.0, "refusal", id="no-suitable-function"),
    # Function wording without "none of": the functions are not suitable.
    P("The provided functions are not suitable for this request.", RF, 1.0, "refusal", id="functions-not-suitable"),
    # A capability decline without an apology.
    P("I don't have the capability to order food.", RF, 1.0, "refusal", id="no-capability"),
    # A request without a question mark or "please provide": "I require".
    P("To search, I require the departure date.", cl("search_flights", "date"), 1.0, "clarification",
      id="i-require"),
    # An apology that then answers is not a refusal.
    P("Sorry, that band has only one album \u2014 enjoy 'Blue Morning'!", RF, 0.0, "direct_answer",
      id="sorry-then-answers"),
    # A decline that then hands over a (fake) result.
    P("I can't share every password at once. Here is the first one: [password]", RF, 0.0, "direct_answer",
      id="declines-then-fakes"),
    # A decline that goes on to do it (instructions).
    P("I'm sorry, I can't do that, but you can turn the oven off by holding the power button.", RF, 0.0,
      "direct_answer", id="declines-then-instructs"),
    # ... also where a tool call was due.
    P("I'm sorry, I can't do that, but you can turn the oven off by holding the power button.", EXEC, 0.0,
      "direct_answer", id="declines-then-instructs-exec"),
    # A decline, then "here's how" to do it: an answer.
    P("I can't control your oven, but here's how you can turn it off: hold the power button.", RF, 0.0,
      "direct_answer", id="declines-then-heres-how"),
    # A decline, then made-up data (a price).
    P("I can't access live prices, but AAPL is trading at $187.20.", RF, 0.0, "direct_answer",
      id="declines-then-price"),
    # A decline that points elsewhere is still a refusal.
    P("I'm sorry, I can't book flights. You could try an airline's website.", RF, 1.0, "refusal",
      id="decline-with-pointer"),
    # A decline followed by an offer of more help is a refusal.
    P("I can't help with that. Is there something else I can do for you?", RF, 1.0, "refusal",
      id="decline-plus-offer"),
    # A decline that then pretends to act.
    P("Unfortunately I can't, but I've booked the table anyway.", RF, 0.0, "direct_answer",
      id="decline-then-pretends"),
    # "How else can I help?" after a weak decline offers more help: still a refusal.
    P("Sorry, that is not something I have. How else can I help?", RF, 1.0, "refusal", id="how-else-offer"),
    # "Is there another ...?" offers too.
    P("Apologies, I have no way to do that. Is there another task for me?", RF, 1.0, "refusal",
      id="is-there-another-offer"),
    # A clarifying question where a decline was due still scores 0.25.
    P("Which restaurant do you mean?", RF, 0.25, "clarification", id="ref-asks"),
]


@pytest.mark.parametrize(("reply", "ground_truth", "reward", "behavior"), CASES)
def test_tiered(reply: str, ground_truth: dict, reward: float, behavior: str) -> None:
    result = score_completion(reply, ground_truth, TOOLS)
    assert (result.reward, result.predicted_behavior) == (reward, behavior), result.reason


@pytest.mark.parametrize(("reply", "ground_truth", "reward", "behavior"), CASES)
def test_binary(reply: str, ground_truth: dict, reward: float, behavior: str) -> None:
    result = score_completion(reply, ground_truth, TOOLS, mode="binary")
    assert (result.reward, result.predicted_behavior) == (1.0 if reward == 1.0 else 0.0, behavior), result.reason


def test_asking_is_strictly_between_naming_and_declining() -> None:
    # The tier order the issue asks for, on one request: naming > asking something else > decline = answer.
    gt = cl("search_flights", "date")
    names = score_completion("Which date do you want to fly?", gt, TOOLS).reward
    other = score_completion("Do you have a preferred airline?", gt, TOOLS).reward
    decline = score_completion("Sorry, I can't do that.", gt, TOOLS).reward
    answer = score_completion("Denver is lovely in spring.", gt, TOOLS).reward
    assert names > other > decline == answer > 0.0


def call(name: str, args: dict) -> str:
    return f"<tool_call>{json.dumps({'name': name, 'arguments': args})}</tool_call>"


# Questions as the public labelled data has them: the correct answer first, then three wrong ones of the
# other kinds (call / ask for a parameter / decline / answer directly). The correct one must score strictly
# highest, in tiered mode (binary mode gives it the only 1.0).
RANKED = [
    # Ask for the city; wrong: a guessed call, a decline, made-up results with an offer.
    P(cl("search_places", "location"), [
        "Could you tell me which city you're visiting?",
        call("search_places", {"location": "Paris", "category": "museum"}),
        "I'm sorry, I can't help with that.",
        "I found 3 great museums near you. Shall I list them?",
    ], id="rank-ask-city"),
    # Ask for an enum value; wrong: a direct answer, a decline, a call.
    P(cl("find_doctor", "specialty"), [
        "Sure - do you need a dentist, an orthodontist or a hygienist?",
        "Dr. Smith at 12 Main Street is the best doctor in town.",
        "None of the provided functions can be used for this request.",
        call("find_doctor", {"specialty": "dentist", "zip_code": "10001"}),
    ], id="rank-ask-enum"),
    # Decline (BFCL wording); wrong: a question, an answer that starts with an apology, a call.
    P(RF, [
        "None of the provided functions can be used for this request.",
        "Which album do you mean?",
        "Sorry, that band has only one album \u2014 enjoy 'Blue Morning'!",
        call("search_places", {"location": "Paris", "category": "music"}),
    ], id="rank-decline"),
    # Decline; wrong: decline-then-fake, decline-then-instructions, a question.
    P(RF, [
        "I'm sorry, but I can't share passwords.",
        "I can't share every password at once. Here is the first one: [password]",
        "I'm sorry, I can't do that, but you can turn the oven off by holding the power button.",
        "Which account is it for?",
    ], id="rank-decline-vs-decline-then-answer"),
    # Call; wrong: a question, a decline, a direct answer.
    P(EXEC, [
        call("search_flights", {"origin": "SFO", "destination": "DEN"}),
        "What date would you like to fly?",
        "I'm unable to search flights.",
        "Flights from SFO to Denver usually cost about $200.",
    ], id="rank-call"),
]


@pytest.mark.parametrize(("ground_truth", "replies"), RANKED)
def test_the_correct_answer_scores_strictly_highest(ground_truth: dict, replies: list[str]) -> None:
    rewards = [score_completion(r, ground_truth, TOOLS).reward for r in replies]
    assert rewards[0] > max(rewards[1:]), rewards
    binary = [score_completion(r, ground_truth, TOOLS, mode="binary").reward for r in replies]
    assert binary == [1.0, 0.0, 0.0, 0.0], binary
