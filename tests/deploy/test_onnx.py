"""ONNX export: dynamic batch, and ONNX Runtime agrees with eager."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import lite_hrnet
from lite_hrnet.deploy.onnx import export_onnx, onnxruntime_session
from lite_hrnet.testing.weights import randomize

pytestmark = pytest.mark.slow  # an ONNX export and session per variant


@pytest.mark.parametrize("name", lite_hrnet.list_models())
def test_onnxruntime_matches_eager(tmp_path: Path, name: str) -> None:
    model = randomize(lite_hrnet.create_pose_model(name)).eval()
    path = export_onnx(model, tmp_path / f"{name}.onnx", input_size=(128, 96))
    session = onnxruntime_session(path, threads=2)
    for batch in (1, 3):
        x = torch.randn(batch, 3, 128, 96)
        with torch.no_grad():
            expected = model(x).numpy()
        (got,) = session.run(None, {"images": x.numpy()})
        assert got.shape == expected.shape == (batch, 17, 32, 24)
        scale = np.abs(expected).max()
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * scale)
