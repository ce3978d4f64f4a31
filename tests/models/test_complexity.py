"""Complexity counts against the paper's table and torch's own FLOP counter."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import lite_hrnet
from lite_hrnet.models import VARIANTS

JOINTS = {"coco": 17, "mpii": 16}
# (model, joints, (H, W), paper FLOPs in 2**20 units): every figure of the paper's tables.
PAPER_FLOPS = [
    (name, JOINTS[r.dataset], r.input_size, r.flops)
    for name, info in VARIANTS.items()
    for r in info.paper_results
    if r.flops is not None
]


def test_every_figure_of_the_paper_is_checked() -> None:
    assert len(PAPER_FLOPS) == 8


@pytest.mark.parametrize("name", lite_hrnet.list_models())
def test_parameters_match_the_paper(name: str) -> None:
    # The paper prints millions to one decimal (0.76M naive appears as 0.7M).
    params = lite_hrnet.complexity(lite_hrnet.create_pose_model(name), (64, 64))["params"]
    assert abs(params / 1e6 - VARIANTS[name].paper_params) < 0.1


@pytest.mark.parametrize(("name", "joints", "size", "paper"), PAPER_FLOPS)
def test_paper_flops(name: str, joints: int, size: tuple[int, int], paper: float) -> None:
    counts = lite_hrnet.complexity(lite_hrnet.create_pose_model(name, num_joints=joints), size)
    assert round(counts["paper_flops"] / 2**20, 1) == paper


def test_paper_convention_on_hand_computed_modules() -> None:
    # Conv 3->4, 3x3, bias, on 8x8 -> 8x8: 4*64*27 MACs + 4*64 bias; BN: 2 * 4*64;
    # ReLU: 4*64; Upsample x2: 16*16 (no channels); global pool: 4 * (16+1) * (16+1).
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1),
        torch.nn.BatchNorm2d(4),
        torch.nn.ReLU(),
        torch.nn.Upsample(scale_factor=2),
        torch.nn.AdaptiveAvgPool2d(1),
    )
    counts = lite_hrnet.complexity(model, (8, 8))
    assert counts["macs"] == 4 * 64 * 27
    assert counts["paper_flops"] == 4 * 64 * 27 + 4 * 64 + 2 * 256 + 256 + 16 * 16 + 4 * 17 * 17


@pytest.mark.parametrize("name", lite_hrnet.list_models())
def test_macs_equal_torch_flop_counter(name: str) -> None:
    model = lite_hrnet.create_pose_model(name).eval()
    counts = lite_hrnet.complexity(model, (128, 96))
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, 3, 128, 96))
    conv_flops = sum(
        v for op, v in counter.get_flop_counts()["Global"].items() if "convolution" in str(op)
    )
    assert counts["macs"] * 2 == conv_flops
    assert counts["params"] == sum(p.numel() for p in model.parameters())


def test_complexity_leaves_the_model_as_it_was() -> None:
    model = lite_hrnet.create_backbone("lite_hrnet_18").train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    lite_hrnet.complexity(model, (64, 64))
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not model._forward_hooks and not model.stem.conv1.conv._forward_hooks
