"""An example Temporal worker for output-reset's tests and demo (shipped in the package, so the
demo runs from any install; its prompts are package data).

Workflows in `workflows.py` (sandboxed, no I/O), steps in `steps.py` (activities that read
`prompts/<step>.prompt` at call time and log every invocation), the eval workflow
`blog_digest_eval` in `evaluation.py` with its evaluators in `evaluators.py` and Output's
verdict rules in `verdicts.py`, runners in `worker.py` and `__main__.py`. Dataset cases for
blog_digest, in Output's format and layout: `src/workflows/blog_digest/tests/datasets/`.
Kept import-free: the workflow sandbox imports this package. It imports nothing of
output-reset: it stands in for a user's own worker.
"""
