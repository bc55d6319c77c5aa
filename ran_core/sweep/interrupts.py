"""Ctrl-C (SIGINT) and SIGTERM end a sweep the same honest way: Tune stops its trials and saves
its state, the driver records every row it has, marks unfinished trials `interrupted`, prints the
summary and exits 128 + the signal's number (130, 143).

Ray Tune 2.60 turns SIGINT into a graceful stop inside `tuner.fit()` but leaves SIGTERM to Ray's
own handler (status 134, no summary). Here both go to the handler Tune always registers for
SIGUSR1 (the same graceful stop; installed again after `ray.init`, which sets a SIGTERM handler
of its own), and Tune's own SIGINT handler is disabled
(TUNE_DISABLE_SIGINT_HANDLER) so that which signal arrived is known. A second signal stops at once.
"""

import contextlib
import os
import signal

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupt:
    """The signal that interrupted the sweep (None while none has), and its exit status."""

    def __init__(self):
        self.signum = None

    @property
    def exit_status(self):
        return 128 + self.signum

    @property
    def name(self):
        return signal.Signals(self.signum).name

    def install(self):
        """Points SIGINT and SIGTERM here; call again after `ray.init`, which sets its own SIGTERM handler."""
        for signum in SIGNALS:
            signal.signal(signum, self._handle)

    def _handle(self, signum, frame):
        first = self.signum is None
        self.signum = self.signum or signum
        tune_stop = signal.getsignal(signal.SIGUSR1)
        if first and callable(tune_stop):  # inside tuner.fit(): Tune stops trials and saves state
            tune_stop(signum, frame)
        else:  # before or after fit, or a second signal: stop now
            raise KeyboardInterrupt


@contextlib.contextmanager
def caught():
    """Routes SIGINT and SIGTERM to a graceful Tune stop while the block runs; yields the Interrupt."""
    interrupt = Interrupt()
    previous = {signum: signal.getsignal(signum) for signum in SIGNALS}
    previous_env = os.environ.get("TUNE_DISABLE_SIGINT_HANDLER")
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
    interrupt.install()
    try:
        yield interrupt
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if previous_env is None:
            os.environ.pop("TUNE_DISABLE_SIGINT_HANDLER")
        else:
            os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = previous_env
