"""A Hydra callback that makes a training run's folder its own before Hydra writes into it
(``train.yaml`` registers it): the folder is created and locked (``RunFolderLock``), so a
folder that cannot be written, or that another training holds, ends the command at once in
one line (exit 2), before anything of the other run is overwritten. ``eval.yaml`` registers
it too, to check that its folder can be written."""

from __future__ import annotations

import atexit
import os
from typing import Any, ClassVar

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from ..training.run_lock import RunFolderBusyError, RunFolderLock
from .errors import problem, report

# Set by the launchers for the processes they start: only the first process of a job
# (global rank 0) holds its folder; Lightning's DDP launcher starts ranks > 0 into it.
_RANK_VARIABLES = ("RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK", "SLURM_PROCID")


def is_first_process() -> bool:
    return all(os.environ.get(key, "0") in ("", "0") for key in _RANK_VARIABLES)


class RunFolderGuard(Callback):
    """Holds ``hydra.run.dir`` (a single run) or ``hydra.sweep.dir`` (a multirun) from the
    start of the run to its end; with ``hold=False`` (``eval``) only checks that it can be
    created and written.

    A run that fails leaves Hydra by ``SystemExit``, past ``on_run_end``; its lock is then
    released at exit, or when this process starts its next run into the same folder (runs
    in one process follow each other, so that one is over)."""

    held: ClassVar[dict[str, RunFolderLock]] = {}

    def __init__(self, command: str = "train", hold: bool = True) -> None:
        self.command = command  # named in the error
        self.hold = hold  # False: only check that the folder can be written (eval)
        self.folder: str | None = None

    def _hold(self, config: DictConfig, key: str) -> None:
        if not is_first_process():
            return
        HydraConfig.instance().set_config(config)  # resolves ${hydra:...} in the folder
        folder = os.path.abspath(str(config.hydra[key].dir))
        earlier = RunFolderGuard.held.pop(folder, None)
        if earlier is not None:
            earlier.release()
        lock = RunFolderLock(folder)
        try:
            lock.acquire()
        except RunFolderBusyError as error:
            report(self.command, error)
            raise SystemExit(2) from None
        except OSError as error:
            report(self.command, f"hydra.{key}.dir {folder}: {problem(error)}")
            raise SystemExit(2) from None
        if not self.hold:
            lock.release()
            return
        RunFolderGuard.held[folder] = lock
        self.folder = folder

    def _release(self) -> None:
        lock = RunFolderGuard.held.pop(self.folder, None) if self.folder else None
        if lock is not None:
            lock.release()

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._hold(config, "run")

    def on_run_end(self, config: DictConfig, **kwargs: Any) -> None:
        self._release()

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._hold(config, "sweep")

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self._release()


@atexit.register
def _release_all() -> None:
    for lock in RunFolderGuard.held.values():
        lock.release()
    RunFolderGuard.held.clear()
