"""Top-down heatmap pose estimation: ``PoseTaskConfig`` (the official recipe) and
``PoseEstimationModule``, the backbone + 1x1 heatmap head trained with masked MSE."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

import lightning as L
import numpy as np
import torch

from ..checks import check, config_with
from ..codecs.heatmap_codec import DECODING_OPTIONS, HeatmapCodec, recipe_codec
from ..data.images import ImageReadError, read_rgb
from ..data.pose.datamodule import (
    PoseDataConfig,
    TopDownPoseDataModule,
    pose_datamodule,
)
from ..inference.checkpoints import keypoint_set_from
from ..inference.drawing import draw_skeletons
from ..inference.pose import heatmaps_to_keypoints, predict_heatmaps, predict_people
from ..meta.keypoints import KeypointSet
from ..metrics.pose_metrics import PoseMetrics, build_pose_metrics
from ..models.factory import create_pose_model
from ..models.hub import check_fits, is_weights_source, pretrained_weights
from .base import ModelConfig, TaskModule, fused_optimizer_kwargs

if TYPE_CHECKING:
    from ..inference.estimator import PoseEstimator


@dataclass
class PoseTaskConfig:
    """``PoseEstimationModule`` settings: the official recipe by default (Adam 2e-3, a
    500-iteration linear warmup from 0.001, x0.1 at epochs 170 and 200, flip test with the
    one-pixel shift, the quarter-pixel decoding)."""

    name: str = "pose"
    lr: float = 2e-3
    weight_decay: float = 0.0
    warmup_iters: int = 500
    warmup_ratio: float = 1e-3
    milestones: list[int] = field(default_factory=lambda: [170, 200])
    gamma: float = 0.1
    flip_test: bool = True
    shift_heatmap: bool = True
    dark: bool = False  # DARK decoding instead of the quarter-pixel step
    channels_last: bool = False
    compile: bool = False  # lite_hrnet.tasks.compile
    fused_optimizer: bool = True  # the optimiser's fused kernel (same update)

    def validate(self) -> None:
        check(self.lr > 0, "task.lr", "must be positive")
        check(self.warmup_iters >= 0, "task.warmup_iters", "must be >= 0")
        check(list(self.milestones) == sorted(self.milestones), "task.milestones", "must increase")

    def build(
        self, data: PoseDataConfig, model: ModelConfig
    ) -> tuple[PoseEstimationModule, TopDownPoseDataModule]:
        """The module and the data module of a run. ``model.checkpoint``,
        ``model.pretrained`` or ``model.backbone_checkpoint`` initialise it; weights whose
        head has other joints than the data's fine-tune (``create_pose_model``): the
        backbone loads, the head keeps the rows of the joints both name alike."""
        keypoints = data.keypoint_set
        if model.pretrained is not None and not is_weights_source(model.pretrained):
            weights = pretrained_weights(model.name, model.pretrained)
            if weights.joint_names == keypoints.joint_names:  # the published model as it is
                check_fits(model.name, weights, keypoints.num_joints, data.input_size)
        # The one codec of the run: the data's encoding settings, the task's decoding.
        codec = data.heatmap_codec(**{k: getattr(self, k) for k in _TASK_DECODING})
        module = PoseEstimationModule(
            backbone=model.name,
            backbone_overrides=model.spec_overrides(),
            keypoint_set=keypoints,
            checkpoint_path=model.checkpoint,
            pretrained=model.pretrained,
            backbone_checkpoint=model.backbone_checkpoint,
            codec=codec,
            **asdict(self),
        )
        return module, pose_datamodule(data, module.codec)


def masked_mse(heatmaps: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Official ``JointsMSELoss`` with target weights: 0.5 x mean (w * (pred - gt))^2.

    heatmaps, target (B, K, h, w); weight (B, K).
    """
    w = weight[:, :, None, None]
    return 0.5 * torch.mean((heatmaps * w - target * w) ** 2)


def warmup_multistep(
    step: int,
    steps_per_epoch: int,
    warmup_iters: int,
    warmup_ratio: float,
    milestones: Sequence[int],
    gamma: float,
) -> float:
    """LR factor: mmcv's linear warmup over iterations times step decay at epoch milestones."""
    epoch = step // max(1, steps_per_epoch)
    factor = gamma ** sum(epoch >= m for m in milestones)
    if step < warmup_iters:
        factor *= 1 - (1 - step / warmup_iters) * (1 - warmup_ratio)
    return factor


