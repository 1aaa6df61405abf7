import pytest
from pydantic import ValidationError

from generators.registry import Registry, Tool, load_registry
from generators.spec import DatasetSpec, SpecError, select_tools

INVALID = [
    # ratios not summing to 1: the message names ratios and the sum
    ({"n": 10, "ratios": {"execution": 0.5, "clarification": 0.25, "refusal": 0.15}}, "ratios must sum to 1"),
    # a negative ratio
    ({"n": 10, "ratios": {"execution": 1.1, "clarification": -0.1, "refusal": 0.0}}, "ratios.clarification"),
    # the CLI form with two numbers
    ({"n": 10, "ratios": "0.6,0.4"}, "three or four numbers"),
    # n below 1 and above the cap
    ({"n": 0}, "n\n"),
    ({"n": 10**9}, "n\n"),
    # distractors out of order
    ({"n": 10, "distractors": {"min": 4, "max": 2}}, "distractors.min (4) is above distractors.max (2)"),
    # paraphrasing is not implemented yet
    ({"n": 10, "paraphrase": {"backend": "vllm"}}, "paraphrase.backend"),
    # unknown field (typo) is refused rather than ignored
    ({"n": 10, "ratio": {"execution": 1}}, "ratio\n"),
    # unknown split
    ({"n": 10, "split": "test"}, "split"),
    # optional share out of range
    ({"n": 10, "optional_params": 1.5}, "optional_params"),
    # a name that is not a safe identifier
    ({"n": 10, "name": "../etc"}, "name"),
]


@pytest.mark.parametrize(("body", "needle"), INVALID)
def test_invalid_specs_name_the_field(body, needle):
    with pytest.raises(ValidationError) as err:
        DatasetSpec.model_validate(body)
    assert needle in str(err.value)


def test_defaults_and_cli_ratios():
    spec = DatasetSpec.model_validate({"n": 5, "ratios": "0.6, 0.25, 0.15"})
    assert spec.ratios.as_dict() == {"execution": 0.6, "clarification": 0.25, "refusal": 0.15}
    assert (spec.split, spec.distractors.min, spec.distractors.max, spec.paraphrase.backend) == ("train", 2, 5, "none")
    # ratios within 1e-9 of 1 are accepted (binary floats)
    DatasetSpec(n=3, ratios={"execution": 0.1 + 0.2, "clarification": 0.7, "refusal": 0.0})
    # the spec round-trips through JSON (the REST API body)
    assert DatasetSpec.model_validate_json(spec.model_dump_json()) == spec


def _tool(name, domain, split="train", required=("a",)):
    props = {p: {"type": "string"} for p in (*required, "opt")}
    return Tool(name, f"Do {name}.", {"type": "object", "properties": props, "required": list(required)}, split, domain)


SMALL = Registry([_tool("t1", "d1"), _tool("t2", "d2"), _tool("h1", "d1", "heldout"), _tool("free", "d3", required=())])

SELECT_ERRORS = [
    # unknown tool name
    ({"tools": {"names": ["nope"]}}, "tools.names: unknown tools nope"),
    # a held-out tool asked for in a train dataset
    ({"tools": {"names": ["h1"]}}, "not in the 'train' split"),
    # unknown domain
    ({"tools": {"domains": ["zzz"]}}, "tools.domains: unknown domains zzz"),
    # a domain with no tool of the split
    ({"split": "heldout", "tools": {"domains": ["d2"]}}, "no tool matches"),
    # clarifications from tools without a required parameter
    ({"tools": {"names": ["free"]}}, "set ratios.clarification to 0"),
]


@pytest.mark.parametrize(("extra", "needle"), SELECT_ERRORS)
def test_select_tools_errors_say_what_to_change(extra, needle):
    with pytest.raises(SpecError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        select_tools(SMALL, DatasetSpec.model_validate({"n": 5, **extra}))


def test_select_tools_filters():
    # the split alone
    assert [t.name for t in select_tools(SMALL, DatasetSpec(n=1))] == ["free", "t1", "t2"]
    assert [t.name for t in select_tools(SMALL, DatasetSpec(n=1, split="heldout"))] == ["h1"]
    # clarification ratio 0 allows tools without required parameters
    spec = DatasetSpec(n=1, tools={"names": ["free"]}, ratios={"execution": 0.9, "clarification": 0, "refusal": 0.1})
    assert [t.name for t in select_tools(SMALL, spec)] == ["free"]


def test_real_registry_has_both_splits():
    reg = load_registry()
    train = select_tools(reg, DatasetSpec(n=1))
    heldout = select_tools(reg, DatasetSpec(n=1, split="heldout"))
    assert train and heldout and not {t.name for t in train} & {t.name for t in heldout}
