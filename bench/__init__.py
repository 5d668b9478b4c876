"""Benchmarks of output-reset: `python -m bench [--quick]` from the repo root.

Not tests: nothing here fails on timing. Each benchmark prints its figures and compares them with
the targets ("ok" / "MISSED"); `bench/RESULTS.md` keeps the last full run, with the machine noted.

Modules: `common` (process probes, statistics, temp trees, result sections), `floor` (the raw
inotify watcher used as the physical floor), `reaction`, `storm`, `idle`, `planning`, `startup`
(one per benchmark), `report` (the machine and the Markdown file).
"""
