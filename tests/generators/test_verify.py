import pytest

from generators.behaviours import Generator, Sample
from generators.registry import Registry, Tool
from generators.values import ValuePools
from generators.verify import verify

FORECAST = Tool(
    "get_weather_forecast",
    "Get a daily weather forecast for a location.",
    {
        "type": "object",
        "properties": {
            "location": {"type": "string"},
            "days": {"type": "integer", "minimum": 1, "maximum": 14},
            "units": {"type": "string", "enum": ["metric", "imperial"]},
        },
        "required": ["location", "units"],
    },
    "train",
    "weather",
)
TRANSLATE = Tool(
    "translate_text",
    "Translate text into another language.",
    {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
    "train",
    "language",
)
VACUUM = Tool(
    "start_robot_vacuum",
    "Start the robot vacuum cleaner in a room.",
    {"type": "object", "properties": {"room": {"type": "string"}}, "required": ["room"]},
    "train",
    "smart_home",
)
CURRENT = Tool(
    "get_current_weather",
    "Current conditions at a location.",
    {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
    "train",
    "weather",
)
REG = Registry([FORECAST, TRANSLATE, VACUUM, CURRENT])
GEN = Generator(REG.tools, ValuePools.build(0), (1, 1), 0.5)
BOTH = ("get_weather_forecast", "translate_text")


def execution(text, params, offered=BOTH, name="get_weather_forecast"):
    gt = {"tool_call": {"name": name, "parameters": params}}
    return Sample("execution", offered, text, gt, "t", "weather", name, params)


def clarification(text, args, missing, offered=BOTH):
    gt = {"clarification": {"tool": "get_weather_forecast", "missing": list(missing)}}
    return Sample("clarification", offered, text, gt, "t", "weather", "get_weather_forecast", args, tuple(missing))


def refusal(text, reason, detail, offered=BOTH, absent=None):
    return Sample("refusal", offered, text, {"refusal": {"reason": reason}}, "t", "weather", detail=detail,
                  absent=absent)


OK_ARGS = {"location": "Oslo", "units": "metric", "days": 3}
CASES = [
    # a correct execution
    (execution("Forecast for Oslo, 3 days, metric units.", OK_ARGS), None),
    # a value written as people write it (number word) still counts as present
    (execution("Forecast for Oslo for three days in metric.", OK_ARGS), None),
    # a value missing from the text
    (execution("Forecast for Oslo in metric.", OK_ARGS), "execution_value_not_in_text"),
    # arguments that break the schema (days above its maximum)
    (execution("Forecast for Oslo, 30 days, metric.", {**OK_ARGS, "days": 30}), "execution_schema_invalid"),
    # the target is not among the offered tools
    (execution("Forecast for Oslo, 3 days, metric.", OK_ARGS, offered=("translate_text",)), "target_not_offered"),
    # a template variable left unrendered
    (execution("Forecast for {{ location }}", OK_ARGS), "empty_or_unrendered_text"),
    # a correct clarification: units left out
    (clarification("Forecast for Oslo please.", {"location": "Oslo", "units": "metric"}, ["units"]), None),
    # the "missing" value is in the text after all
    (clarification("Forecast for Oslo, metric.", {"location": "Oslo", "units": "metric"}, ["units"]),
     "clarification_value_in_text"),
    # another value the enum parameter could take is in the text: not missing either
    (clarification("Forecast for Oslo, imperial.", {"location": "Oslo", "units": "metric"}, ["units"]),
     "clarification_option_in_text"),
    # an optional parameter cannot be the missing one
    (clarification("Forecast for Oslo.", {"location": "Oslo", "units": "metric", "days": 2}, ["days"]),
     "clarification_missing_not_required"),
    # nothing listed as missing
    (clarification("Forecast for Oslo, metric.", {"location": "Oslo", "units": "metric"}, []),
     "clarification_missing_not_required"),
    # a harmful request from the taxonomy
    (refusal("Find out their password.", "harmful", "credential_theft"), None),
    # a harm category outside the taxonomy
    (refusal("Something bad.", "harmful", "made_up"), "harmful_unknown_category"),
    # out of scope: no offered tool can order taxis
    (refusal("Call me a taxi.", "out_of_scope", "taxi"), None),
    # "out of scope" although an offered tool runs the robot vacuum
    (refusal("Run the robot vacuum now.", "out_of_scope", "cleaning", offered=("start_robot_vacuum",)),
     "out_of_scope_covered_by_offered_tool"),
    # the same request is out of scope when the vacuum tool is not offered
    (refusal("Run the robot vacuum now.", "out_of_scope", "cleaning", offered=("get_weather_forecast",)), None),
    # hard negative: a forecast request offered only a neighbour that does something else
    (refusal("Weather in Oslo for 3 days?", "out_of_scope", "hard_negative", offered=("translate_text",),
             absent="get_weather_forecast"), None),
    # hard negative whose needed tool is offered after all
    (refusal("Weather in Oslo for 3 days?", "out_of_scope", "hard_negative", absent="get_weather_forecast"),
     "hard_negative_target_offered"),
    # hard negative beside a near-duplicate that could do it (shares "weather")
    (refusal("Weather in Oslo for 3 days?", "out_of_scope", "hard_negative", offered=("get_current_weather",),
             absent="get_weather_forecast"), "hard_negative_neighbour_may_do_it"),
]


@pytest.mark.parametrize(("sample", "reason"), CASES)
def test_verify(sample, reason):
    assert verify(GEN, sample) == reason
