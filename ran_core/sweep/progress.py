"""What a running study shows: one updating progress line on a terminal, plain lines otherwise.

The line counts trials by how they ended (the recorder decides: completed, pruned, diverged,
errored), the trials running now, the best final test error so far, the time elapsed and an ETA:
epochs still to run times the measured wall time of an epoch (reports of one trial, apart), over
the most trials seen running at once. Under ASHA a trial may stop early, so its ETA is an upper bound (≤).
On a terminal the line is a tqdm bar that updates in place; when the output is a file or a pipe
(CI, logs, `ray exec`), a plain line is printed when a trial ends, at most every `every_s` seconds.
"""

import collections
import sys
import time

from ray import tune


def _clock(seconds):
    seconds = int(max(0, seconds))
    return (
        f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        if seconds >= 3600
        else f"{seconds // 60}:{seconds % 60:02d}"
    )


class Progress(tune.Callback):
    """Tune callback that shows the study's progress; `recorder` (a ResultRecorder) says how the
    trials ended. `total` trials of up to `budget` epochs; `upper_bound`: trials may stop early."""

    def __init__(self, recorder, name, total, budget, upper_bound=False, stream=None, every_s=30.0):
        self.recorder, self.name, self.total, self.budget, self.upper_bound = recorder, name, total, budget, upper_bound
        self.stream, self.every_s = stream or sys.stdout, every_s
        self._epochs = {}  # trial id -> epochs reported
        self._last_report = {}  # trial id -> (time of its last report)
        self._epoch_walls = collections.deque(maxlen=200)
        self._running = 0
        self._slots = 1  # the most trials seen running at once: what the remaining ones will share
        self._started = time.monotonic()
        self._last_line = float("-inf")
        self._bar = None

    def __getstate__(self):  # pickled with the experiment: the bar and the stream stay behind
        return {**self.__dict__, "_bar": None, "stream": None}

    def __setstate__(self, state):
        self.__dict__.update(state, stream=sys.stdout, _started=time.monotonic(), _last_line=float("-inf"))

    # Tune hooks ---------------------------------------------------------------------------------
    def on_trial_result(self, iteration, trials, trial, result, **info):
        now = time.monotonic()
        if trial.trial_id in self._last_report:
            self._epoch_walls.append(now - self._last_report[trial.trial_id])
        self._last_report[trial.trial_id] = now
        self._epochs[trial.trial_id] = max(self._epochs.get(trial.trial_id, 0), int(result.get("epoch") or 0))

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._ended(trials, trial)

    def on_trial_error(self, iteration, trials, trial, **info):
        self._ended(trials, trial)

    def on_step_end(self, iteration, trials, **info):
        self._running = sum(trial.status == "RUNNING" for trial in trials)
        self._slots = max(self._slots, self._running)
        if self._terminal():
            self._show()
        elif time.monotonic() - self._last_line > 4 * self.every_s:
            self._print()

    def on_experiment_end(self, trials, **info):
        if self._bar is not None:
            self._show()
            self._bar.close()
            self._bar = None

    # Display ------------------------------------------------------------------------------------
    def line(self):
        """'12/20 trials: 10 completed, 2 pruned | 2 running | best 1.33% | 3:05, ETA 2:10'."""
        counts = self.recorder.counts
        done = sum(counts.values())
        ended = ", ".join(f"{n} {status}" for status, n in counts.items() if n) or "none ended yet"
        best = self.recorder.best
        parts = [f"{done}/{self.total} trials: {ended}", f"{self._running} running"]
        if best is not None:
            parts.append(
                f"best final {getattr(self.recorder, 'select_by', 'test_error').replace('_', ' ')} {100 * best[0]:.2f}%"
            )
        eta = self.eta(done)
        clock = _clock(time.monotonic() - self._started)
        parts.append(clock + ("" if eta is None else f", ETA {'≤ ' if self.upper_bound else ''}{_clock(eta)}"))
        return " | ".join(parts)

    def eta(self, done):
        """Seconds left, or None before two reports of one trial have been timed."""
        if not self._epoch_walls:
            return None
        ended = set(self.recorder.statuses)
        running = [n for trial_id, n in self._epochs.items() if trial_id not in ended]
        to_start = max(0, self.total - max(len(self._epochs), done))
        left = sum(self.budget - n for n in running) + to_start * self.budget
        per_epoch = sorted(self._epoch_walls)[len(self._epoch_walls) // 2]  # median: robust to a pause
        return left * per_epoch / max(1, min(self._slots, len(running) + to_start))

    def _ended(self, trials, trial):
        self._epochs.setdefault(trial.trial_id, 0)
        self._running = sum(t.status == "RUNNING" and t is not trial for t in trials)
        if not self._terminal() and time.monotonic() - self._last_line >= self.every_s / 3:
            self._print()

    def _terminal(self):
        return hasattr(self.stream, "isatty") and self.stream.isatty()

    def _print(self):
        self._last_line = time.monotonic()
        print(f"[{self.name}] {self.line()}", file=self.stream, flush=True)

    def _show(self):
        from tqdm import tqdm

        if self._bar is None:  # the line rides in tqdm's free-text `unit` field: no ", " put before it
            self._bar = tqdm(total=self.total, file=self.stream, bar_format="{desc} |{bar:16}| {unit}", leave=True)
            self._bar.set_description_str(self.name, refresh=False)
        self._bar.n = min(self.total, sum(self.recorder.counts.values()))
        self._bar.unit = self.line()
        self._bar.refresh()
