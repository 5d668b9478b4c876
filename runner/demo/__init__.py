"""`output-reset demo`: a Temporal dev server, the example worker, a watched copy of its prompts.

`flow` runs the demo; `processes` is the process plumbing it shares with the tests (the dev
server, a worker process, stopping a process group). Kept import-free: `python -m` of a module
in here should load only what that module needs.
"""
