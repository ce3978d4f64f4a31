"""A map-style dataset of person instances -> top-down training or test samples.

A sample holds the network's input and targets (``TopDownTransform``), where its crop
came from (``center``, ``scale``, ``image_id``, ``index``, ``score``) and its labels in
image pixels (``joints`` (K, 2), ``joints_visible`` (K,), ``bbox`` [x, y, w, h]).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from ...codecs.geometry import PIXEL_STD
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
            # The labels in image pixels, for the metrics that compare with them (PCK, NME).
            joints=inst.joints.astype(np.float32),
            joints_visible=(np.asarray(inst.visible) > 0).astype(np.float32),
            bbox=instance_box(inst),
        )
        return out


def instance_box(inst: PoseInstance) -> np.ndarray:
    """The instance's box [x, y, w, h]: the file's, else the square of its scale (MPII:
    scale x 200 pixels, grown x1.25 by the reader)."""
    if inst.bbox is not None:
        return inst.bbox.astype(np.float32)
    w, h = np.asarray(inst.scale, np.float32) * PIXEL_STD
    return np.array([inst.center[0] - w / 2, inst.center[1] - h / 2, w, h], np.float32)
