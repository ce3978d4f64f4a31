"""``lite-hrnet train [HYDRA OVERRIDES...]``: the Hydra entry point for training runs.

Examples::

    lite-hrnet train experiment=synthetic_coco
    lite-hrnet train data=coco data.root=/data/coco model=lite_hrnet_30 trainer=gpu
    lite-hrnet train -m experiment=synthetic_coco model.width=0.5,1.0
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from ..config.store import register_configs

register_configs()


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def hydra_main(cfg: DictConfig) -> float | None:
    from ..training import run_training

    run_cfg = OmegaConf.to_object(cfg)
    return run_training(run_cfg, HydraConfig.get().runtime.output_dir)


def main(argv: Sequence[str]) -> int:
    """Hand the overrides to Hydra, which parses ``sys.argv`` itself."""
    sys.argv = ["lite-hrnet train", *argv]
    hydra_main()
    return 0
