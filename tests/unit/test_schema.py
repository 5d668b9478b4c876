"""The JSON Schema and the loader agree: on keys, and on generated documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner import config as c
from runner.config import parse_config
from runner.errors import ConfigError
from runner.schema import schema

VALIDATOR = jsonschema.Draft202012Validator(schema())


def loader_accepts(document: Any) -> tuple[bool, str]:
    text = yaml.safe_dump(document, sort_keys=False)
    try:
        parse_config(text, path=Path("/p/output-reset.yaml"), shown_as="output-reset.yaml")
    except ConfigError as exc:
        return False, str(exc)
    return True, ""


def schema_accepts(document: Any) -> tuple[bool, str]:
    errors = list(VALIDATOR.iter_errors(document))
    return not errors, "; ".join(e.message for e in errors[:3])


def test_the_schema_is_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(schema())
    json.dumps(schema())


def test_the_schema_lists_the_loader_keys() -> None:
    root = schema()
    assert tuple(root["properties"]) == c.TOP_KEYS
    assert tuple(root["properties"]["api"]["properties"]) == c.API_KEYS
    assert tuple(root["properties"]["engine"]["properties"]) == c.ENGINE_KEYS
    workflow = root["properties"]["workflows"]["items"]
    assert tuple(workflow["properties"]) == c.WORKFLOW_KEYS
    assert tuple(workflow["properties"]["rules"]["items"]["properties"]) == c.RULE_KEYS


def test_the_repository_config_is_valid_for_both() -> None:
    document = yaml.safe_load(
        Path(__file__).resolve().parents[2].joinpath("output-reset.yaml").read_text()
    )
    assert schema_accepts(document) == (True, "")
    assert loader_accepts(document) == (True, "")


# -- generated documents: mostly well-formed, sometimes with one thing wrong ----------------


def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A good value 19 times in 20, so that whole documents are often valid."""
    return st.integers(0, 19).flatmap(lambda n: bad if n == 0 else good)


step_names = mostly(
    st.sampled_from(["draft", "polish_draft", "scoreClaims", "wf#draft"]),
    st.sampled_from(["two words", "", 3, None]),
)
one_pattern = mostly(
    st.sampled_from(["prompts/*.prompt", "src/**/x.ts", "!skip.md", "ok", "a/..b"]),
    st.sampled_from(["../up", "/abs", "a\\b", " ", "x/.. ", "!../x", "C:/x", 5, "!", " ! "]),
)
files = mostly(
    st.one_of(one_pattern, st.lists(one_pattern, min_size=1, max_size=3)),
    st.sampled_from([[], None, {"a": 1}]),
)
small_ints = mostly(st.integers(-3, 3).filter(bool), st.sampled_from([0, "1", 1.5]))


@st.composite
def rules(draw: st.DrawFn) -> dict[str, Any]:
    rule: dict[str, Any] = {}
    if draw(mostly(st.just(True), st.just(False))):
        rule["files"] = draw(files)
    action = draw(
        mostly(st.sampled_from(["rerun", "reset_after"]), st.sampled_from(["both", "neither"]))
    )
    if action in ("rerun", "both"):
        rule["rerun"] = draw(step_names)
    if action in ("reset_after", "both"):
        rule["reset_after"] = draw(step_names)
    if draw(st.integers(0, 4)) == 0:
        rule["occurrence"] = draw(small_ints)
    if draw(st.integers(0, 4)) == 0:
        rule["allow_replay"] = draw(mostly(st.booleans(), st.just("sure")))
    if draw(st.integers(0, 19)) == 0:
        rule["extra"] = 1
    return rule


