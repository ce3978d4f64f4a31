"""Register the config schemas with Hydra's ConfigStore (imported by entry points only).

Groups whose options change type (``task``, ``data``) get base schemas that their YAML
files extend (``defaults: [base_pose_data, _self_]``); the others are typed fields of
``TrainConfig`` already. The launcher plugins' entries get this project's defaults
(``launchers``).
"""

from __future__ import annotations

from hydra.core.config_store import ConfigStore
from hydra.core.plugins import Plugins
from omegaconf import DictConfig, OmegaConf

from ..data.pose.datamodule import CocoFormatDataConfig, MpiiDataConfig, PoseDataConfig
from ..data.segmentation.datamodule import CityscapesDataConfig, SegmentationDataConfig
from ..synthetic.marker import settings_key
from ..tasks.pose import PoseTaskConfig
from ..tasks.segmentation import SegmentationTaskConfig
from .launchers import launcher_configs
from .schema import EvalConfig, TrainConfig


def _settings_key(settings: DictConfig) -> str:
    return settings_key(OmegaConf.to_container(settings, resolve=True))


def register_configs() -> None:
    # The synthetic data folders: ${lite_hrnet.settings_key:${.synthetic}}.
    OmegaConf.register_new_resolver("lite_hrnet.settings_key", _settings_key, replace=True)
    cs = ConfigStore.instance()
    cs.store(name="train_schema", node=TrainConfig)
    cs.store(name="eval_schema", node=EvalConfig)
    cs.store(group="task", name="base_pose_task", node=PoseTaskConfig)
    cs.store(group="data", name="base_pose_data", node=PoseDataConfig)
    cs.store(group="data", name="base_mpii_data", node=MpiiDataConfig)
    cs.store(group="data", name="base_coco_format_data", node=CocoFormatDataConfig)
    cs.store(group="task", name="base_segmentation_task", node=SegmentationTaskConfig)
    cs.store(group="data", name="base_segmentation_data", node=SegmentationDataConfig)
    cs.store(group="data", name="base_cityscapes_data", node=CityscapesDataConfig)
    # Hydra's plugin scan (once per process) re-runs the plugins' config modules, which
    # store their own defaults: scan first, then replace them with ours.
    Plugins.instance()
    for name, node in launcher_configs().items():
        cs.store(group="hydra/launcher", name=name, node=node, provider="lite_hrnet")