class PoseEstimationModule(TaskModule):
    """Backbone from ``create_backbone`` + 1x1 heatmap head, trained with masked MSE.

    Args:
        backbone: registered variant name, e.g. "lite_hrnet_18".
        backbone_overrides: ``LiteHRNetSpec`` fields to replace (width, num_modules, ...).
        keypoint_set: the joints: a ``KeypointSet``, its ``to_dict()`` form, or the name of
            a preset (``lite_hrnet.meta.keypoints.KEYPOINT_SETS``).
        checkpoint_path: weights of the whole pose model (an official file, or ours); one
            whose head has other joints fine-tunes, as ``backbone_checkpoint`` does.
        pretrained: a published tag (``lite_hrnet.list_pretrained()``); one whose head has
            other joints fine-tunes (``create_pose_model``).
        backbone_checkpoint: a file for the backbone and the head rows of shared joints.
        codec: the ``HeatmapCodec`` (or its ``to_dict``) that encodes the targets and
            decodes the predictions; default: the recipe's for the keypoint set's data.
        **options: ``PoseTaskConfig`` fields (``lr``, ``flip_test``, ``compile``, ...);
            ``flip_test``, ``shift_heatmap`` and ``dark`` given here replace the codec's.

    The codec and the keypoint set are stored in the hyperparameters, so a checkpoint
    decodes, draws and exports without its data. Batches are dicts from
    ``TopDownDataset``: ``image`` (B, 3, H, W), ``target`` (B, K, H/4, W/4),
    ``target_weight`` (B, K), plus ``center``/``scale`` (B, 2), ``score``, ``image_id``
    and ``index`` (B,), the labels ``joints`` (B, K, 2), ``joints_visible`` (B, K) and
    ``bbox`` (B, 4) for evaluation. The metrics (``data.metrics``) score against the data
    module's ``evaluation_file``; set ``results_file`` before a test to keep the COCO
    predictions (COCO results format).
    """

    task_name = "pose"
    weights_args = ("checkpoint_path", "pretrained", "backbone_checkpoint")

    def __init__(
        self,
        backbone: str = "lite_hrnet_18",
        backbone_overrides: dict[str, Any] | None = None,
        keypoint_set: str | KeypointSet | Mapping[str, Any] = "coco",
        checkpoint_path: str | None = None,
        codec: HeatmapCodec | Mapping[str, Any] | None = None,
        pretrained: str | None = None,
        backbone_checkpoint: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__()
        self.cfg = config_with(PoseTaskConfig, options)
        self.cfg.validate()
        self.keypoints = keypoint_set_from(keypoint_set)
        decoding = {k: options[k] for k in _TASK_DECODING if k in options}
        if codec is None:
            codec = recipe_codec(
                self.keypoints.name, **{k: getattr(self.cfg, k) for k in _TASK_DECODING}
            )
        elif not isinstance(codec, HeatmapCodec):
            codec = HeatmapCodec.from_dict(codec)
        self.save_hyperparameters(
            {
                "backbone": backbone,
                "backbone_overrides": backbone_overrides,
                "keypoint_set": self.keypoints.to_dict(),
                "checkpoint_path": checkpoint_path,
                "pretrained": pretrained,
                "backbone_checkpoint": backbone_checkpoint,
                **asdict(self.cfg),
            }
        )
        self.codec = codec.replace(**decoding)
        model = create_pose_model(
            backbone,
            keypoint_set=self.keypoints,
            checkpoint_path=checkpoint_path,
            pretrained=pretrained,
            backbone_checkpoint=backbone_checkpoint,
            **(backbone_overrides or {}),
        )
        self.set_network(model, self.cfg.channels_last, self.cfg.compile)
        self.register_buffer(
            "flip_index", torch.as_tensor(self.keypoints.flip_index()), persistent=False
        )

    @property
    def codec(self) -> HeatmapCodec:
        """The heatmap codec: input and heatmap size, sigma, the decoding options."""
        return self._codec

    @codec.setter
    def codec(self, codec: HeatmapCodec) -> None:
        # The hyperparameters follow, so that the next checkpoint stores this codec.
        self._codec = codec
        self.cfg = config_with(
            PoseTaskConfig, {k: getattr(codec, k) for k in _TASK_DECODING}, base=self.cfg
        )
        self.hparams.update(
            {"codec": codec.to_dict(), **{k: getattr(codec, k) for k in _TASK_DECODING}}
        )

    @classmethod
    def for_estimator(cls, estimator: PoseEstimator) -> PoseEstimationModule:
        """A module that scores ``estimator``: its network (a checkpoint's, an ONNX
        Runtime model, a bfloat16 copy), keypoint set and codec, for an evaluation with
        the task's metrics; its data settings are those of the checkpoint's run."""
        source = estimator.source
        read = source.checkpoint
        module = cls(
            backbone=source.variant or "lite_hrnet_18",
            backbone_overrides=read.backbone_overrides if read else None,
            keypoint_set=estimator.keypoint_set,
            codec=estimator.codec,
        )
        module.model = estimator.network
        module.datamodule_hparams = dict(read.datamodule_hparams) if read else {}
        return module.eval()

    # Prediction ----------------------------------------------------------------------
    @property
    def flip_test(self) -> bool:
        """The flip test, where the codec asks for it and the keypoint set has flip pairs."""
        return self.codec.flip_test and self.keypoints.has_flip_pairs

    def predict_heatmaps(self, images: torch.Tensor) -> torch.Tensor:
        """Heatmaps (B, K, H/4, W/4), with the flip test when the codec asks for it and the
        keypoint set has flip pairs."""
        flip = self.flip_index if self.flip_test else None
        return predict_heatmaps(self, images, flip, self.codec.shift_heatmap)

    def predict_keypoints(
        self, images: torch.Tensor, centers: torch.Tensor, scales: torch.Tensor
    ) -> torch.Tensor:
        """Keypoints (B, K, 3) [x, y, score] in image pixels for crops of (center, scale)."""
        heatmaps = self.predict_heatmaps(images)
        return heatmaps_to_keypoints(heatmaps, centers, scales, self.codec)

    def predict_people(
        self, image: np.ndarray, centers: np.ndarray, scales: np.ndarray
    ) -> np.ndarray:
        """Keypoints (N, K, 3) of N people of a whole image (``inference.pose``), cropped
        at the codec's input size."""
        return predict_people(
            self,
            image,
            centers,
            scales,
            self.codec,
            num_joints=self.keypoints.num_joints,
            flip_index=self.flip_index if self.flip_test else None,
            device=self.device,
        )

    # Training and evaluation ---------------------------------------------------------
    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor | None:
        if not self.count_skipped(batch, "train"):
            return self.skipped_batch_loss()  # counted; under DDP a zero loss on this rank
        heatmaps = self(batch["image"])
        loss = masked_mse(heatmaps, batch["target"], batch["target_weight"])
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch["image"]))
        return loss

    def build_metric(self, stage: str) -> PoseMetrics | None:
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer else None
        if not isinstance(datamodule, TopDownPoseDataModule):
            return None
        data = datamodule.cfg
        return build_pose_metrics(
            data.metrics,
            self.keypoints,
            datamodule.evaluation_file(stage),
            results_file=self.results_file if stage == "test" else None,
            categories=data.categories,
            pck_threshold=data.pck_threshold,
            auc_norm_factor=data.auc_norm_factor,
            nme_joints=data.nme_joints,
        )

    def evaluate(self, batch: dict[str, torch.Tensor], stage: str, metric: Any) -> None:
        heatmaps = self(batch["image"])
        loss = masked_mse(heatmaps, batch["target"], batch["target_weight"])
        self.log(f"{stage}/loss", loss, batch_size=len(batch["image"]), sync_dist=True)
        if metric is None:
            return
        keypoints = self.predict_keypoints(batch["image"], batch["center"], batch["scale"])
        metric.update(keypoints, batch)

    def summarize_metric(self, stage: str, result: dict[str, torch.Tensor]) -> dict[str, Any]:
        self.last_metrics = {k: float(v) for k, v in result.items()}
        return result

    def configure_optimizers(self) -> dict[str, Any]:
        cfg = self.cfg
        params = list(self.parameters())
        fused = fused_optimizer_kwargs(params) if cfg.fused_optimizer else {}
        optimizer = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay, **fused)
        steps_per_epoch = max(
            1, self.trainer.estimated_stepping_batches // max(1, self.trainer.max_epochs)
        )
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer,
            lambda step: warmup_multistep(
                step,
                steps_per_epoch,
                cfg.warmup_iters,
                cfg.warmup_ratio,
                cfg.milestones,
                cfg.gamma,
            ),
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    # Drawing -------------------------------------------------------------------------
    def render_predictions(
        self, datamodule: L.LightningDataModule, count: int
    ) -> np.ndarray | None:
        """The first ``count`` validation images with the predicted skeletons (ground-truth
        boxes), side by side: (H, sum of W, 3) uint8 RGB."""
        dataset = datamodule.datasets.get("val")
        if dataset is None:
            return None
        by_image: dict[str, list] = {}
        for inst in dataset.instances:
            by_image.setdefault(inst.image_path, []).append(inst)
        tiles = []
        for image_path, people in by_image.items():
            if len(tiles) == count:
                break
            try:
                image = read_rgb(image_path)
            except ImageReadError:
                continue  # counted as skipped by the validation already
            centers = np.stack([p.center for p in people])
            scales = np.stack([p.scale for p in people])
            keypoints = self.predict_people(image, centers, scales)
            tiles.append(draw_skeletons(image, keypoints, self.keypoints))
        if not tiles:
            return None
        height = min(t.shape[0] for t in tiles)
        return np.concatenate([t[:height] for t in tiles], axis=1)


# The codec's decoding options that the task config sets.
_TASK_DECODING = tuple(f.name for f in fields(PoseTaskConfig) if f.name in DECODING_OPTIONS)
