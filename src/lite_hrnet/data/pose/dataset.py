"""A map-style dataset of person instances -> top-down training or test samples."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from ..images import CorruptImageWarning, ImageReadError, read_rgb
from .records import PoseInstance
from .transforms import TopDownTransform


class TopDownDataset(Dataset):
    """Reads the image of each instance and applies a ``TopDownTransform``.

    An unreadable image, or one whose decoded [W, H] differs from the annotation's
    (``PoseInstance.image_size``), gives ``None`` (with a ``CorruptImageWarning`` naming it);
    ``data.loaders.collate_skipping`` drops it and counts it, so one bad file never stops a
    run.
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
            warnings.warn(f"{e}; sample {index} skipped", CorruptImageWarning, stacklevel=2)
            return None
        size = (image.shape[1], image.shape[0])
        if inst.image_size is not None and size != tuple(inst.image_size):
            # Its keypoints and box are in the annotated pixels: a crop would miss them.
            warnings.warn(
                f"{inst.image_path} is {size[0]}x{size[1]} pixels, its annotation says "
                f"{inst.image_size[0]}x{inst.image_size[1]}; sample {index} skipped",
                CorruptImageWarning,
                stacklevel=2,
            )
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
