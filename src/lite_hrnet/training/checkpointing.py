"""Checkpoints that survive a kill, and what a resume needs besides Lightning's own state.

- ``AtomicCheckpointIO`` writes every checkpoint to a temporary file in the checkpoint's own
  folder, flushes it to disk and renames it over the old file: a kill during a save leaves
  the previous file whole, and a full disk is a ``CheckpointWriteError`` naming the file and
  the last good checkpoint. (Lightning's default goes through fsspec, which writes the
  temporary file in ``$TMPDIR`` and then copies it across file systems.)
- ``ResumableRNG`` keeps the Python, NumPy and torch random states in the checkpoint and puts
  them back when a resume loads it, so that the data order,
  the DataLoader workers' seeds and the augmentation draws continue as in an uninterrupted run.
  (A resume from the middle of an epoch, a step checkpoint or SLURM's, continues training
  but the rest of that epoch draws other samples: it is not bit-exact.)
- ``resume_checkpoint`` picks the file a run resumes from (``ckpt_path``, else the run
  folder's latest of ``checkpoints/last.ckpt`` and ``hpc_ckpt_<n>.ckpt`` with ``resume``,
  by the global step stored inside).
"""

from __future__ import annotations

import errno
import os
import random
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.fabric.plugins import TorchCheckpointIO
from lightning.pytorch.callbacks import Callback

from ..models.checkpoint import CheckpointError, read_checkpoint_file

TEMP_MARK = ".tmp-"  # <name>.tmp-<pid>: a save in progress (or killed)
LAST_CHECKPOINT = "last.ckpt"
HPC_PATTERN = "hpc_ckpt_*.ckpt"  # Lightning's save on the SLURM requeue signal, in the run folder


def temp_path(path: Path) -> Path:
    """The temporary file a save of ``path`` writes first (beside it, so the rename is atomic)."""
    return path.with_name(f".{path.name}{TEMP_MARK}{os.getpid()}")


def remove_stale_temp_files(folder: Path) -> list[Path]:
    """Delete what killed saves left in ``folder`` (``.<name>.tmp-<pid>``); returns them."""
    if not folder.is_dir():
        return []
    stale = [p for p in folder.iterdir() if p.name.startswith(".") and TEMP_MARK in p.name]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_save(obj: Any, path: str | os.PathLike[str]) -> None:
    """``torch.save(obj, path)`` so that ``path`` is either the old file or the whole new one:
    write a temporary file beside it, fsync, ``os.replace``. The temporary file is removed
    when the save fails."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_path(path)
    try:
        with open(temp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def newest_checkpoint(folder: Path) -> Path | None:
    """The most recently written ``*.ckpt`` in ``folder`` (saves are atomic: it is whole)."""
    found = [p for p in folder.glob("*.ckpt") if p.is_file()] if folder.is_dir() else []
    return max(found, key=lambda p: p.stat().st_mtime_ns) if found else None


# The file system's refusals of a write; torch reports them as its own RuntimeError
# ("enforce fail at inline_container.cc"), with the OSError as its context.
_WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EIO)


def _write_errno(error: BaseException, folder: Path) -> int | None:
    """The errno behind a failed save, found along the exception's causes; a torch write
    error with none is a full disk when the folder has no space left."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in _WRITE_ERRNOS:
            return seen.errno
        seen = seen.__cause__ or seen.__context__
    if isinstance(error, RuntimeError) and "inline_container" in str(error):
        try:
            if shutil.disk_usage(folder).free < 1 << 20:
                return errno.ENOSPC
        except OSError:
            pass
    return None


