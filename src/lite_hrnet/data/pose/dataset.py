"""A map-style dataset of person instances -> top-down training or test samples."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, default_collate

from ..images import ImageReadError, read_rgb
from .records import PoseInstance
from .transforms import TopDownTransform


class TopDownDataset(Dataset):
    """Reads the image of each instance and applies a ``TopDownTransform``.

    An unreadable image gives ``None`` (with a warning naming it); ``collate_skipping``
    drops it and counts it, so one bad file never stops a run.
    """

    def __init__(self, instances: Sequence[PoseInstance], transform: TopDownTransform) -> None:
        self.instances = list(instances)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.instances)

    def __getitem__(self, index: int) -> dict[str, object] | None:
        inst = self.instances[index]
        try:
            image = read_rgb(inst.image_path)
        except ImageReadError as e:
            warnings.warn(f"skipping sample {index}: {e}", stacklevel=2)
            return None
        # One seed per draw from torch's generator: reproducible under seed_everything and
        # different in every worker and epoch.
        rng = (
            np.random.default_rng(int(torch.randint(0, 2**62, (1,))))
            if self.transform.train
            else None
        )
        out = self.transform(image, inst.joints, inst.visible, inst.center, inst.scale, rng)
        out.update(
            image_id=inst.image_id,
            index=index,
            score=np.float32(inst.score),
        )
        return out


def collate_skipping(batch: list[dict | None]) -> dict[str, torch.Tensor]:
    """``default_collate`` over the readable samples; ``skipped`` counts the others."""
    kept = [b for b in batch if b is not None]
    out = default_collate(kept) if kept else {}
    out["skipped"] = torch.tensor(len(batch) - len(kept))
    return out
