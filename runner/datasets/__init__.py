"""Output's datasets: the test cases of a workflow, kept in `<workflow folder>/tests/datasets`.

read.py finds and reads them as Output's CLI does (docs/output-api.md §8); a dataset file is
only ever written by `output-reset save-datasets`, through write.py.
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
from runner.datasets.write import (
    is_dataset_file,
    last_eval,
    last_output,
    write_cases,
)
from runner.errors import NotWritten

__all__ = [
    "Case",
    "Datasets",
    "NotWritten",
    "datasets_in",
    "eval_input",
    "is_dataset_file",
    "last_eval",
    "last_output",
    "read_datasets",
    "workflow_folder",
    "write_cases",
]
