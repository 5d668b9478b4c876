"""`output-reset init` and child workflows: a child's files are rules of its parents."""

from __future__ import annotations

from pathlib import Path

from runner.init import choose_pin, render_config, scan_project
from tests.unit.init_support import PROMPT, load, rules, step_ts, workflow_ts, write

W = "src/workflows"


def family(root: Path) -> Path:
    """parent -> child -> grandchild; conductor starts only children (child and helper_child,
    the latter through a helper module); loner has no parent."""
    return write(
        root,
        {
            f"{W}/parent/workflow.ts": workflow_ts(
                "parent",
                "await prepare(input);\n  const out = await child(input);\n  return finish(out);",
                "import { prepare, finish } from './steps.js';\n"
                "import child from '../child/workflow.js';",
            ),
            f"{W}/parent/steps.ts": step_ts(
                ("prepare", "prepare", "prepare@v1"), ("finish", "finish", None)
            ),
            f"{W}/parent/prepare@v1.prompt": PROMPT,
            f"{W}/child/workflow.ts": workflow_ts(
                "the_child",
                "const a = await inner(input);\n  return grandchild(a);",
                "import { inner } from './steps.js';\n"
                "import grandchild from './grand/workflow.js';",
            ),
            f"{W}/child/steps.ts": step_ts(("inner", "inner", "inner@v1")),
            f"{W}/child/prompts/inner@v1.prompt": PROMPT,
            f"{W}/child/grand/workflow.ts": workflow_ts(
                "grandchild", "return deep(input);", "import { deep } from './steps.js';"
            ),
            f"{W}/child/grand/steps.ts": step_ts(("deep", "deep", "deep@v1")),
            f"{W}/child/grand/deep@v1.prompt": PROMPT,
            f"{W}/conductor/workflow.ts": workflow_ts(
                "conductor",
                "const a = await child(input);\n  return startHelper(a);",
                "import child from '../child/workflow.js';\n"
                "import { startHelper } from './helper.js';",
            ),
            f"{W}/conductor/helper.ts": (
                "import helperChild from '../helper_child/workflow.js';\n"
                "export const startHelper = async (input: unknown) => helperChild({ input });\n"
            ),
            f"{W}/helper_child/workflow.ts": workflow_ts(
                "helper_child", "return tidy(input);", "import { tidy } from './steps.js';"
            ),
            f"{W}/helper_child/steps.ts": step_ts(("tidy", "tidy", None)),
            f"{W}/loner/workflow.ts": workflow_ts(
                "loner", "return alone(input);", "import { alone } from './steps.js';"
            ),
            f"{W}/loner/steps.ts": step_ts(("alone", "alone", None)),
        },
    )


def test_children_are_found_directly_and_through_a_helper(tmp_path: Path) -> None:
    project = scan_project(family(tmp_path))
    assert project.warnings == ()
    by_name = {w.name: w for w in project.workflows}
    assert by_name["parent"].children == ("the_child",)
    assert by_name["the_child"].children == ("grandchild",)
    assert by_name["conductor"].children == ("the_child", "helper_child")
    assert by_name["conductor"].steps == ()
    assert [w.name for w in project.entries] == ["conductor", "loner", "parent"]


def test_a_child_has_no_entry_its_files_are_rules_of_each_parent(tmp_path: Path) -> None:
    root = family(tmp_path)
    text = render_config(scan_project(root), config_dir=root)
    got = rules(load(text, root))
    assert list(got) == ["latest conductor", "latest loner", "latest parent"]
    assert got["latest parent"] == [
        (f"{W}/parent/prepare@v1.prompt", "rerun", "prepare"),
        (f"{W}/child/prompts/inner@v1.prompt", "rerun", "the_child#inner"),
        (f"{W}/child/grand/deep@v1.prompt", "rerun", "grandchild#deep"),
        (f"{W}/parent/steps.ts", "rerun", "prepare"),
        (f"{W}/child/steps.ts", "rerun", "the_child#inner"),
        (f"{W}/child/grand/steps.ts", "rerun", "grandchild#deep"),
        (f"{W}/parent/workflow.ts", "rerun", "prepare"),
        (f"{W}/child/workflow.ts", "rerun", "the_child#inner"),
        (f"{W}/child/grand/workflow.ts", "rerun", "grandchild#deep"),
    ]
    assert got["latest conductor"] == [
        (f"{W}/child/prompts/inner@v1.prompt", "rerun", "the_child#inner"),
        (f"{W}/child/grand/deep@v1.prompt", "rerun", "grandchild#deep"),
        (f"{W}/child/steps.ts", "rerun", "the_child#inner"),
        (f"{W}/child/grand/steps.ts", "rerun", "grandchild#deep"),
        (f"{W}/helper_child/steps.ts", "rerun", "helper_child#tidy"),
        (f"{W}/conductor/workflow.ts", "rerun", "the_child#inner"),
        (f"{W}/child/workflow.ts", "rerun", "the_child#inner"),
        (f"{W}/child/grand/workflow.ts", "rerun", "grandchild#deep"),
        (f"{W}/helper_child/workflow.ts", "rerun", "helper_child#tidy"),
    ]
    assert "type: the_child" not in text
    assert "type: grandchild" not in text


def test_the_entry_says_what_it_starts(tmp_path: Path) -> None:
    root = family(tmp_path)
    text = render_config(scan_project(root), config_dir=root)
    flat = " ".join(line.strip().removeprefix("# ") for line in text.splitlines())
    assert (
        "It starts child workflow the_child. the_child starts grandchild. A reset of this run "
        "starts them again, so their files are mapped here (a child's step is named child#step)."
    ) in flat
    assert (
        flat.count("conductor has no steps of its own; starts children the_child, helper_child.")
        == 1
    )


def test_a_workflow_that_starts_itself_still_gets_its_entry(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            f"{W}/loop/workflow.ts": workflow_ts(
                "recursive",
                "await step1(input);\n  if (input.n > 0) { await self({ n: input.n - 1 }); }",
                "import { step1 } from './steps.js';\nimport self from './workflow.js';",
            ),
            f"{W}/loop/steps.ts": step_ts(("step1", "step_one", None)),
        },
    )
    project = scan_project(tmp_path)
    assert [w.name for w in project.entries] == ["recursive"]
    assert project.entries[0].children == ("recursive",)
    got = rules(load(render_config(project, config_dir=tmp_path), tmp_path))
    assert got == {
        "latest recursive": [
            (f"{W}/loop/steps.ts", "rerun", "step_one"),
            (f"{W}/loop/workflow.ts", "rerun", "step_one"),
        ]
    }


def test_a_pin_is_never_a_child_execution() -> None:
    child = "rsc-1-BlwCcFq3Tj2pLx0mWn7aZQ"  # <parent id>-<base64url(uuid4)>, 22 characters
    assert choose_pin([child, "rsc-1", "rsc-0"]) == "rsc-1"
    assert choose_pin([child]) is None
    assert choose_pin([]) is None
    assert choose_pin(["V1StGXR8_Z5jdHi6B-myT"]) == "V1StGXR8_Z5jdHi6B-myT"  # a nanoid
