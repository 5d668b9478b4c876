"""`python -m runner` works like the `output-reset` command."""

from runner.cli import run

run()
