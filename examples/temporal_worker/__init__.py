"""An example Temporal worker for output-reset's tests and demo (not part of the package).

Workflows in `workflows.py` (sandboxed, no I/O), steps in `steps.py` (activities that read
`prompts/<step>.prompt` at call time and log every invocation), runners in `worker.py` and
`__main__.py`. Kept import-free: the workflow sandbox imports this package.
"""