class CheckpointWriteError(OSError):
    """A checkpoint the file system refused (a full disk, a quota, a read-only folder), in
    one line naming the file, the problem and the last good checkpoint."""

    def __init__(self, path: Path, code: int, last_good: Path | None) -> None:
        if last_good is None:
            kept = "no earlier checkpoint was saved"
        elif last_good == path:
            kept = f"the last good checkpoint is the previous {path.name}, kept whole"
        else:
            kept = f"the last good checkpoint is {last_good}"
        message = (
            f"cannot save checkpoint {path}: {os.strerror(code).lower()}; {kept} (make room, "
            "then continue with resume=true and the same hydra.run.dir)"
        )
        super().__init__(code, message)
        self.filename = str(path)

    def __str__(self) -> str:
        return str(self.strerror)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's ``TorchCheckpointIO`` with ``atomic_save`` (local paths only), loading
    always with ``weights_only=True``. A save the file system refuses raises
    ``CheckpointWriteError`` (the earlier checkpoints stay whole)."""

    def __init__(self) -> None:
        super().__init__()
        self.last_saved: Path | None = None

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        path = Path(path)
        try:
            atomic_save(checkpoint, path)
        except (OSError, RuntimeError) as error:
            code = _write_errno(error, path.parent)
            if code is None:
                raise
            last = self.last_saved if self.last_saved and self.last_saved.is_file() else None
            raise CheckpointWriteError(
                path, code, last or newest_checkpoint(path.parent)
            ) from error
        self.last_saved = path

    def load_checkpoint(
        self, path: Any, map_location: Any = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        return read_checkpoint_file(path)


# ------------------------------------------------------------------------- RNG states


def rng_states() -> dict[str, Any]:
    """The process's Python, NumPy and torch (CPU, and CUDA when initialised) random states,
    as tensors and plain containers (so ``weights_only=True`` reads them back)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    states: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "kind": str(kind),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "gauss": float(gauss),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    """Put back what ``rng_states`` returned."""
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    n = states["numpy"]
    keys = n["keys"].numpy().astype(np.uint32)
    np.random.set_state((n["kind"], keys, n["pos"], n["has_gauss"], n["gauss"]))
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


class ResumableRNG(Callback):
    """Saves the random states with every checkpoint and restores them when Lightning loads
    the checkpoint, before the training DataLoader draws the next epoch's shuffle order and
    its workers' seeds (the workers start afresh every epoch, seeded from these states). An
    epoch's checkpoint comes after its validation, and nothing draws from these generators
    between then and the next epoch's loader, so an epoch-end resume continues the same
    random streams. Under DDP each rank keeps its own.
    """

    @property
    def state_key(self) -> str:
        return "ResumableRNG"

    def state_dict(self) -> dict[str, Any]:
        return rng_states()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        set_rng_states(state_dict)


# ------------------------------------------------------------------------- resume


def _stored_step(path: Path) -> int | None:
    """The ``global_step`` a training checkpoint holds; None for a file that cannot be read
    (warned about) or holds no step."""
    try:
        obj = read_checkpoint_file(path)
    except (CheckpointError, OSError) as error:
        warnings.warn(f"{path}: skipped as a resume candidate: {error}", stacklevel=2)
        return None
    step = obj.get("global_step") if isinstance(obj, dict) else None
    return step if isinstance(step, int) else None


def latest_checkpoint(output_dir: Path) -> Path | None:
    """The run folder's latest state: of ``checkpoints/last.ckpt`` and the
    ``hpc_ckpt_<n>.ckpt`` that Lightning saves on SLURM's requeue signal, the one with the
    highest global step stored inside (file times say nothing: a copy or a restore from
    backup renews them); the newer file on a tie."""
    found = [output_dir / "checkpoints" / LAST_CHECKPOINT, *output_dir.glob(HPC_PATTERN)]
    steps = {p: _stored_step(p) for p in found if p.is_file()}
    ranked = [(step, p.stat().st_mtime_ns, p) for p, step in steps.items() if step is not None]
    return max(ranked, key=lambda r: r[:2])[2] if ranked else None


def resume_checkpoint(output_dir: Path, resume: bool, ckpt_path: str | None) -> Path | None:
    """The checkpoint a run continues from: ``ckpt_path`` (any of our ``.ckpt`` files),
    else with ``resume`` the run folder's ``latest_checkpoint`` when there is one (a fresh
    start otherwise, said on stdout). A ``ckpt_path`` that is missing or not a training
    checkpoint is an error naming the key."""
    if ckpt_path:
        path = Path(ckpt_path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"ckpt_path: no checkpoint file at {path}")
        obj = read_checkpoint_file(path)
        if not (isinstance(obj, dict) and "loops" in obj and "optimizer_states" in obj):
            raise CheckpointError(
                f"ckpt_path: {path} is not a training checkpoint of lite-hrnet train "
                "(no optimizer or loop state); use model.checkpoint= to start from its weights"
            )
        return path
    if resume:
        found = latest_checkpoint(output_dir)
        if found is None:
            print(
                f"resume=true: no checkpoint in {output_dir} (checkpoints/{LAST_CHECKPOINT} "
                "or hpc_ckpt_*.ckpt); training starts from the beginning",
                flush=True,
            )
        return found
    return None
