"""The Inductor bool-mask patch: on the torch versions it was written for, compiled kernels
load bool masks with vector instructions; on any other version this test fails, so that
the patch is checked again (or dropped) before it is trusted."""

from __future__ import annotations

import pytest
import torch

from lite_hrnet.tasks import inductor_patch


def test_the_patch_is_written_for_this_torch() -> None:
    if not inductor_patch.is_supported():
        pytest.fail(
            f"lite_hrnet.tasks.inductor_patch was written for torch "
            f"{', '.join(inductor_patch.SUPPORTED_TORCH)}, this is {torch.__version__}: check "
            "Inductor's bool load line (test below) and add the version to SUPPORTED_TORCH, "
            "or drop the patch"
        )


@pytest.mark.slow
@pytest.mark.parametrize("channels", [40, 7])  # 7: a masked tail shorter than a vector
def test_compiled_kernels_load_bool_masks_with_vector_instructions(channels: int) -> None:
    # ReLU masks saved for the backward are bool tensors; Inductor's own bool load is a
    # scalar loop (~10x slower in a BatchNorm-backward kernel).
    from torch._inductor.utils import run_and_get_code

    if not inductor_patch.is_supported():
        pytest.skip("the patch does not apply to this torch (see the test above)")
    assert inductor_patch.vectorise_bool_mask_loads()
    assert inductor_patch.vectorise_bool_mask_loads()  # idempotent
    torch._dynamo.reset()
    mask = torch.rand(2, channels, 6, 5) > 0.5
    grad, x = torch.randn(2, channels, 6, 5), torch.randn(2, channels, 6, 5)

    def relu_backward(mask: torch.Tensor, grad: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return torch.where(mask, 0.0, grad * x)

    # Cached kernels from before the change would be reused: compile afresh.
    with torch._inductor.config.patch(fx_graph_cache=False):
        compiled = torch.compile(relu_backward, dynamic=False)
        got, (code,) = run_and_get_code(compiled, mask, grad, x)
    torch.testing.assert_close(got, relu_backward(mask, grad, x), rtol=0, atol=0)
    # The line the patch matches is still Inductor's, and the patch replaced it.
    assert "at::vec::Vectorized<uint8_t>::loadu(reinterpret_cast<const uint8_t*>" in code
    assert "VecMask<float,1>::from(in_ptr" not in code


def test_other_torch_versions_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch, "__version__", "9.99.0+cpu")
    assert not inductor_patch.is_supported()
    assert inductor_patch.vectorise_bool_mask_loads() is False


def test_the_rewrite_of_one_load_line() -> None:
    lines = {
        "one": "at::vec::VecMask<float,1>::from(in_ptr0 + static_cast<int64_t>(x0), 16)",
        "two": "at::vec::VecMask<float,2>::from(in_ptr0 + static_cast<int64_t>(x0), 32)",
        "odd": "at::vec::VecMask<float,1>::from(in_ptr0)",
    }
    patched = inductor_patch._patched(lambda self, var, index, dtype, mask: lines[var])
    new = patched(None, "one", None, torch.bool)
    assert new == (
        "at::vec::VecMask<float,1>(at::vec::convert<float>(at::vec::Vectorized<uint8_t>::"
        "loadu(reinterpret_cast<const uint8_t*>(in_ptr0 + static_cast<int64_t>(x0)), 16))"
        " != at::vec::Vectorized<float>(0.0f))"
    )
    assert patched(None, "one", None, torch.float32) == lines["one"]  # not a bool load
    assert patched(None, "one", None, torch.bool, "mask") == lines["one"]  # a masked load
    assert patched(None, "two", None, torch.bool) == lines["two"]  # another width, silently
    with pytest.warns(UserWarning, match="not the one the patch was written for"):
        assert patched(None, "odd", None, torch.bool) == lines["odd"]
