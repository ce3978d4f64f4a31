"""The Lite-HRNet backbone: stem, transitions, stages of multi-branch modules, and the
iterative head; and its ``features_only`` variant."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from .blocks import IterativeHead, LiteHRModule, Stem, downsample
from .spec import LiteHRNetSpec


class FeatureInfo(list):
    """What a backbone's feature maps are: one dict per map with ``num_chs`` (channels),
    ``reduction`` (stride against the input) and ``module`` (the module that makes it).

    A list of dicts, with timm's accessors: ``channels()``, ``reduction()`` and
    ``module_name()`` give one value per map, or the value of map ``idx``.
    """

    def _get(self, key: str, idx: int | None) -> Any:
        return [info[key] for info in self] if idx is None else self[idx][key]

    def channels(self, idx: int | None = None) -> int | list[int]:
        return self._get("num_chs", idx)

    def reduction(self, idx: int | None = None) -> int | list[int]:
        return self._get("reduction", idx)

    def module_name(self, idx: int | None = None) -> str | list[str]:
        return self._get("module", idx)

    def get_dicts(self) -> list[dict[str, Any]]:
        return [dict(info) for info in self]


class LiteHRNet(nn.Module):
    """Lite-HRNet backbone.

    ``forward``: (B, 3, H, W) -> (B, C_0, H/4, W/4), the iterative head's finest map
    (C_0 = 40 for lite_hrnet_18/30, 30 for naive_lite_hrnet_18). Without the head, the
    finest branch.
    ``forward_features``: (B, 3, H, W) -> list of the last stage's branch outputs
    (B, C_b, H/2**(b+2), W/2**(b+2)), before the head.

    H and W must be multiples of ``input_multiple`` (32 for three stages): the fuse layers
    upsample by exact powers of two, in the official code as here.
    """

    def __init__(self, spec: LiteHRNetSpec | None = None, **overrides: Any) -> None:
        super().__init__()
        spec = spec or LiteHRNetSpec()
        if overrides:
            spec = spec.replace(**overrides)
        self.spec = spec
        self.variant: str | None = None
        self.num_stages = spec.num_stages
        self.stem = Stem(
            spec.in_channels,
            spec.stem_channels,
            spec.stem_out_channels,
            spec.stem_expand_ratio,
            with_cp=spec.with_cp,
        )
        previous = [spec.stem_out_channels]
        for i in range(spec.num_stages):
            channels = spec.stage_channels(i)
            setattr(self, f"transition{i}", self._make_transition(previous, channels))
            stage = nn.Sequential(
                *(
                    LiteHRModule(
                        channels,
                        spec.num_blocks[i],
                        spec.reduce_ratios[i],
                        spec.module_type,
                        with_fuse=spec.with_fuse,
                        fuse_branch0_twice=spec.fuse_branch0_twice,
                        with_cp=spec.with_cp,
                    )
                    for _ in range(spec.num_modules[i])
                )
            )
            setattr(self, f"stage{i}", stage)
            previous = list(channels)
        if spec.with_head:
            self.head_layer = IterativeHead(previous)
        self.feature_info = FeatureInfo(
            {"num_chs": c, "reduction": 4 * 2**b, "module": f"stage{spec.num_stages - 1}"}
            for b, c in enumerate(previous)
        )
        self.num_features = spec.out_channels
        self.input_multiple = 2 ** (spec.num_stages + 2)
        self.init_weights()

    @staticmethod
    def _make_transition(previous: Sequence[int], current: Sequence[int]) -> nn.ModuleList:
        layers: list[nn.Module] = []
        for i, c in enumerate(current):
            if i < len(previous):
                if c == previous[i]:
                    layers.append(nn.Identity())
                    continue
                p = previous[i]
                layers.append(
                    nn.Sequential(
                        nn.Conv2d(p, p, 3, 1, 1, groups=p, bias=False),
                        nn.BatchNorm2d(p),
                        nn.Conv2d(p, c, 1, bias=False),
                        nn.BatchNorm2d(c),
                        nn.ReLU(),
                    )
                )
            else:
                # New branches come from the lowest-resolution one, halving once per step.
                p = previous[-1]
                steps = i + 1 - len(previous)
                layers.append(
                    nn.Sequential(
                        *(
                            downsample(p, c if k == steps - 1 else p, final_relu=True)
                            for k in range(steps)
                        )
                    )
                )
        return nn.ModuleList(layers)

    def init_weights(self) -> None:
        """Official initialisation: conv weights N(0, 0.001), conv biases 0, norms (1, 0)."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.001)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.GroupNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def train(self, mode: bool = True) -> LiteHRNet:
        super().train(mode)
        if mode and self.spec.norm_eval:
            for m in self.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        return self

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Gradient checkpointing of the blocks on or off (the spec's ``with_cp``, timm's
        switch): less memory in training, one more forward of each block in backward."""
        self.spec = self.spec.replace(with_cp=enable)
        for module in self.modules():
            if hasattr(module, "with_cp"):
                module.with_cp = enable

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.shape[-2] % self.input_multiple or x.shape[-1] % self.input_multiple:
            raise ValueError(
                f"input size {tuple(x.shape[-2:])} (H, W): both must be multiples of "
                f"{self.input_multiple} for {self.num_stages} stages"
            )
        ys = [self.stem(x)]
        for i in range(self.num_stages):
            transition = getattr(self, f"transition{i}")
            xs = [t(ys[min(j, len(ys) - 1)]) for j, t in enumerate(transition)]
            ys = getattr(self, f"stage{i}")(xs)
        return ys

    def forward_head(self, features: list[torch.Tensor]) -> torch.Tensor:
        if self.spec.with_head:
            return self.head_layer(features)[0]
        return features[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


class LiteHRNetFeatures(LiteHRNet):
    """``features_only`` variant: ``forward`` returns the branch maps picked by ``out_indices``,
    (B, C_b, H/2**(b+2), W/2**(b+2)) each; ``feature_info`` lists only those.

    The iterative head is not built (its weights in a checkpoint are ignored on load).
    """

    def __init__(
        self,
        spec: LiteHRNetSpec | None = None,
        out_indices: Sequence[int] | None = None,
        **overrides: Any,
    ) -> None:
        spec = (spec or LiteHRNetSpec()).replace(with_head=False, **overrides)
        super().__init__(spec)
        n = len(self.feature_info)
        self.out_indices = tuple(range(n) if out_indices is None else out_indices)
        bad = [i for i in self.out_indices if not -n <= i < n]
        if bad:
            raise ValueError(f"out_indices: {bad} out of range for {n} branches")
        self.feature_info = FeatureInfo(self.feature_info[i] for i in self.out_indices)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:  # type: ignore[override]
        features = self.forward_features(x)
        return [features[i] for i in self.out_indices]
