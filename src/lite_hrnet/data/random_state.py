"""Albumentations pipelines that follow torch's seed, as every other random draw here does.

Albumentations 2.x seeds its own generators from the operating system, so its draws would
differ from run to run whatever ``seed`` says. ``reseed_from_torch`` gives the whole pipeline
one generator pair seeded from torch's generator: reproducible under ``seed_everything``,
and different between DataLoader workers, epochs and samples. One pair for all steps,
because ``Compose.set_random_seed`` seeds each step alike, and scale, crop, flip and jitter
would then draw the same numbers and move together.
"""

from __future__ import annotations

from random import Random
from typing import Any

import numpy as np
import torch


def reseed_from_torch(pipeline: Any) -> None:
    """Seed ``pipeline`` (an ``albumentations.Compose``) from torch's global generator."""
    seed = int(torch.randint(0, 2**62, (1,)))
    pipeline.set_random_state(np.random.default_rng(seed), Random(seed))
