"""Person detection for top-down pose: an image (H, W, 3) uint8 RGB in, boxes (N, 5)
float32 [x, y, w, h, score] of the people in it out, by an ONNX detector in ONNX Runtime.

``load_detector("rtmdet_nano")`` downloads a published detector by tag
(``list_detectors()``; ``detector_zoo``); ``load_detector("path/end2end.onnx",
family="yolox")`` runs a file of a supported family. Supported: mmdeploy's end2end exports
(NMS inside the graph) of RTMDet and YOLOX, with input ``(1, 3, H, W)`` float32 and outputs
``dets`` (1, N, 5) [x1, y1, x2, y2, score] in network-input pixels and ``labels`` (1, N).

The pre- and postprocessing are rtmlib's (github.com/Tau-J/rtmlib, ``RTMDet`` and
``YOLOX``), which the tests check box for box: the image turned to BGR (the order these
networks were trained in), resized keeping its aspect ratio (OpenCV bilinear) into the
top-left corner of the input, padded with 114, then for RTMDet ``(pixel - mean) / std``
per channel (YOLOX takes raw 0..255 pixels); boxes divided by the resize ratio, not
clipped to the image. Needs ``onnxruntime`` and ``opencv-python-headless``
(``pip install 'lite-hrnet[infer]'``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .detector_zoo import DETECTORS, download_detector, list_detectors

__all__ = ["FAMILIES", "DetectorFamily", "PersonDetector", "list_detectors", "load_detector"]


@dataclass(frozen=True)
class DetectorFamily:
    """What an end2end export of one detector family takes: BGR pixels letterboxed with
    ``pad_value``, then ``(pixel - mean) / std`` per BGR channel where ``mean`` is given."""

    name: str
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    pad_value: int = 114


# mmdet's data_preprocessor of each family (bgr_to_rgb=False: the networks see BGR).
FAMILIES: dict[str, DetectorFamily] = {
    "rtmdet": DetectorFamily("rtmdet", (103.53, 116.28, 123.675), (57.375, 57.12, 58.395)),
    "yolox": DetectorFamily("yolox"),
}


class PersonDetector:
    """Boxes of people: ``detector(image)`` with ``image`` (H, W, 3) uint8 RGB returns
    (N, 5) float32 [x, y, w, h, score] in image pixels, highest score first: person class
    only, score above ``score_threshold``, both sides positive and at least ``min_box_size``
    pixels, at most ``max_people`` boxes. Build it with ``load_detector``.

    It pickles without its ONNX Runtime session: the copy (in a DataLoader worker, say)
    opens ``source`` anew on ``device``, with one intra-op thread, since workers run side
    by side."""

    def __init__(
        self,
        session: Any,
        family: DetectorFamily,
        input_size: tuple[int, int],
        *,
        source: str,
        score_threshold: float,
        max_people: int | None,
        min_box_size: float,
        device: str = "cpu",
    ) -> None:
        self.session = session
        self.device = device
        self.family = family
        self.input_size = input_size
        self.source = source
        self.score_threshold = score_threshold
        self.max_people = max_people
        self.min_box_size = min_box_size
        self._input_name = session.get_inputs()[0].name
        names = [o.name for o in session.get_outputs()]
        self._has_labels = "labels" in names
        self._outputs = ["dets", "labels"] if self._has_labels else ["dets"]
        # What each uint8 value becomes per BGR channel (3, 256), computed in float64 and
        # then rounded to float32 as rtmlib does, so looking values up gives its inputs
        # bit for bit, without float64 arrays the size of the input on every call.
        values = np.tile(np.arange(256, dtype=np.float64), (3, 1))
        if family.mean is not None:
            values = (values - np.array(family.mean)[:, None]) / np.array(family.std)[:, None]
        self._pixel_values = values.astype(np.float32)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "session": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.session = _session(Path(self.source), self.device, threads=1)

    def __repr__(self) -> str:
        h, w = self.input_size
        return f"PersonDetector({self.source}, {self.family.name}, input {h}x{w})"

    def preprocess(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        """(H, W, 3) uint8 RGB -> the network input (1, 3, h, w) float32 and the resize
        ratio (input pixels per image pixel)."""
        _check_image(image)
        h, w = self.input_size
        if image.shape[:2] == (h, w):
            padded, ratio = np.ascontiguousarray(image[..., ::-1]), 1.0
        else:
            ratio = min(h / image.shape[0], w / image.shape[1])
            new_w = max(1, int(image.shape[1] * ratio))
            new_h = max(1, int(image.shape[0] * ratio))
            # Bilinear resizing treats channels alike, so resizing the RGB image and then
            # swapping the channels of the small result equals resizing the BGR image,
            # without copying the whole frame channel-swapped first.
            resized = cv2.resize(
                np.ascontiguousarray(image), (new_w, new_h), interpolation=cv2.INTER_LINEAR
            )
            padded = np.full((h, w, 3), self.family.pad_value, dtype=np.uint8)
            padded[:new_h, :new_w] = resized[..., ::-1]
        planes = np.ascontiguousarray(padded.transpose(2, 0, 1))
        batch = np.empty((1, 3, h, w), dtype=np.float32)
        for c in range(3):
            np.take(self._pixel_values[c], planes[c], out=batch[0, c])
        return batch, ratio

    def __call__(self, image: np.ndarray) -> np.ndarray:
        batch, ratio = self.preprocess(image)
        outputs = self.session.run(self._outputs, {self._input_name: batch})
        if outputs[0].ndim != 3 or outputs[0].shape[-1] != 5:
            raise ValueError(f"{self.source}: 'dets' should be (1, N, 5), got {outputs[0].shape}")
        dets = np.asarray(outputs[0], dtype=np.float32).reshape(-1, 5)
        keep = dets[:, 4] > self.score_threshold
        if self._has_labels:
            keep &= np.asarray(outputs[1]).reshape(-1) == 0  # COCO's person class
        boxes = dets[keep, :4] / ratio
        scores = dets[keep, 4]
        wh = boxes[:, 2:] - boxes[:, :2]
        side = np.minimum(wh[:, 0], wh[:, 1])
        large = (side >= self.min_box_size) & (side > 0)  # no empty or inverted boxes
        result = np.concatenate([boxes[:, :2], wh, scores[:, None]], axis=1)[large]
        result = result[np.argsort(-result[:, 4], kind="stable")]
        if self.max_people is not None:
            result = result[: self.max_people]
        return result.astype(np.float32, copy=False).reshape(-1, 5)


def load_detector(
    spec: str | os.PathLike[str],
    *,
    score_threshold: float = 0.3,
    max_people: int | None = None,
    min_box_size: float = 0.0,
    device: str = "cpu",
    family: str | None = None,
    threads: int | None = None,
    check_hash: bool | None = None,
    progress: bool = True,
) -> PersonDetector:
    """A ``PersonDetector`` from ``spec``: a tag of ``list_detectors()`` (downloaded once
    into the torch hub cache) or the path of an end2end ONNX file. ``family``
    (``"rtmdet"`` or ``"yolox"``) says how a file wants its pixels; without it the file's
    name must contain one of them. ``score_threshold``: boxes scoring above it are kept
    (rtmlib's default, 0.3). ``max_people``: at most this many, the best first.
    ``min_box_size``: in image pixels, both sides. ``device``: ``"cpu"`` or ``"cuda"``
    (``"cuda:1"``; needs onnxruntime-gpu). ``threads``: ONNX Runtime's intra-op threads
    (its default otherwise). ``check_hash``, ``progress``: for the download."""
    if not score_threshold >= 0:  # NaN included
        raise ValueError(f"score_threshold must be >= 0, got {score_threshold}")
    if max_people is not None and (
        isinstance(max_people, bool) or not isinstance(max_people, int) or max_people < 1
    ):
        raise ValueError(f"max_people must be None or >= 1, got {max_people}")
    if not min_box_size >= 0:
        raise ValueError(f"min_box_size must be >= 0, got {min_box_size}")
    if isinstance(spec, str) and spec in DETECTORS:
        entry = DETECTORS[spec]
        if family is not None and family != entry.family:
            raise ValueError(f"{spec} is an {entry.family} detector, not {family}")
        path, family = (
            download_detector(spec, check_hash=check_hash, progress=progress),
            entry.family,
        )
    else:
        path = Path(spec)
        if not path.is_file():
            raise FileNotFoundError(
                f"detector {str(spec)!r}: neither a published tag ({', '.join(list_detectors())}) "
                "nor an existing ONNX file"
            )
        family = family or _family_from_name(path)
    if family not in FAMILIES:
        raise ValueError(f"family: one of {', '.join(FAMILIES)}, got {family!r}")
    session = _session(path, device, threads)
    input_size = _check_detector_graph(session, path)
    return PersonDetector(
        session, FAMILIES[family], input_size, source=str(path),
        score_threshold=score_threshold, max_people=max_people, min_box_size=min_box_size,
        device=device,
    )  # fmt: skip


def _family_from_name(path: Path) -> str:
    found = [name for name in FAMILIES if name in path.name.lower()]
    if len(found) != 1:
        raise ValueError(
            f"{path}: say which detector family this file is, family= one of "
            f"{', '.join(FAMILIES)} (its name does not tell; RTMDet takes normalised pixels, "
            "YOLOX raw ones, so a wrong guess would give wrong boxes)"
        )
    return found[0]


def _check_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        kind = getattr(image, "dtype", type(image).__name__)
        raise TypeError(f"image: a uint8 numpy array (H, W, 3) RGB, got {kind}")
    if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 1:
        raise ValueError(f"image: (H, W, 3) RGB, got shape {image.shape}")


def _session(path: Path, device: str, threads: int | None) -> Any:
    try:
        import onnxruntime as ort
    except ImportError as e:
        raise ImportError(
            "person detection needs onnxruntime: pip install 'lite-hrnet[infer]'"
        ) from e
    if device == "cpu":
        providers: list[Any] = ["CPUExecutionProvider"]
    elif device == "cuda" or device.startswith("cuda:"):
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise RuntimeError(
                f"device={device!r}: this onnxruntime has no CUDA provider (pip install "
                "onnxruntime-gpu), or use device='cpu'"
            )
        index = int(device.partition(":")[2] or 0)
        providers = [("CUDAExecutionProvider", {"device_id": index}), "CPUExecutionProvider"]
    else:
        raise ValueError(f"device: 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), options, providers=providers)
    except Exception as e:  # ORT raises its own classes (InvalidProtobuf, Fail, ...)
        raise ValueError(f"{path}: ONNX Runtime cannot load it as a model ({e})") from e


def _check_detector_graph(session: Any, path: Path) -> tuple[int, int]:
    """The fixed input (H, W) of an end2end detector graph; a ValueError naming ``path``
    and what is wrong otherwise."""
    inputs, outputs = session.get_inputs(), {o.name: o for o in session.get_outputs()}
    expected = (
        "an end2end detector export (mmdeploy, NMS included): one input (1, 3, H, W) float32, "
        "outputs 'dets' (1, N, 5) and 'labels' (1, N)"
    )
    described = (
        f"inputs {[(i.name, i.shape) for i in inputs]}, outputs "
        f"{[(o.name, o.shape) for o in outputs.values()]}"
    )
    if len(inputs) != 1 or len(inputs[0].shape) != 4 or inputs[0].type != "tensor(float)":
        raise ValueError(f"{path} is not {expected}: it has {described}")
    dets = outputs.get("dets")
    if dets is None or len(dets.shape) != 3 or dets.shape[2] not in (5, None, *_symbolic(dets)):
        raw = "" if dets is not None else " (an export without NMS is not supported)"
        raise ValueError(f"{path} is not {expected}: it has {described}{raw}")
    labels = outputs.get("labels")
    if labels is not None and len(labels.shape) != 2:
        raise ValueError(f"{path} is not {expected}: it has {described}")
    _, channels, h, w = inputs[0].shape
    if channels != 3 or not (isinstance(h, int) and isinstance(w, int)):
        raise ValueError(
            f"{path}: the input must be 3 channels at a fixed H x W (a static export), got "
            f"{inputs[0].shape}"
        )
    return h, w


def _symbolic(output: Any) -> list[str]:
    """A named (dynamic) last axis, checked on each call instead."""
    last = output.shape[-1]
    return [last] if isinstance(last, str) else []
