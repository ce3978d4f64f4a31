"""``PoseEstimationModule``: top-down heatmap pose estimation with the shared backbone."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import nn

from ..codecs.geometry import heatmap_to_image
from ..codecs.heatmap import decode_heatmaps
from ..meta.keypoints import KEYPOINT_SETS
from ..models.factory import create_pose_model
from .compile import compile_for_training, fused_optimizer_kwargs


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


class PoseEstimationModule(L.LightningModule):
    """Backbone from ``create_backbone`` + 1x1 heatmap head, trained with masked MSE.

    Batches are dicts from ``TopDownDataset``: ``image`` (B, 3, H, W), ``target``
    (B, K, H/4, W/4), ``target_weight`` (B, K), plus ``center``/``scale`` (B, 2),
    ``score``, ``image_id`` and ``index`` (B,) for evaluation. The evaluation metric comes
    from the data module (``build_metric``), since it is the data set that defines it.
    """

    def __init__(
        self,
        backbone: str = "lite_hrnet_18",
        backbone_overrides: dict[str, Any] | None = None,
        keypoint_set: str = "coco",
        checkpoint_path: str | None = None,
        lr: float = 2e-3,
        weight_decay: float = 0.0,
        warmup_iters: int = 500,
        warmup_ratio: float = 1e-3,
        milestones: Sequence[int] = (170, 200),
        gamma: float = 0.1,
        flip_test: bool = True,
        shift_heatmap: bool = True,
        dark: bool = False,
        channels_last: bool = False,
        compile: bool = False,
        fused_optimizer: bool = True,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        if keypoint_set not in KEYPOINT_SETS:
            raise ValueError(
                f"keypoint_set: expected one of {sorted(KEYPOINT_SETS)}, got {keypoint_set!r}"
            )
        self.keypoints = KEYPOINT_SETS[keypoint_set]
        self.model = create_pose_model(
            backbone,
            self.keypoints.num_joints,
            checkpoint_path=checkpoint_path,
            **(backbone_overrides or {}),
        )
        if channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.net: nn.Module = (
            compile_for_training(self.model, channels_last) if compile else self.model
        )
        self.register_buffer(
            "flip_index", torch.as_tensor(self.keypoints.flip_index()), persistent=False
        )
        self.val_metric = None
        self.test_metric = None
        self.last_metrics: dict[str, float] = {}

    @classmethod
    def from_checkpoint(
        cls,
        path: str,
        backbone: str | None = None,
        keypoint_set: str | None = None,
        **overrides: Any,
    ) -> PoseEstimationModule:
        """A module from one of our Lightning checkpoints (architecture from its hparams) or
        from an official / plain state dict (``backbone`` defaults to the variant the weights
        fit). Always read with ``weights_only=True``."""
        from ..models.checkpoint import guess_variant, load_checkpoint, read_checkpoint_file

        obj = read_checkpoint_file(path)
        hparams = obj.get("hyper_parameters") if isinstance(obj, dict) else None
        if isinstance(hparams, dict) and "keypoint_set" in hparams:
            kwargs = {**hparams, "checkpoint_path": None, "compile": False, **overrides}
            if backbone is not None:
                kwargs["backbone"] = backbone
            if keypoint_set is not None:
                kwargs["keypoint_set"] = keypoint_set
            module = cls(**kwargs)
            load_checkpoint(module.model, path)
        else:
            from ..models.checkpoint import CheckpointError, read_state_dict
            from ..models.registry import list_models

            state = read_state_dict(path)
            guess = guess_variant(state)
            name = backbone or guess.split(" ")[0]
            if name not in list_models():
                raise CheckpointError(f"{path}: cannot tell the variant ({guess}); name it")
            if keypoint_set is None:
                heads = [v.shape[0] for k, v in state.items() if k.endswith("final_layer.weight")]
                keypoint_set = "mpii" if heads[:1] == [16] else "coco"
            module = cls(
                backbone=name, keypoint_set=keypoint_set, checkpoint_path=str(path), **overrides
            )
        module.datamodule_hparams = (
            dict(obj.get("datamodule_hyper_parameters", {})) if isinstance(obj, dict) else {}
        )
        return module

    def setup(self, stage: str) -> None:
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer else None
        if datamodule is not None and hasattr(datamodule, "build_metric"):
            self.val_metric = self.val_metric or datamodule.build_metric("val")
            self.test_metric = self.test_metric or datamodule.build_metric("test")

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> heatmaps (B, K, H/4, W/4)."""
        if self.hparams.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return self.net(images)

    def predict_heatmaps(self, images: torch.Tensor) -> torch.Tensor:
        """Heatmaps with the flip test: the mirrored pass is flipped back, shifted one pixel
        right (the official ``shift_heatmap``) and averaged in."""
        heatmaps = self(images)
        if self.hparams.flip_test:
            flipped = self(images.flip(3)).flip(3)[:, self.flip_index]
            if self.hparams.shift_heatmap:
                flipped = torch.cat([flipped[..., :1], flipped[..., :-1]], dim=3)
            heatmaps = (heatmaps + flipped) * 0.5
        return heatmaps

    def predict_keypoints(
        self, images: torch.Tensor, centers: torch.Tensor, scales: torch.Tensor
    ) -> torch.Tensor:
        """Keypoints (B, K, 3) [x, y, score] in image pixels for crops of (center, scale)."""
        heatmaps = self.predict_heatmaps(images).float().cpu().numpy()
        coords, scores = decode_heatmaps(heatmaps, dark=self.hparams.dark)
        hm_size = (heatmaps.shape[3], heatmaps.shape[2])
        c, s = centers.cpu().numpy(), scales.cpu().numpy()
        xy = np.stack([heatmap_to_image(coords[i], c[i], s[i], hm_size) for i in range(len(c))])
        return torch.from_numpy(np.concatenate([xy, scores[..., None]], axis=2))

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor | None:
        self.log(
            "train/skipped",
            batch["skipped"].float(),
            reduce_fx="sum",
            on_step=False,
            on_epoch=True,
            sync_dist=True,  # the total over all ranks
        )
        if "image" not in batch:
            return None
        heatmaps = self(batch["image"])
        loss = masked_mse(heatmaps, batch["target"], batch["target_weight"])
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch["image"]))
        return loss

    def _evaluate(self, batch: dict[str, torch.Tensor], metric, prefix: str) -> None:
        if "image" not in batch:
            return
        n = len(batch["image"])
        heatmaps = self(batch["image"])
        loss = masked_mse(heatmaps, batch["target"], batch["target_weight"])
        self.log(f"{prefix}/loss", loss, batch_size=n, sync_dist=True)
        if metric is None:
            return
        keypoints = self.predict_keypoints(batch["image"], batch["center"], batch["scale"])
        metric.update(keypoints, batch["scale"], batch["score"], batch["image_id"], batch["index"])

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, self.val_metric, "val")

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, self.test_metric, "test")

    def _log_metric(self, metric, prefix: str) -> None:
        if metric is None:
            return
        values = metric.compute()
        # The metric has gathered every rank's predictions already, so the values agree
        # across ranks; syncing them (a mean of equal values) is only for Lightning's sake.
        self.log_dict({f"{prefix}/{k}": v for k, v in values.items()}, sync_dist=True)
        self.last_metrics = {k: float(v) for k, v in values.items()}
        metric.reset()

    def on_validation_epoch_end(self) -> None:
        self._log_metric(self.val_metric, "val")

    def on_test_epoch_end(self) -> None:
        self._log_metric(self.test_metric, "test")

    def configure_optimizers(self) -> dict[str, Any]:
        hp = self.hparams
        params = list(self.parameters())
        fused = fused_optimizer_kwargs(params) if hp.fused_optimizer else {}
        optimizer = torch.optim.Adam(params, lr=hp.lr, weight_decay=hp.weight_decay, **fused)
        steps_per_epoch = max(
            1, self.trainer.estimated_stepping_batches // max(1, self.trainer.max_epochs)
        )
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer,
            lambda step: warmup_multistep(
                step, steps_per_epoch, hp.warmup_iters, hp.warmup_ratio, hp.milestones, hp.gamma
            ),
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