@st.composite
def workflows(draw: st.DrawFn, index: int) -> dict[str, Any]:
    workflow: dict[str, Any] = {}
    which = draw(mostly(st.sampled_from(["id", "type"]), st.sampled_from(["both", "neither"])))
    if which in ("id", "both"):
        workflow["id"] = draw(
            mostly(
                st.sampled_from([f"wf-{index}", [f"wf-{index}", f"wf-{index}b"]]),
                st.sampled_from(["", 7, " ", [], [f"w{index}", f"w{index}"], [" "]]),
            )
        )
    if which in ("type", "both"):
        workflow["type"] = draw(mostly(st.just(f"type_{index}"), st.just("bad type")))
    if draw(st.integers(0, 3)) == 0:
        workflow["run"] = draw(
            mostly(st.just("01a2120c-2695-70a1-83f6-9d9ec4cacd75"), st.just("nope"))
        )
    if draw(st.integers(0, 3)) == 0:
        workflow["datasets"] = draw(
            mostly(
                st.sampled_from(["all", ["basic"], ["basic", "long_post"]]),
                st.sampled_from(["some", [], ["a", "a"], 3, [""]]),
            )
        )
    if draw(st.integers(0, 3)) == 0:
        workflow["steps"] = {
            "publish": draw(
                mostly(
                    st.sampled_from([{"side_effects": True}, {"side_effects": False}, {}]),
                    st.sampled_from([{"side_effects": "x"}, {"other": 1}, []]),
                )
            )
        }
    if draw(mostly(st.just(True), st.just(False))):
        workflow["rules"] = draw(
            mostly(st.lists(rules(), min_size=1, max_size=3), st.sampled_from([[], {}]))
        )
    return workflow


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    document: dict[str, Any] = {}
    if draw(st.integers(0, 3)) == 0:
        document["version"] = draw(mostly(st.just(1), st.sampled_from([2, "1"])))
    if draw(st.integers(0, 3)) == 0:
        document["debounce_ms"] = draw(
            mostly(st.integers(0, 60000), st.sampled_from([-1, 60001, "300", 1.5]))
        )
    if draw(st.integers(0, 3)) == 0:
        document["ignore"] = draw(files)
    temporal = draw(st.integers(0, 3)) == 0
    if temporal:
        document["engine"] = draw(
            st.fixed_dictionaries(
                {"kind": mostly(st.just("temporal"), st.sampled_from(["output", "kafka"]))},
                optional={
                    "address": mostly(st.just("localhost:7233"), st.just("localhost")),
                    "namespace": mostly(st.just("default"), st.just("")),
                    "tls": mostly(
                        st.one_of(
                            st.booleans(),
                            st.fixed_dictionaries(
                                {},
                                optional={"server_name": st.just("t.example.com")},
                            ),
                            st.just({"client_cert": "c.pem", "client_key": "k.pem"}),
                        ),
                        st.just({"client_cert": "c.pem"}),
                    ),
                    "api_key_env": mostly(st.just("TEMPORAL_API_KEY"), st.just("1bad")),
                },
            )
        )
    elif draw(st.integers(0, 5)) == 0:
        document["engine"] = draw(
            mostly(st.just({"kind": "output"}), st.just({"address": "localhost:7233"}))
        )
    if draw(st.integers(0, 3)) == 0 and (not temporal or draw(st.integers(0, 9)) == 0):
        document["api"] = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "url": mostly(
                        st.sampled_from(["http://localhost:3001", "https://u:p@[::1]:1/api/"]),
                        st.sampled_from(
                            ["localhost:3001", "http://[::1", "http://h:x", "http://h/a b"]
                        ),
                    ),
                    "token_env": mostly(st.just("OUTPUT_API_AUTH_TOKEN"), st.just("a b")),
                    "catalog": mostly(st.just("main"), st.just("bad id")),
                },
            )
        )
    if draw(mostly(st.just(True), st.just(False))):
        count = draw(mostly(st.integers(1, 3), st.just(0)))
        document["workflows"] = [draw(workflows(i)) for i in range(count)]
    if draw(st.integers(0, 19)) == 0:
        document["unknown"] = True
    return document


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_the_loader_and_the_schema_agree(document: dict[str, Any]) -> None:
    loaded, why_not_loaded = loader_accepts(document)
    valid, why_not_valid = schema_accepts(document)
    assert loaded == valid, (
        f"loader: {why_not_loaded or 'accepts'}; schema: {why_not_valid or 'accepts'}"
    )
