"""No library chatter on a study's console unless asked (`-v`): Ray's, Tune's and Optuna's log
lines at WARNING, Tune's own console output off. Imports no Ray, so the runner quiets the
libraries before Ray is loaded (and bad flags still fail before it)."""

import logging

# Loggers that speak at INFO on every trial or step: Ray's and Tune's (among them tensorboardX's
# "Removed the following hyperparameter values" once per trial: lr_drops is a tuple, which
# TensorBoard's HParams view cannot show; the value is in every result row), Optuna's ("A new study
# created", "Using an existing study").
CHATTY_LOGGERS = ("ray", "ray.tune", "ray.train", "ray.data", "optuna")
# Ray's "Token authentication is enabled for this Ray cluster" warning at every start: the sweep
# wants it on (docs/cluster.md); nothing to act on.
NOTICES = ("ray._private.authentication.authentication_token_setup",)


def quiet_libraries(verbose):
    """Library loggers at WARNING (and Ray's start-up notices off) unless `verbose`, and Tune's own
    console output (a configuration box, a results path, a TensorBoard hint pointing into /tmp) off:
    the progress line replaces it. Returns the level for ray.init(logging_level=)."""
    import os

    level = logging.INFO if verbose else logging.WARNING
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(level)
    for name in NOTICES:
        logging.getLogger(name).setLevel(level if verbose else logging.ERROR)
    if not verbose:
        os.environ["RAY_AIR_NEW_OUTPUT"] = "0"  # Tune's legacy reporter, silent at the sweep's verbose=0
    import optuna  # its root logger is configured (at INFO) on first use: set it through its own API

    optuna.logging.set_verbosity(level)
    return level
