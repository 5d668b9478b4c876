"""`output-reset init` and eval workflows: `evalWorkflow({ evals })` under `tests/evals/`."""

from __future__ import annotations

from pathlib import Path

from runner.init import render_config, scan_project
from tests.unit.init_support import PROMPT, load, rules, step_ts, workflow_ts, write

EVAL_WORKFLOW = """\
import { evalWorkflow } from '@outputai/evals';
import { evaluateSum, judgeTopic, checkFormat } from './evaluators.js';

export default evalWorkflow({
  name: 'simple_eval',
  evals: [
    { evaluator: judgeTopic, criticality: 'informational', interpret: { type: 'verdict' } },
    { evaluator: evaluateSum, criticality: 'required', interpret: { type: 'boolean' } },
    { evaluator: checkFormat, interpret: { type: 'boolean' } }
  ]
});
"""

EVALUATORS = """\
import { verify, evaluator, Verdict, judgeVerdict } from '@outputai/evals';
import { z } from '@outputai/core';

export const evaluateSum = verify(
  { name: 'evaluate_sum', input: z.object({ values: z.array(z.number()) }) },
  ({ input, output }) => Verdict.equals(output.result, input.values.reduce((a, b) => a + b, 0))
);

export const judgeTopic = verify(
  { name: 'judge_topic' },
  async ({ input, output }) =>
    judgeVerdict({ prompt: 'judge_topic@v1', variables: { topic: input.topic, text: output } })
);

export const checkFormat = evaluator({
  name: 'check_format',
  inputSchema: z.object({ output: z.any() }),
  fn: async ({ output }) => Verdict.isTrue(typeof output.result === 'number')
});
"""

TONE_EVALUATOR = """\
import { evaluator } from '@outputai/core';
import { judgeLabel } from '@outputai/evals';

export const judgeTone = evaluator({
  name: 'judge_tone',
  fn: async ({ output }) => judgeLabel({ prompt: 'judge_tone@v1', variables: { text: output } })
});
"""


def project(root: Path) -> Path:
    return write(
        root,
        {
            "src/workflows/simple/workflow.ts": workflow_ts(
                "simple", "return sumValues(input);", "import { sumValues } from './steps.js';"
            ),
            "src/workflows/simple/steps.ts": step_ts(("sumValues", "sum_values", None)),
            "src/workflows/simple/tests/evals/workflow.ts": EVAL_WORKFLOW,
            "src/workflows/simple/tests/evals/evaluators.ts": EVALUATORS,
            "src/workflows/simple/tests/evals/judge_topic@v1.prompt": PROMPT,
            "src/workflows/simple/tests/datasets/basic.yml": "basic:\n  input: {}\n",
            "src/workflows/tone/workflow.ts": workflow_ts(
                "tone", "return draft(input);", "import { draft } from './steps.js';"
            ),
            "src/workflows/tone/steps.ts": step_ts(("draft", "draft", None)),
            "src/workflows/tone/tests/evals/workflow.ts": (
                "import { evalWorkflow } from '@outputai/evals';\n"
                "import { judgeTone } from './evaluators/tone.js';\n"
                "export default evalWorkflow({ name: 'tone_eval', evals: [\n"
                "  { evaluator: judgeTone, interpret: { type: 'string', pass: ['calm'] } }\n"
                "] });\n"
            ),
            "src/workflows/tone/tests/evals/evaluators/tone.ts": TONE_EVALUATOR,
            "src/workflows/tone/tests/evals/evaluators/judge_tone@v1.prompt": PROMPT,
        },
    )


def test_an_eval_workflow_runs_its_evaluators_in_the_order_of_evals(tmp_path: Path) -> None:
    scanned = scan_project(project(tmp_path))
    assert scanned.warnings == ()
    by_name = {w.name: w for w in scanned.workflows}
    assert sorted(by_name) == ["simple", "simple_eval", "tone", "tone_eval"]
    simple_eval = by_name["simple_eval"]
    assert simple_eval.is_eval
    assert simple_eval.directory.relative_to(scanned.root).as_posix() == (
        "src/workflows/simple/tests/evals"
    )
    assert [(s.name, s.kind) for s in simple_eval.steps] == [
        ("judge_topic", "evaluator"),
        ("evaluate_sum", "evaluator"),
        ("check_format", "evaluator"),
    ]
    assert [p.name for p in simple_eval.steps[0].prompts] == ["judge_topic@v1"]
    assert [s.name for s in by_name["simple"].steps] == ["sum_values"]
    assert [s.name for s in by_name["tone_eval"].steps] == ["judge_tone"]


