"""Load sweep results, aggregate over seeds, and set them beside the paper: the public API.

The notebooks and ``python -m ran_core.analysis`` use these names. They live in three modules of
one concern each: `ran_core.results.loading` (reading result folders; columns from `ran_core.results.store`),
`ran_core.analysis.aggregation` (cells over seeds, paper joins, trials, curves, ASHA) and
`ran_core.analysis.display` (percent tables, notes, Markdown). What a study is comes from `ran_core.common.studies`.
"""

from ran_core.analysis.aggregation import (
    CELL_KEYS,
    aggregate,
    asha_table,
    best_trial,
    best_trials,
    cell_table,
    confusion_matrix,
    errored_trials,
    join_paper,
    learning_curves,
    missing_studies,
    selection_metric,
    test_outcomes,
)
from ran_core.analysis.display import (
    NO_PAPER_VALUE,
    asha_rungs,
    protocol,
    selected_configuration,
    study_notes,
    study_summary,
    to_markdown,
)
from ran_core.results.loading import (
    EPOCH_COLUMNS,
    EPOCHS_FILE,
    TRIAL_COLUMNS,
    TRIALS_FILE,
    Results,
    find_study_dirs,
    load_results,
    status_counts,
)

__all__ = [
    "CELL_KEYS",
    "EPOCHS_FILE",
    "EPOCH_COLUMNS",
    "NO_PAPER_VALUE",
    "Results",
    "TRIALS_FILE",
    "TRIAL_COLUMNS",
    "aggregate",
    "asha_rungs",
    "asha_table",
    "best_trial",
    "best_trials",
    "cell_table",
    "confusion_matrix",
    "errored_trials",
    "find_study_dirs",
    "join_paper",
    "learning_curves",
    "load_results",
    "missing_studies",
    "protocol",
    "selected_configuration",
    "selection_metric",
    "status_counts",
    "study_notes",
    "study_summary",
    "test_outcomes",
    "to_markdown",
]
