"""Output's datasets: the test cases of a workflow, kept in `<workflow folder>/tests/datasets`.

read.py finds and reads them as Output's CLI does (docs/output-api.md §8); a dataset file is
only ever written by `output-reset save-datasets`.
"""

from __future__ import annotations

from runner.datasets.read import (
    Case,
    Datasets,
    datasets_in,
    eval_input,
    read_datasets,
    workflow_folder,
)

__all__ = ["Case", "Datasets", "datasets_in", "eval_input", "read_datasets", "workflow_folder"]
