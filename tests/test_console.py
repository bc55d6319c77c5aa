"""The study's console: a progress line with counts, the best error and an ETA from measured epoch
times; one line per update when the output is a file, an in-place tqdm bar on a terminal."""

import collections
import io
import logging

from ran_core.sweep.console import CHATTY_LOGGERS, quiet_libraries
from ran_core.sweep.progress import Progress


class _Recorder:
    """What Progress reads of the ResultRecorder: how the trials that ended ended, and the best."""

    def __init__(self):
        self.statuses, self.best = {}, None

    @property
    def counts(self):
        return collections.Counter(self.statuses.values())


class _Trial:
    def __init__(self, trial_id, status="RUNNING"):
        self.trial_id, self.status = trial_id, status


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def _run(stream, clock):
    """Two trials of 4 epochs at once, then a third; epochs take 10 s on the given clock."""
    recorder = _Recorder()
    progress = Progress(recorder, "study", total=3, budget=4, stream=stream, every_s=0.0)
    trials = [_Trial("a"), _Trial("b")]
    for epoch in range(1, 5):
        clock[0] += 10.0
        for trial in trials:
            progress.on_trial_result(0, trials, trial, {"epoch": epoch})
        progress.on_step_end(0, trials)
    recorder.statuses.update(a="completed", b="pruned")
    recorder.best = (0.0133, "a")
    for trial in trials:
        trial.status = "TERMINATED"
        progress.on_trial_complete(0, trials, trial)
    progress.on_step_end(0, [*trials, _Trial("c")])
    return progress


def test_plain_lines_say_counts_best_and_eta_from_measured_epochs(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr("ran_core.sweep.progress.time.monotonic", lambda: clock[0])
    out = io.StringIO()
    progress = _run(out, clock)
    line = progress.line()
    assert line.startswith("2/3 trials: 1 completed, 1 pruned | 1 running | best final test error 1.33%")
    assert line.endswith("0:40, ETA 0:40"), line  # 4 epochs left for c, 10 s each, one at a time
    lines = out.getvalue().splitlines()
    assert lines and all(line.startswith("[study] ") for line in lines) and "\r" not in out.getvalue()


def test_a_terminal_gets_one_bar_updated_in_place(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr("ran_core.sweep.progress.time.monotonic", lambda: clock[0])
    out = _Terminal()
    progress = _run(out, clock)
    progress.on_experiment_end([])
    text = out.getvalue()
    assert "\r" in text and text.count("\n") <= 1, repr(text)  # redrawn in place, one line left
    assert "2/3 trials: 1 completed, 1 pruned" in text


def test_an_asha_eta_is_an_upper_bound_and_none_before_an_epoch_was_timed():
    progress = Progress(_Recorder(), "s", total=4, budget=10, upper_bound=True, stream=io.StringIO())
    assert progress.eta(0) is None and "ETA" not in progress.line()
    progress._epoch_walls.append(2.0)
    progress.on_step_end(0, [_Trial("a"), _Trial("b")])  # two at once: the remaining trials share two slots
    progress.on_step_end(0, [_Trial("a"), _Trial("b", "PAUSED")])
    assert progress.eta(0) == 4 * 10 * 2.0 / 2 and "ETA ≤ 0:40" in progress.line()


def test_library_loggers_are_quiet_unless_verbose():
    assert quiet_libraries(verbose=False) == logging.WARNING
    assert all(logging.getLogger(name).level == logging.WARNING for name in CHATTY_LOGGERS)
    assert quiet_libraries(verbose=True) == logging.INFO
    assert logging.getLogger("optuna").level == logging.INFO
    quiet_libraries(verbose=False)
