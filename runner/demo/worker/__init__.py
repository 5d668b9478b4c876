"""An example Temporal worker for output-reset's tests and demo (shipped in the package, so the
demo runs from any install; its prompts are package data).

Workflows in `workflows.py` (sandboxed, no I/O), steps in `steps.py` (activities that read
`prompts/<step>.prompt` at call time and log every invocation), runners in `worker.py` and
`__main__.py`. Kept import-free: the workflow sandbox imports this package.
It imports nothing of output-reset: it stands in for a user's own worker.
"""
