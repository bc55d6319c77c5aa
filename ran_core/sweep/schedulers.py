"""The sweep's Tune schedulers.

`PromotingASHAScheduler` is ASHA as published (Li et al., "A System for Massively Parallel
Hyperparameter Tuning", MLSys 2020, Algorithm 2): every trial waits at each rung, and a free slot
goes to the best waiting trial that ranks in the top 1/reduction_factor of its rung, else to a new
trial. Tune's ASHAScheduler decides on arrival instead, and an early arrival, compared with the
few results recorded before it, goes on: on real digits curves, with the same rungs, that spent
19.5% of the full-budget epochs where the promotion rule spends 14.6% (benchmarks/asha_replay.py;
docs/early-stopping.md).
`WaitingAwareLimiter` is the concurrency limit that goes with it: a trial waiting at a rung does
not hold a slot, and a promotion comes before a new trial.

Both ASHAs survive `--resume`: Tune pickles a scheduler when the sweep starts and never saves its
state, so a restored sweep would start with empty rungs and decide by other rules than an
unbroken one. Given the result folder (`output`, `experiment_id`), an unpickled ASHA rebuilds its
rungs from the recorded epochs before its first decision (`RungsFromResults`): every score at
every rung, which trials went on, and, for the promoting ASHA, which wait at a rung.

`LiveASHAScheduler` and `LiveFIFOScheduler`: Tune's FIFOScheduler (and ASHA, which inherits it)
scans every trial of the experiment at every controller step to find one waiting to start: at
2,500 trials that scan was 7% of the sweep driver's CPU (py-spy, benchmarks/driver_scale.py
tuner), growing with every trial. These look in the controller's set of live trials instead: a
pending trial first, else a paused one, as Tune's; among several, the lowest trial id (Tune names
a searcher's trials at random, and under the sweep's concurrency limit few wait at once).
"""

import bisect
import math

from ray.tune.experiment import Trial
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, TrialScheduler
from ray.tune.search import ConcurrencyLimiter

from ran_core.common.keys import DIVERGED, INTERRUPTED


def asha_rungs(grace, reduction_factor, max_t):
    """The epochs at which ASHA may stop a trial: grace * reduction_factor**k below max_t."""
    rungs, milestone = [], grace
    while milestone < max_t:
        rungs.append(milestone)
        milestone *= reduction_factor
    return rungs


class RungsFromResults:
    """What a sweep recorded about its trials at ASHA's rungs, read from its result folder: per
    trial, its epochs' `metric` (ran_core.results), whether it reported beyond an epoch, and
    whether it ended (a trial row other than `interrupted`: interrupted trials go on)."""

    def __init__(self, output, experiment_id, metric):
        import pyarrow.compute as pc

        from ran_core.results.store import read_results

        mine = pc.field("experiment_id") == experiment_id
        epochs = read_results(output, "epochs").filter(mine).select(["trial_id", "epoch", metric]).to_pylist()
        trials = read_results(output, "trials").filter(mine).select(["trial_id", "status"]).to_pylist()
        self.ended = {row["trial_id"] for row in trials if row["status"] != INTERRUPTED}
        self.values, self.last = {}, {}  # trial id -> {epoch: metric}; trial id -> its last epoch
        for row in epochs:
            self.values.setdefault(row["trial_id"], {})[row["epoch"]] = row[metric]
            self.last[row["trial_id"]] = max(self.last.get(row["trial_id"], 0), row["epoch"])
        for row in trials:  # the epoch a trial diverged at never reached a rung (the trainable ended it)
            if row["status"] == DIVERGED and row["trial_id"] in self.values:
                self.values[row["trial_id"]].pop(self.last[row["trial_id"]], None)

    def at(self, milestone):
        """(trial id, metric value) of every trial recorded at epoch `milestone` with a finite value."""
        for trial_id, values in self.values.items():
            value = values.get(milestone)
            if value is not None and math.isfinite(value):
                yield trial_id, float(value)


