"""Optuna samplers fitted to driving Tune: TPE whose cost stops growing, and a grid that Tune ends.

`GridSampler`: Optuna's grid without its end-of-grid `Study.stop()`. Tune's num_samples ends the
sweep; outside `Study.optimize` the stop only raised (a warning at the end of every grid study),
after re-reading every trial of the study on each trial's end.

`RecentTPESampler`: TPE whose cost per suggestion stops growing with the study: it models the
newest trials only.

Optuna's TPESampler reads every trial of the study for every suggestion (search space, Parzen
estimators, constant liar), so one suggestion costs O(trials so far), on the sweep driver's event
loop: ~0.1 s at 1,000 finished trials and ~0.8 s at 4,000 on a loaded CPU core
(benchmarks/driver_scale.py optuna). `RecentTPESampler` hands TPE a view of the study holding only
its newest `window` trials (running ones included, for the constant liar); a study smaller than
the window is sampled exactly as by TPESampler. TPE reads the study several times per suggestion
(search space, relative sample, each independent parameter), each read sorting every trial; the
view reads it once per suggestion, as nothing changes the study while one trial is being sampled.
"""

import optuna


class RecentTPESampler(optuna.samplers.TPESampler):
    """TPESampler over the newest `window` trials of the study (keyword arguments as TPESampler's)."""

    def __init__(self, *, window=1000, **kwargs):
        if not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be a positive integer. Received: window={window!r}")
        super().__init__(**kwargs)
        self.window = window
        self._view = (None, None)  # (the trial being sampled, its view of the study)

    def __getstate__(self):  # the view holds the study (and its storage): never pickled
        return {**self.__dict__, "_view": (None, None)}

    def _newest(self, study, trial):
        key = (id(study), trial._trial_id)
        if self._view[0] != key:
            self._view = (key, _Newest(study, self.window))
        return self._view[1]

    def infer_relative_search_space(self, study, trial):
        return super().infer_relative_search_space(self._newest(study, trial), trial)

    def sample_relative(self, study, trial, search_space):
        return super().sample_relative(self._newest(study, trial), trial, search_space)

    def sample_independent(self, study, trial, param_name, param_distribution):
        return super().sample_independent(self._newest(study, trial), trial, param_name, param_distribution)


class _Newest:
    """A Study seen through its newest `window` trials, read once per set of arguments (lists
    without copies only); every other attribute is the study's."""

    def __init__(self, study, window):
        self._study, self._window, self._read = study, window, {}

    def __getattr__(self, name):
        return getattr(self._study, name)

    def _get_trials(self, deepcopy=True, states=None, use_cache=False):
        if deepcopy:
            return self._study._get_trials(deepcopy=True, states=states, use_cache=use_cache)[-self._window :]
        key = (None if states is None else tuple(states), use_cache)
        if key not in self._read:
            self._read[key] = self._study._get_trials(deepcopy=False, states=states, use_cache=use_cache)[
                -self._window :
            ]
        return self._read[key]

    def get_trials(self, deepcopy=True, states=None):
        return self._study.get_trials(deepcopy=deepcopy, states=states)[-self._window :]


class GridSampler(optuna.samplers.GridSampler):
    """optuna's GridSampler, less the study stop after each trial (see the module docstring)."""

    def after_trial(self, study, trial, state, values):
        return None
