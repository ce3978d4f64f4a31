"""``reseed_from_torch``: an albumentations pipeline that follows torch's seed, its steps
drawing independently of each other."""

from __future__ import annotations

import albumentations as A
import numpy as np
import torch

from lite_hrnet.data.random_state import reseed_from_torch

IMAGE = np.arange(4, dtype=np.uint8).reshape(2, 2, 1)


def _flips(seed: int, count: int) -> list[tuple[bool, bool]]:
    pipeline = A.Compose([A.HorizontalFlip(p=0.5), A.VerticalFlip(p=0.5)])
    torch.manual_seed(seed)
    out = []
    for _ in range(count):
        reseed_from_torch(pipeline)
        flipped = pipeline(image=IMAGE)["image"][..., 0]
        out.append((flipped[0, 0] in (1, 3), flipped[0, 0] in (2, 3)))
    return out


def test_the_pipeline_follows_torchs_seed() -> None:
    assert _flips(1, 20) == _flips(1, 20)
    assert _flips(1, 20) != _flips(2, 20)


def test_steps_draw_independently() -> None:
    horizontal, vertical = np.array(_flips(0, 400), dtype=float).T
    assert 0.4 < horizontal.mean() < 0.6 and 0.4 < vertical.mean() < 0.6
    assert abs(np.corrcoef(horizontal, vertical)[0, 1]) < 0.2