class _RestoresRungs:
    """Mixin: after unpickling (a resumed sweep), rebuild the rungs from the result folder once,
    before the first decision. `_restore_rungs(recorded)` is the scheduler's own."""

    _results = None  # (output, experiment_id), or None: nothing to restore from
    _restore_pending = False

    def restore_from(self, output, experiment_id):
        """Where this scheduler's sweep records its results (read only if it is ever unpickled)."""
        self._results = (str(output), experiment_id)
        return self

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._restore_pending = self._results is not None

    def _restore_once(self):
        if self._restore_pending:
            self._restore_pending = False
            self._restore_rungs(RungsFromResults(*self._results, self._metric))


class _LiveTrialsFirst:
    def choose_trial_to_run(self, tune_controller):
        live = tune_controller.get_live_trials()
        for status in (Trial.PENDING, Trial.PAUSED):
            waiting = [trial for trial in live if trial.status == status]
            if waiting:
                return min(waiting, key=lambda trial: trial.trial_id)
        return None


class LiveASHAScheduler(_RestoresRungs, _LiveTrialsFirst, ASHAScheduler):
    """ASHAScheduler that picks the next trial among the live ones, keeps its own metric (the
    Tuner's is the searcher's objective) and rebuilds its rungs on a resume."""

    def set_search_properties(self, metric, mode, **spec):
        return True

    def on_trial_add(self, tune_controller, trial):
        self._restore_once()
        return super().on_trial_add(tune_controller, trial)

    def on_trial_result(self, tune_controller, trial, result):
        self._restore_once()
        return super().on_trial_result(tune_controller, trial, result)

    def _restore_rungs(self, recorded):
        for bracket in self._brackets:
            for milestone, rung in bracket._rungs:  # Tune's own record: trial id -> metric_op * value
                rung.update((trial_id, self._metric_op * value) for trial_id, value in recorded.at(milestone))


class LiveFIFOScheduler(_LiveTrialsFirst, FIFOScheduler):
    """FIFOScheduler that picks the next trial among the live ones."""


