"""Helpers shared by the tests."""

import torch


def randomize(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random weights and BN statistics, so that outputs depend on every parameter.

    The official init (std 0.001) would make most comparisons trivially close to zero.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.is_floating_point():
                continue
            if name.endswith("running_var"):
                tensor.copy_(torch.rand(tensor.shape, generator=gen) + 0.5)
            else:
                tensor.copy_(torch.randn(tensor.shape, generator=gen) * 0.2)
    return model


def non_channels_last_inputs(model: torch.nn.Module, x: torch.Tensor) -> list[str]:
    """Run ``model(x)`` and name its Conv2d and BatchNorm2d modules whose input was not laid
    out channels-last (channels innermost, which includes channel slices of NHWC tensors).

    Mixed layouts cost oneDNN a reorder per convolution and slow BatchNorm's backward.
    """
    layers = (torch.nn.Conv2d, torch.nn.BatchNorm2d)
    bad: list[str] = []
    hooks = [
        module.register_forward_pre_hook(
            lambda _, inputs, name=name: None if inputs[0].stride(1) == 1 else bad.append(name)
        )
        for name, module in model.named_modules()
        if isinstance(module, layers)
    ]
    try:
        model(x.contiguous(memory_format=torch.channels_last))
    finally:
        for hook in hooks:
            hook.remove()
    return bad
