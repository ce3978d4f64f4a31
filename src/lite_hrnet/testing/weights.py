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


def variance_preserving(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random weights that keep the signal's spatial structure to the output, in place.

    ``randomize``'s outputs are dominated by the biases (their spatial variation is some
    1e-3 of their size), so a heatmap's peak there is noise. Here convolutions are
    N(0, 1/fan_in) without bias and BatchNorm nearly an identity (scale 0.5-1.5, shifts
    and running means of std 0.1, running variance 0.5-1.5): heatmaps vary over the image
    as a trained network's do, and quantisation errors show in their peaks.
    """
    gen = torch.Generator().manual_seed(seed)

    def draw(like: torch.Tensor, std: float = 1.0, uniform: bool = False) -> torch.Tensor:
        if uniform:
            return torch.rand(like.shape, generator=gen) + 0.5
        return torch.randn(like.shape, generator=gen) * std

    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Conv2d):
                fan_in = module.weight[0].numel()
                module.weight.copy_(draw(module.weight, fan_in**-0.5))
                if module.bias is not None:
                    module.bias.zero_()
            elif isinstance(module, torch.nn.BatchNorm2d):
                module.weight.copy_(draw(module.weight, uniform=True))
                module.bias.copy_(draw(module.bias, 0.1))
                module.running_mean.copy_(draw(module.running_mean, 0.1))
                module.running_var.copy_(draw(module.running_var, uniform=True))
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
