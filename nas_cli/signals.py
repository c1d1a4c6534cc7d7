"""Ctrl-C during a search: the first one stops after the current epoch, a second one stops at once.

The first SIGINT (or a SIGTERM from a batch scheduler) only sets a flag: the running trial checks it
inside its epoch (at most every half second, between batches) and after each epoch, records itself as FAIL with an "interrupted" reason (retried on resume), and the
study stops. Nothing is cut mid-write, so the storage and every file stay whole. The handler then
installs the second-signal handler: a second Ctrl-C raises KeyboardInterrupt at once inside a trial.
Between trials (Optuna's ask, tell and callbacks, run by `optimize` below) it is held back: the study
stops after that bookkeeping anyway, and a KeyboardInterrupt inside Optuna's `tell` would leave the
trial RUNNING or turn into an unrelated error raised from Optuna's `finally`. The journal stays whole
either way: `storage.open_storage` holds signals back during each append.
"""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager

INTERRUPTED_PREFIX = "interrupted"

_state = {"signum": 0, "bookkeeping": 0, "trial_stopping": False}


class Interrupted(KeyboardInterrupt):
    """The search stopped because of a signal; `exit_code` is 128 + the signal number (130 for Ctrl-C)."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.exit_code = 128 + int(signum)


def stop_requested() -> bool:
    return _state["signum"] != 0


def request_stop(signum: int = signal.SIGINT) -> None:
    """What the first signal does (also usable from tests and embedding code)."""
    if not _state["signum"]:
        _state["signum"] = int(signum)


def reset() -> None:
    _state["signum"] = 0
    _state["trial_stopping"] = False


def trial_stopping() -> None:
    """The running trial ends now because of the first signal: until it is back in Optuna, a second
    Ctrl-C is held back too, so it cannot cut the recording of why the trial failed (milliseconds; the
    study stops right after). Called just before the trial raises; `optimize` clears it."""
    _state["trial_stopping"] = True


def _first_signal(signum, frame) -> None:
    request_stop(signum)
    signal.signal(signal.SIGINT, _second_signal)
    print(f"\n{signal.Signals(signum).name}: stopping the running trial within seconds and saving everything; "
          "press Ctrl-C again to stop at once", file=sys.stderr, flush=True)


def _second_signal(signum, frame) -> None:
    """Stop at once: KeyboardInterrupt at the next bytecode, except during Optuna's bookkeeping between
    trials, or while a trial the first signal stopped records why (`trial_stopping`): both end in a few
    milliseconds and then stop the study, as the first signal asked."""
    if _state["bookkeeping"] or _state["trial_stopping"]:
        return
    raise KeyboardInterrupt


def optimize(study, objective, **kwargs) -> None:
    """`study.optimize`, with a second Ctrl-C held back while Optuna records a trial or asks for the next."""

    def run_trial(trial):
        _state["bookkeeping"] -= 1
        _state["trial_stopping"] = False
        try:
            return objective(trial)
        finally:
            _state["bookkeeping"] += 1
            _state["trial_stopping"] = False

    _state["bookkeeping"] += 1
    try:
        study.optimize(run_trial, **kwargs)
    finally:
        _state["bookkeeping"] -= 1


def caused_by_interrupt(exc: BaseException) -> bool:
    """True when `exc` was raised while a KeyboardInterrupt unwound (e.g. from a library's `finally`)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


@contextmanager
def held():
    """Hold SIGINT/SIGTERM back for a short critical section (a journal append, the last summary write):
    a signal that arrives meanwhile is recorded and re-sent right after it, to the handler that was in
    place. Python runs signal handlers in the main thread only, so this swaps the Python-level handler
    there; a signal mask would not do: torch's worker threads would still receive the signal. In
    other threads nothing can interrupt the section, and this is a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in previous:
        signal.signal(s, lambda signum, frame: pending.append(signum))
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)
        for signum in dict.fromkeys(pending):
            signal.raise_signal(signum)


@contextmanager
def graceful_stop():
    """Install the two-step Ctrl-C handling (main thread only) for the duration of the block."""
    reset()
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in previous:
        signal.signal(s, _first_signal)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)


def interrupt_reason(epoch: int | None = None, batch: int | None = None, batches: int | None = None) -> str:
    """'interrupted: SIGINT before training', '... after epoch 2' or '... in epoch 2 at batch 37/150'."""
    name = signal.Signals(_state["signum"] or signal.SIGINT).name
    if epoch is None:
        where = "before training"
    elif batch is None:
        where = f"after epoch {epoch}"
    else:
        where = f"in epoch {epoch} at batch {batch}/{batches}"
    return f"{INTERRUPTED_PREFIX}: {name} {where}"


def is_interrupted_reason(reason) -> bool:
    return isinstance(reason, str) and reason.startswith(INTERRUPTED_PREFIX)


def stop_callback(study, trial) -> None:
    """Optuna callback: start no new trial once a stop was requested."""
    if stop_requested():
        study.stop()


def raise_if_stopped() -> None:
    """After `study.optimize` returns: turn a requested stop into `Interrupted` for the runner."""
    if stop_requested():
        raise Interrupted(_state["signum"])
