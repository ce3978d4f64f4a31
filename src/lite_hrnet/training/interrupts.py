"""Signals and DDP rank errors that end a run.

Signals: SIGTERM (what SLURM and Kubernetes send at a time limit or on
pre-emption), SIGINT (Ctrl+C), SIGHUP (a closed terminal) and SIGQUIT.

Within ``raise_on_signals()`` the first of them raises ``RunInterrupted`` in the main
thread, which unwinds the run like any error (atomic checkpoint writes keep the previous
file, loggers are closed) and lets the entry point record it in ``failed.json`` and exit
with 128 + the signal's number, as shells report a process ended by a signal.

Lightning installs its own SIGTERM handler while it trains. It only sets a flag that its
loops read at the next batch (and, under DDP, broadcasts it from inside the handler, which
can block when the other ranks wait in a collective), so ``ForwardSignals`` puts this
module's handler back at the start of each loop and forwards the signal to the DDP ranks
that Lightning's launcher started.

DDP: when one rank fails, the others fail after it in their next collective ("Connection
closed by peer"). ``RecordRankFailure`` keeps each rank's error with its time, so that
``jobs.write_failure`` on rank 0 reports the first one.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from lightning.pytorch.callbacks import Callback

from .jobs import record_rank_failure

SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)


class RunInterrupted(BaseException):
    """A run ended by a signal. A ``BaseException``, as ``KeyboardInterrupt`` is, so that
    code that handles errors (``except Exception``) lets it through."""

    def __init__(self, signum: int) -> None:
        self.signum = int(signum)
        self.signal_name = signal.Signals(self.signum).name
        # Where a sweep was running, for its table (set by the entry point).
        self.sweep_dir: str | None = None
        super().__init__(f"interrupted by {self.signal_name} (signal {self.signum})")

    @property
    def exit_code(self) -> int:
        """128 + the signal's number, as shells report it (143 for SIGTERM)."""
        return 128 + self.signum


class _State:
    active = False
    received: list[int] = []
    children: list[Any] = []  # subprocess.Popen of the DDP ranks this process started


def _handler(signum: int, frame: FrameType | None) -> None:
    first = not _State.received
    _State.received.append(signum)
    for proc in _State.children:
        if proc.poll() is None:
            proc.send_signal(signum)
    if first:  # later signals do not interrupt the clean-up that the first one started
        raise RunInterrupted(signum)


def _install() -> None:
    if threading.current_thread() is not threading.main_thread():
        return  # Python delivers signals to the main thread only
    for signum in SIGNALS:
        signal.signal(signum, _handler)


def received_signal() -> int | None:
    """The first signal received inside ``raise_on_signals``, if any."""
    return _State.received[0] if _State.received else None


@contextmanager
def raise_on_signals() -> Iterator[None]:
    """Within: the first of ``SIGNALS`` raises ``RunInterrupted`` (main thread only);
    the previous handlers are restored afterwards."""
    previous = {s: signal.getsignal(s) for s in SIGNALS}
    _State.active, _State.received, _State.children = True, [], []
    _install()
    try:
        yield
    finally:
        _State.active, _State.children = False, []
        if threading.current_thread() is threading.main_thread():
            for signum, handler in previous.items():
                signal.signal(signum, handler if handler is not None else signal.SIG_DFL)


class ForwardSignals(Callback):
    """Puts ``raise_on_signals``' handler back over Lightning's at the start of every loop
    (Lightning registers its own just before the loops run) and forwards the signal to the
    ranks Lightning's DDP launcher started, so that every rank stops at once."""

    def _take_over(self, trainer: Any) -> None:
        if not _State.active:
            return
        launcher = getattr(trainer.strategy, "launcher", None)
        _State.children = list(getattr(launcher, "procs", None) or [])
        _install()

    def on_sanity_check_start(self, trainer: Any, pl_module: Any) -> None:
        self._take_over(trainer)

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self._take_over(trainer)

    def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
        self._take_over(trainer)

    def on_test_start(self, trainer: Any, pl_module: Any) -> None:
        self._take_over(trainer)


class RecordRankFailure(Callback):
    """Under DDP, each rank records the error that ends its ``fit`` or ``test`` as soon as
    Lightning catches it, before the rank leaves its process group."""

    def __init__(self, output_dir: str | os.PathLike[str]) -> None:
        self.output_dir = output_dir

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        if trainer.world_size > 1:
            record_rank_failure(self.output_dir, trainer.global_rank, exception)
