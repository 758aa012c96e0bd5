"""Caffe's SignalHandler during Solver.step: SIGINT and SIGHUP become requests ('stop', 'snapshot'; 'none'
ignores the signal) that the loop acts on at the end of the iteration; a second Ctrl-C while a stop is pending
stops at once (KeyboardInterrupt). Handlers are installed from the main thread only and put back afterwards."""
import signal
import threading

from .logs import log

__all__ = ['SignalRequests', 'StopRequested']


class StopRequested(KeyboardInterrupt):
    """A stop request (SIGINT with sigint_effect 'stop') that interrupts what Solver.interruptible runs."""


class SignalRequests:
    """Context manager: while active, the solver's signals set `solver._request` to their effect
    (solver.sigint_effect, solver.sighup_effect). interrupt=True: a 'stop' also raises StopRequested at once (what
    Solver.interruptible runs is cut short)."""

    def __init__(self, solver, interrupt=False):
        self.solver = solver
        self.interrupt = interrupt
        self.old = {}

    def __enter__(self):
        self.old = {}
        if threading.current_thread() is not threading.main_thread():
            return self
        for sig, effect in ((signal.SIGINT, self.solver.sigint_effect),
                            (getattr(signal, 'SIGHUP', None), self.solver.sighup_effect)):
            if sig is None or effect == 'none':
                continue
            self.old[sig] = signal.signal(sig, self._handler(sig, effect))
        return self

    def _handler(self, sig, effect):
        solver = self.solver

        def handle(signum, frame):
            if solver._request == effect and sig == signal.SIGINT:
                raise KeyboardInterrupt  # a second Ctrl-C: stop now
            log.info('Caught signal %d: %s requested', signum, effect)
            solver._request = effect
            if self.interrupt and effect == 'stop':
                raise StopRequested
        return handle

    def __exit__(self, *exc):
        for sig, old in self.old.items():
            signal.signal(sig, old)
        return False