class PromotingASHAScheduler(_RestoresRungs, FIFOScheduler):
    """ASHA with promotions: a trial that reaches a rung (grace * reduction_factor**k epochs) is
    PAUSED there with its `metric`; a free slot resumes the best waiting trial among the top
    floor(n / reduction_factor) of the n recorded at its rung, highest rung first, else starts a
    pending trial. `metric` is the scheduler's own (the searcher may optimise another): the sweep
    ranks on the training loss, which orders trials after their first epochs by their final test
    error better than 450 test images do (docs/early-stopping.md).

    The sweep has `num_samples` trials, so the rule ends: a trial waiting at the first rung that
    can no longer make its top (enough better ones recorded) is stopped at once, which tells the
    searcher PRUNED while the sweep goes on; once every trial has been added and none runs, the
    best waiting trial of the highest rung goes on if no trial has passed that rung yet (so at
    least one runs the whole budget), and every other waiting trial is stopped. `max_concurrent`
    caps running trials, promotions included. A diverged trial is never parked: its trainable
    ends it. On a resume, a trial that was waiting at a rung comes back PENDING from Tune and waits
    again (it starts only when promoted)."""

    def __init__(
        self, *, metric, mode, max_t, grace_period, reduction_factor, num_samples, max_concurrent, time_attr="epoch"
    ):
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max'. Received: {mode!r}")
        if not (1 <= grace_period <= max_t and reduction_factor >= 2 and num_samples >= 1 and max_concurrent >= 1):
            raise ValueError(
                "need 1 <= grace_period <= max_t, reduction_factor >= 2, num_samples >= 1, max_concurrent >= 1. "
                f"Received: grace_period={grace_period}, max_t={max_t}, reduction_factor={reduction_factor}, "
                f"num_samples={num_samples}, max_concurrent={max_concurrent}"
            )
        super().__init__()
        self._metric, self._sign, self._time_attr = metric, (1.0 if mode == "min" else -1.0), time_attr
        self._max_t, self._rf, self._max_concurrent = max_t, reduction_factor, max_concurrent
        self.milestones = asha_rungs(grace_period, reduction_factor, max_t)
        self._num_samples = num_samples
        self._scores = [[] for _ in self.milestones]  # per rung: every recorded score, sorted (lower is better)
        self._recorded = [set() for _ in self.milestones]  # per rung: trial ids recorded there
        self._passed = [0 for _ in self.milestones]  # per rung: trials that went on from it
        self._waiting = {}  # trial id -> (rung, score, Trial)
        self._added = set()
        self._new_scores = False
        self._parked = {}  # restored: trial id -> (rung, score) of a trial waiting when the sweep stopped
        self._requeued = set()  # restored waiting trials Tune holds as PENDING

    def set_search_properties(self, metric, mode, **spec):
        return True  # keeps its own metric: the Tuner's is the searcher's objective

    @property
    def waiting_ids(self):
        return self._waiting.keys()

    def on_trial_add(self, tune_controller, trial):
        self._restore_once()
        self._added.add(trial.trial_id)
        if trial.trial_id in self._parked:
            rung, score = self._parked.pop(trial.trial_id)
            self._waiting[trial.trial_id] = (rung, score, trial)
            self._requeued.add(trial.trial_id)

    def _restore_rungs(self, recorded):
        for rung, milestone in enumerate(self.milestones):
            for trial_id, value in recorded.at(milestone):
                score = self._sign * value
                bisect.insort(self._scores[rung], score)
                self._recorded[rung].add(trial_id)
                if recorded.last[trial_id] > milestone:
                    self._passed[rung] += 1
                elif trial_id not in recorded.ended:
                    self._parked[trial_id] = (rung, score)
        self._new_scores = True

    def _idle(self, trial):
        """Waiting and not running: paused, or restored from a stopped sweep and not yet promoted."""
        return trial.status == Trial.PAUSED or (trial.trial_id in self._requeued and trial.status == Trial.PENDING)

    def on_trial_result(self, tune_controller, trial, result):
        self._restore_once()
        t, value = result.get(self._time_attr), result.get(self._metric)
        if t is None or value is None or result.get(DIVERGED):
            return TrialScheduler.CONTINUE
        if t >= self._max_t:
            return TrialScheduler.STOP
        rung = next((k for k in reversed(range(len(self.milestones))) if t >= self.milestones[k]), None)
        if rung is None or trial.trial_id in self._recorded[rung]:
            return TrialScheduler.CONTINUE
        score = self._sign * float(value)
        score = score if math.isfinite(score) else math.inf
        bisect.insort(self._scores[rung], score)
        self._recorded[rung].add(trial.trial_id)
        self._waiting[trial.trial_id] = (rung, score, trial)
        self._new_scores = True
        return TrialScheduler.PAUSE

    def on_trial_complete(self, tune_controller, trial, result):
        self._waiting.pop(trial.trial_id, None)

    def on_trial_error(self, tune_controller, trial):
        self._waiting.pop(trial.trial_id, None)

    def on_trial_remove(self, tune_controller, trial):
        self._waiting.pop(trial.trial_id, None)

    def _better(self, rung, score):
        return bisect.bisect_left(self._scores[rung], score)

    def promotion(self):
        """The waiting trial a free slot resumes now (the best of the highest rung whose top
        1/reduction_factor it is in), or None."""
        best = {}
        for trial_id, (rung, score, trial) in self._waiting.items():
            if not self._idle(trial):  # its pause is still being saved
                continue
            if rung not in best or score < best[rung][0]:
                best[rung] = (score, trial_id, trial)
        for rung in sorted(best, reverse=True):
            score, _, trial = best[rung]
            if self._better(rung, score) < len(self._scores[rung]) // self._rf:
                return trial
        return None

    def choose_trial_to_run(self, tune_controller):
        self._restore_once()
        if self._new_scores:
            self._stop_hopeless(tune_controller)
        live = [trial for trial in tune_controller.get_live_trials() if trial.trial_id not in self._waiting]
        busy = sum(trial.status in (Trial.RUNNING, Trial.PENDING) for trial in live)
        if busy < self._max_concurrent and (trial := self.promotion()) is not None:
            return self._resume(trial)
        pending = [trial for trial in live if trial.status == Trial.PENDING]
        if pending:
            return min(pending, key=lambda trial: trial.trial_id)
        ending = busy == 0 and self._waiting and len(self._added) >= self._num_samples
        if ending and all(self._idle(trial) for _, _, trial in self._waiting.values()):  # every pause saved
            return self._finish(tune_controller)
        return None

    def _resume(self, trial):
        rung, _, _ = self._waiting.pop(trial.trial_id)
        self._requeued.discard(trial.trial_id)
        self._passed[rung] += 1
        return trial

    def _stop_hopeless(self, tune_controller):
        """Stops the trials waiting at the first rung with at least num_samples // reduction_factor
        better ones recorded there: at most num_samples trials reach it, so they can never rank
        in its top (one is kept in any case: see _finish). A later rung has no such bound (ASHA
        may pass on more than its share as better trials arrive), so its trials wait to the end."""
        self._new_scores = False
        for rung, score, trial in list(self._waiting.values()):
            if rung > 0 or self._better(rung, score) < max(1, self._num_samples // self._rf):
                continue
            if self._idle(trial):
                self._stop(tune_controller, trial)
            else:  # its pause is still being saved: stopped once it has its checkpoint
                self._new_scores = True

    def _finish(self, tune_controller):
        """No trial runs and none will be added: the best waiting trial of the highest rung goes
        on if nobody has passed that rung; every other waiting trial stops. Called once every
        pause has been saved: a trial stopped while its pause was being saved lost its checkpoint
        (and with it its confusion matrix)."""
        top = max(rung for rung, _, _ in self._waiting.values())
        keep = None
        if not self._passed[top]:
            keep = min((w for w in self._waiting.values() if w[0] == top), key=lambda w: w[1])[2]
        for _, _, trial in list(self._waiting.values()):
            if trial is not keep:
                self._stop(tune_controller, trial)
        return self._resume(keep) if keep is not None else None

    def _stop(self, tune_controller, trial):
        self._waiting.pop(trial.trial_id, None)
        self._requeued.discard(trial.trial_id)
        tune_controller.stop_trial(trial)

    def debug_string(self):
        counts = ", ".join(f"epoch {m}: {len(s)} recorded" for m, s in zip(self.milestones, self._scores))
        return f"PromotingASHAScheduler: {len(self._waiting)} waiting; {counts}"


class WaitingAwareLimiter(ConcurrencyLimiter):
    """At most `max_concurrent` trials running: a trial waiting at a rung of `scheduler` (a
    PromotingASHAScheduler) does not count, and no new trial is suggested while a waiting one can
    be promoted (Tune asks the searcher before the scheduler). Tune's own limit counts a paused
    trial as running until it ends, which would stall promotions: every slot held by a trial
    waiting for peers that cannot start."""

    def __init__(self, searcher, max_concurrent, scheduler):
        super().__init__(searcher, max_concurrent=max_concurrent)
        self._scheduler = scheduler

    def suggest(self, trial_id):
        running = len(self.live_trials - set(self._scheduler.waiting_ids))
        if running >= self.max_concurrent or self._scheduler.promotion() is not None:
            return None
        suggestion = self.searcher.suggest(trial_id)
        if suggestion is not None and suggestion != self.FINISHED:
            self.live_trials.add(trial_id)
            self.num_unfinished_live_trials += 1
        return suggestion

    def get_state(self):
        scheduler, self._scheduler = self._scheduler, None
        try:
            return super().get_state()
        finally:
            self._scheduler = scheduler

    def set_state(self, state):
        scheduler = self._scheduler
        super().set_state(state)
        self._scheduler = scheduler
