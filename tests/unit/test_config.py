"""Config loading: every error is one located line, every valid file becomes plain data."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.config import Config, load_config, parse_config
from runner.errors import ConfigError

GOOD = """\
api:
  url: http://localhost:3001/
  token_env: MY_TOKEN
  catalog: main
debounce_ms: 150
ignore: "**/*.log"
workflows:
  - id: blog_evaluator-1
    run: 01a2120c-2695-70a1-83f6-9d9ec4cacd75
    rules:
      - files: src/workflows/blog/prompts/score@v1.prompt
        rerun: scoreClaims
      - files: ["src/workflows/blog/steps.ts", "src/shared/**/*.ts"]
        reset_after: fetchArticle
  - type: blog_evaluator
    rules:
      - files: "*.prompt"
        rerun: x
"""


def parse(text: str) -> Config:
    return parse_config(text, path=Path("/p/output-reset.yaml"), shown_as="output-reset.yaml")


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse(text)
    assert caught.value.exit_code == 2
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_full_config_becomes_plain_data() -> None:
    config = parse(GOOD)
    assert config.api.url == "http://localhost:3001"
    assert config.api.token_env == "MY_TOKEN"
    assert config.api.catalog == "main"
    assert config.debounce_ms == 150
    assert config.ignore == ("**/*.log",)
    first, second = config.workflows
    assert (first.id, first.type, first.run) == (
        "blog_evaluator-1",
        None,
        "01a2120c-2695-70a1-83f6-9d9ec4cacd75",
    )
    assert [(r.action, r.step, r.files) for r in first.rules] == [
        ("rerun", "scoreClaims", ("src/workflows/blog/prompts/score@v1.prompt",)),
        ("reset_after", "fetchArticle", ("src/workflows/blog/steps.ts", "src/shared/**/*.ts")),
    ]
    assert first.rules[1].line == 13
    assert (second.id, second.type, second.key) == (None, "blog_evaluator", "type:blog_evaluator")
    assert config.root == Path("/p")


def test_defaults() -> None:
    config = parse("workflows:\n  - id: a\n    rules:\n      - {files: x, rerun: s}\n")
    assert config.debounce_ms == 300
    assert config.api.url is None
    assert config.api.token_env == "OUTPUT_API_AUTH_TOKEN"
    assert config.ignore == ()


def test_fingerprint_follows_what_is_pinned() -> None:
    a = parse("workflows:\n  - id: a\n    rules:\n      - {files: x, rerun: s}\n").workflows[0]
    b = parse("workflows:\n  - id: a\n    rules:\n      - {files: y, rerun: t}\n").workflows[0]
    c = parse(
        "workflows:\n  - id: a\n    run: 01a2120c-2695-70a1-83f6-9d9ec4cacd75\n"
        "    rules:\n      - {files: x, rerun: s}\n"
    ).workflows[0]
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()


RULE = "workflows:\n  - id: a\n    rules:\n      - files: x\n        rerun: s\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "workflows:\n  - id: a\n    rulez: []\n",
            'output-reset.yaml:3:5: workflows[0].rulez: unknown key; did you mean "rules"?',
        ),
        (
            "colour: red\n" + RULE,
            "output-reset.yaml:1:1: colour: unknown key; expected one of: version, api, "
            "engine, debounce_ms, ignore, workflows",
        ),
        (
            "workflows:\n  - id: a\n    id: b\n",
            "output-reset.yaml:3:5: workflows[0].id: duplicate key (first set on line 2)",
        ),
        (
            RULE + "        reset_after: t\n",
            'output-reset.yaml:6:9: workflows[0].rules[0]: a rule needs exactly one of "rerun" '
            'or "reset_after", not both',
        ),
        (
            "workflows:\n  - id: a\n    rules:\n      - files: x\n",
            'output-reset.yaml:4:9: workflows[0].rules[0]: a rule needs "rerun: STEP" (re-run '
            'that step and what follows) or "reset_after: STEP" (keep that step, re-run what '
            "follows)",
        ),
        (
            "workflows: []\n",
            "output-reset.yaml:1:12: workflows: must list at least one workflow",
        ),
        (
            "debounce_ms: 5\n",
            "output-reset.yaml:1:1: workflows: missing; list at least one workflow to pin",
        ),
        (
            "",
            "output-reset.yaml:1:1: (document): the file is empty; it needs a workflows list",
        ),
        (
            "- a\n",
            "output-reset.yaml:1:1: (document): expected a mapping, got a list",
        ),
        (
            "workflows:\n  - id: a\n   rules: [\n",
            "output-reset.yaml:3:4: syntax error: expected <block end>, but found "
            "'<block mapping start>' (check the indentation)",
        ),
        (
            "workflows:\n\t- id: a\n",
            "output-reset.yaml:2:1: syntax error: found character '\\t' that cannot start "
            "any token",
        ),
        (
            "debounce_ms: '300'\n" + RULE,
            'output-reset.yaml:1:14: debounce_ms: expected an integer, got a string ("300")',
        ),
        (
            "debounce_ms: -1\n" + RULE,
            "output-reset.yaml:1:14: debounce_ms: must be between 0 and 60000 milliseconds",
        ),
        (
            "workflows:\n  - id: 12345\n",
            "output-reset.yaml:2:9: workflows[0].id: expected a string, got an integer (12345); "
            "put it in quotes",
        ),
        (
            "workflows:\n  - id: a\n    type: b\n",
            'output-reset.yaml:2:5: workflows[0]: a workflow needs exactly one of "id" or '
            '"type", not both',
        ),
        (
            "workflows:\n  - rules: []\n",
            'output-reset.yaml:2:5: workflows[0]: a workflow needs exactly one of "id" (a '
            'workflow id) or "type" (pin its latest run)',
        ),
        (
            "workflows:\n  - id: a\n",
            "output-reset.yaml:2:5: workflows[0].rules: missing; map at least one file to a step",
        ),
        (
            "workflows:\n  - id: a\n    rules: []\n",
            "output-reset.yaml:3:12: workflows[0].rules: must list at least one rule",
        ),
        (
            "workflows:\n  - id: a\n    rules:\n      - rerun: s\n",
            "output-reset.yaml:4:9: workflows[0].rules[0].files: missing; which files does this "
            "rule watch?",
        ),
        (
            "workflows:\n  - id: a\n    rules:\n      - {files: [], rerun: s}\n",
            "output-reset.yaml:4:17: workflows[0].rules[0].files: must list at least one pattern",
        ),
        (
            "workflows:\n  - id: a\n    rules:\n      - {files: [x, 3], rerun: s}\n",
            "output-reset.yaml:4:21: workflows[0].rules[0].files[1]: expected a string, got an "
            "integer (3); put it in quotes",
        ),
        (
            "workflows:\n  - id: a\n    rules:\n      - {files: ../x, rerun: s}\n",
            "output-reset.yaml:4:17: workflows[0].rules[0].files: patterns cannot leave the "
            "config file's folder (no ..)",
        ),
        (
            "workflows:\n  - id: a\n    rules:\n      - {files: /etc/x, rerun: s}\n",
            "output-reset.yaml:4:17: workflows[0].rules[0].files: patterns are relative to the "
            "config file's folder, not absolute",
        ),
        (
            "workflows:\n  - id: a\n    rules:\n      - {files: x, rerun: two words}\n",
            "output-reset.yaml:4:27: workflows[0].rules[0].rerun: a step name has no spaces "
            "(use the name from step({ name }))",
        ),
        (
            "workflows:\n  - id: a\n    run: abc\n",
            "output-reset.yaml:3:10: workflows[0].run: expected a run id (a UUID such as "
            "01a2120c-2695-70a1-83f6-9d9ec4cacd75)",
        ),
        (
            "workflows:\n  - type: 'my type'\n",
            "output-reset.yaml:2:11: workflows[0].type: a workflow type uses only letters, "
            "digits and _ . @ -",
        ),
        (
            "api:\n  url: localhost:3001\n" + RULE,
            "output-reset.yaml:2:8: api.url: expected an http:// or https:// URL such as "
            "http://localhost:3001",
        ),
        (
            "api:\n  token_env: abc def\n" + RULE,
            "output-reset.yaml:2:14: api.token_env: expected the NAME of an environment variable "
            "(the token itself never goes in this file)",
        ),
        (
            "api: [1]\n" + RULE,
            "output-reset.yaml:1:6: api: expected a mapping, got a list",
        ),
        (
            "version: 2\n" + RULE,
            "output-reset.yaml:1:10: version: unsupported schema version (this tool reads 1)",
        ),
        (
            RULE + "  - id: a\n    rules:\n      - {files: x, rerun: s}\n",
            "output-reset.yaml:6:5: workflows[1]: pins the same workflow as workflows[0]",
        ),
        (
            "workflows:\n  - id: !!python/object:os.system x\n",
            "output-reset.yaml:2:9: workflows[0].id: expected a string, got a value tagged "
            "tag:yaml.org,2002:python/object:os.system; put it in quotes",
        ),
        (
            "workflows:\n  - id: a\n    rules:\n      - {files: x, rerun: }\n",
            "output-reset.yaml:4:26: workflows[0].rules[0].rerun: expected a string, got "
            "nothing (null)",
        ),
    ],
)
def test_errors_are_one_located_line(text: str, message: str) -> None:
    assert error_of(text) == message


RULES = "    rules: [{files: x.prompt, rerun: s}]\n"


def test_an_id_list_and_datasets_fan_out_into_one_pinned_run_each() -> None:
    config = parse(
        "workflows:\n  - id: [blog-1, blog-2]\n"
        + RULES
        + "  - type: blog\n    datasets: all\n"
        + RULES
        + "  - type: digest\n    datasets: [basic, long post]\n"
        + RULES
    )
    ids, every, chosen = config.workflows
    assert [s.id for s in ids.slots()] == ["blog-1", "blog-2"]
    assert [s.label for s in ids.slots()] == ["blog-1", "blog-2"]
    assert every.datasets == "all"
    assert every.datasets_at == (5, 15)
    assert chosen.datasets == ("basic", "long post")
    cases = chosen.slots([("basic", '{"a": 1}'), ("long post", "{}")])
    assert [(s.id, s.label, s.case_input) for s in cases] == [
        ("digest-case-basic", "digest/basic", '{"a": 1}'),
        ("digest-case-long_post-c4d9f61b", "digest/long post", "{}"),
    ]
    assert [s.type for s in cases] == [None, None]  # each pins its own workflow id


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "workflows:\n  - id: a\n    datasets: all\n" + RULES,
            "output-reset.yaml:3:5: workflows[0].datasets: needs `type:` (the workflow whose "
            "tests/datasets hold the cases)",
        ),
        (
            "workflows:\n  - type: a\n    datasets: some\n" + RULES,
            'output-reset.yaml:3:15: workflows[0].datasets: expected "all" or a list of dataset '
            "case names",
        ),
        (
            "workflows:\n  - type: a\n    datasets: [x, x]\n" + RULES,
            "output-reset.yaml:3:19: workflows[0].datasets[1]: x is listed twice",
        ),
        (
            "workflows:\n  - id: [a, b]\n    run: 01a2120c-2695-70a1-83f6-9d9ec4cacd75\n" + RULES,
            "output-reset.yaml:3:5: workflows[0].run: pins one run; it cannot go with a list of "
            "ids or with datasets",
        ),
        (
            "workflows:\n  - id: []\n" + RULES,
            "output-reset.yaml:2:9: workflows[0].id: must list at least one workflow id",
        ),
        (
            "workflows:\n  - id: [a, b]\n" + RULES + "  - id: b\n" + RULES,
            "output-reset.yaml:4:5: workflows[1]: pins the same workflow as workflows[0]",
        ),
    ],
)
def test_fan_out_errors(text: str, message: str) -> None:
    assert error_of(text) == message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nope.yaml", shown_as="nope.yaml")
    assert str(caught.value) == (
        "nope.yaml: no such file; write one with `output-reset init` or pass -c PATH"
    )


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "output-reset.yaml"
    path.write_bytes(b"workflows: \xff\n")
    with pytest.raises(ConfigError, match=r"^output-reset.yaml: not UTF-8 text"):
        load_config(path, shown_as="output-reset.yaml")


def test_occurrence_is_for_reset_after_only() -> None:
    config = parse(
        "workflows:\n  - id: a\n    rules:\n      - {files: x, reset_after: draft, occurrence: 2}\n"
    )
    assert config.workflows[0].rules[0].occurrence == 2
    assert error_of(
        "workflows:\n  - id: a\n    rules:\n      - {files: x, rerun: draft, occurrence: 2}\n"
    ) == (
        'output-reset.yaml:4:46: workflows[0].rules[0].occurrence: only a "reset_after" rule '
        "can pick an occurrence"
    )
    assert error_of(
        "workflows:\n  - id: a\n    rules:\n      - {files: x, reset_after: draft, occurrence: 0}\n"
    ) == (
        "output-reset.yaml:4:52: workflows[0].rules[0].occurrence: 1 is the first occurrence, "
        "-1 the last; 0 is none"
    )


def test_temporal_engine_section() -> None:
    config = parse(
        "engine:\n  kind: temporal\n  address: temporal.example.com:7233\n  namespace: team\n"
        "  tls: {server_name: t.example.com, client_cert: c.pem, client_key: k.pem}\n"
        "  api_key_env: TEMPORAL_API_KEY\n" + RULE
    )
    engine = config.engine
    assert (engine.kind, engine.address, engine.namespace, engine.api_key_env) == (
        "temporal",
        "temporal.example.com:7233",
        "team",
        "TEMPORAL_API_KEY",
    )
    assert engine.tls is not None
    assert engine.tls.client_cert == Path("/p/c.pem")
    assert parse("engine: {kind: temporal, tls: true}\n" + RULE).engine.tls is not None
    assert parse(RULE).engine.kind == "output"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "engine: {kind: kafka}\n" + RULE,
            'output-reset.yaml:1:16: engine.kind: expected "output" or "temporal"',
        ),
        (
            "engine: {address: 'x:1'}\n" + RULE,
            "output-reset.yaml:1:10: engine.address: only used by engine.kind: temporal",
        ),
        (
            "engine: {kind: temporal, address: localhost}\n" + RULE,
            "output-reset.yaml:1:35: engine.address: expected host:port, such as localhost:7233",
        ),
        (
            "engine: {kind: temporal}\napi: {url: 'http://x:1'}\n" + RULE,
            "output-reset.yaml:2:1: api: only used by the Output API engine (engine.kind: output)",
        ),
        (
            "engine: {kind: temporal, tls: {client_cert: c.pem}}\n" + RULE,
            "output-reset.yaml:1:31: engine.tls: client_cert and client_key go together",
        ),
    ],
)
def test_engine_errors(text: str, message: str) -> None:
    assert error_of(text) == message