def test_an_eval_workflow_gets_its_own_entry(tmp_path: Path) -> None:
    root = project(tmp_path)
    text = render_config(scan_project(root), config_dir=root)
    evals = "src/workflows/simple/tests/evals"
    got = rules(load(text, root))
    assert got["latest simple_eval"] == [
        (f"{evals}/judge_topic@v1.prompt", "rerun", "judge_topic"),
        (f"{evals}/evaluators.ts", "rerun", "judge_topic"),
        (f"{evals}/workflow.ts", "rerun", "judge_topic"),
    ]
    assert got["latest tone_eval"] == [
        ("src/workflows/tone/tests/evals/evaluators/judge_tone@v1.prompt", "rerun", "judge_tone"),
        ("src/workflows/tone/tests/evals/evaluators/tone.ts", "rerun", "judge_tone"),
        ("src/workflows/tone/tests/evals/workflow.ts", "rerun", "judge_tone"),
    ]
    assert "  - type: simple_eval" in text
    flat = " ".join(line.strip().removeprefix("# ") for line in text.splitlines())
    assert (
        f"simple_eval ({evals}/workflow.ts), an eval workflow: its evaluators run in the order "
        "of its evals: list: judge_topic, evaluate_sum, check_format." in flat
    )


def test_a_file_with_neither_call_says_what_it_looked_for(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "src/workflows/w/workflow.ts": workflow_ts(
                "w", "await a();", "import { a } from './steps.js';"
            ),
            "src/workflows/w/steps.ts": step_ts(("a", "a", None)),
            "src/workflows/w/tests/evals/workflow.ts": "export const x = 1;\n",
        },
    )
    assert scan_project(tmp_path).warnings == (
        "src/workflows/w/tests/evals/workflow.ts: no workflow({ ... }) or evalWorkflow({ ... }) "
        "call found; skipped",
    )


def test_a_verify_that_is_not_the_evals_one_declares_nothing(tmp_path: Path) -> None:
    steps = (
        "import { step } from '@outputai/core';\n"
        "import { verify } from 'jsonwebtoken';\n"
        "export const checkToken = step({\n"
        "  name: 'check_token',\n"
        "  fn: async ({ token }) => ({ claims: verify(token, process.env.SECRET ?? '') })\n"
        "});\n"
    )
    write(
        tmp_path,
        {
            "src/workflows/w/workflow.ts": workflow_ts(
                "w", "await checkToken(input);", "import { checkToken } from './steps.js';"
            ),
            "src/workflows/w/steps.ts": steps,
        },
    )
    scanned = scan_project(tmp_path)
    assert scanned.warnings == ()
    assert [s.name for s in scanned.workflows[0].steps] == ["check_token"]


def test_a_workflow_with_datasets_pins_one_run_per_case(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "src/workflows/simple/tests/datasets/more.yml").write_text(
        "long:\n  input: {values: [1, 2]}\nempty:\n  input: {values: []}\n"
    )
    # Even with a run to pin by id, a dataset entry pins by type: one run per case.
    text = render_config(scan_project(root), config_dir=root, pins={"simple": "simple-42"})
    entry = text.split("  - type: simple  # one pinned run per dataset case\n", 1)[1]
    assert entry.startswith("    datasets: all\n    rules:\n")
    assert "simple-42" not in text
    flat = " ".join(line.strip().removeprefix("# ") for line in text.splitlines())
    assert (
        "Its datasets (src/workflows/simple/tests/datasets) hold 3 cases: basic, long, empty. "
        "Each case gets its own pinned run (workflow id simple-case-<case>, started once with "
        "the case's input), all reset together on each save; simple_eval judges them after "
        "each save (or `output-reset eval`, now)." in flat
    )
    # The workflow without datasets, and the eval workflows, stay one pinned run each.
    assert text.count("datasets: all") == 1
    config = load(text, root)
    by_type = {w.type: w for w in config.workflows}
    assert by_type["simple"].datasets == "all"
    assert by_type["tone"].datasets is None


def test_datasets_without_an_eval_workflow_say_how_to_judge_them(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "src/workflows/tone/tests/datasets").mkdir()
    (root / "src/workflows/tone/tests/datasets/calm.yaml").write_text("calm:\n  input: {}\n")
    (root / "src/workflows/tone/tests/evals/workflow.ts").unlink()
    text = render_config(scan_project(root), config_dir=root)
    flat = " ".join(line.strip().removeprefix("# ") for line in text.splitlines())
    assert "hold 1 case: calm." in flat
    assert "add an eval workflow tone_eval to have each save judge them." in flat
