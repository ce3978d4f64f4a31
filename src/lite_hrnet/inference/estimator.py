"""``PoseEstimator``: top-down keypoints of the people in images, from any model source.

>>> est = PoseEstimator("lite_hrnet_18.coco_256x192")  # doctest: +SKIP
>>> people = est("street.jpg")  # doctest: +SKIP
>>> people[0].keypoints  # (K, 3) [x, y, score] in image pixels  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..codecs.crops import boxes_to_centers_scales
from ..codecs.heatmap_codec import HeatmapCodec
from ..codecs.scores import KEYPOINT_SCORE_THRESHOLD, rescore
from ..formats.images import Image, as_rgb
from ..meta.keypoints import KeypointSet
from .checkpoints import POSE
from .pose import predict_people_batched
from .sources import Source, load_runtime, pose_source, runtime_fits

if TYPE_CHECKING:
    from .video_pose import VideoPose

Detector = Callable[[np.ndarray], np.ndarray]
DEFAULT_MAX_BATCH_SIZE = 64


@dataclass
class Person:
    """One person found in an image; its fields read as attributes or as keys
    (``person.keypoints`` or ``person["keypoints"]``).

    Attributes:
        box: (4,) float32 [x, y, w, h] in image pixels, the box the person was cropped from.
        score: the person's score (see ``PoseEstimator``).
        keypoints: (K, 3) [x, y, score] in image pixels.
        track_id: the track it belongs to when tracking, else None.
    """

    box: np.ndarray
    score: float
    keypoints: np.ndarray
    track_id: int | None = None

    def __getitem__(self, key: str) -> Any:
        if key not in self.keys():
            raise KeyError(f"{key!r}; a person has {', '.join(self.keys())}")
        return getattr(self, key)

    def keys(self) -> list[str]:
        return [f.name for f in fields(self)]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())


class PoseEstimator:
    """Keypoints of the people in images: boxes (given, from ``detector``, else the whole
    image) cropped at the codec's input, the network (with the flip test where the codec
    asks for it and the keypoint set has flip pairs), the heatmaps decoded back to image
    pixels.

    Args:
        source: a published tag (``lite_hrnet_18.coco_256x192``; a short tag with
            ``model=``), one of our Lightning ``.ckpt`` files, an official or mmpose
            ``.pth``, an AOTInductor package ``.pt2``, an ONNX file, or an ``nn.Module``
            (see ``inference.sources``).
        detector: None (the given boxes, else the whole image), a callable image
            (H, W, 3) uint8 RGB -> boxes (N, 4 or 5) [x, y, w, h(, score)], or a detector
            tag or file, loaded by ``inference.detection.load_detector`` with its defaults
            (pass ``load_detector(tag, ...)`` for others).
        device: the torch device the network runs on.
        model: the variant of a plain state dict or of a short tag (default: the
            registry's match).
        keypoint_set: a preset's name or a ``KeypointSet``, replacing the source's.
        input_size: crop (H, W), replacing the source's (a tag or a package must have
            been made for it).
        flip_test, dark: the codec's decoding options, replacing the source's.
        dtype: run the network in this dtype (``optimize_for_inference(compile=False,
            dtype=...)``, e.g. ``torch.bfloat16``).
        onnx: run this ONNX export of the source in ONNX Runtime (or this OpenVINO IR,
            ``.xml`` from ``export --format openvino``, in OpenVINO) instead of its
            network; the source still gives the settings.
        max_batch_size: crops per forward pass (the crops of all people of all images
            given in one call are batched).
        score_threshold: keypoint scores that count in a person's score.

    Scores follow mmpose's top-down rescoring (and the official COCO evaluation): a
    person's ``score`` is its box's detector score times the mean of its keypoint scores
    above ``score_threshold`` (0.2, mmpose's ``vis_thr``); without a detector score
    (boxes (N, 4), the whole image) the mean of those keypoint scores alone.

    Attributes:
        network: the callable crops (B, 3, H, W) -> heatmaps (B, K, H/4, W/4).
        codec: the ``HeatmapCodec`` (input size, heatmap size, decoding options).
        keypoint_set: the ``KeypointSet`` (joint names, flip pairs, skeleton).
        source: the ``PoseSource`` it was built from (file, variant, checkpoint facts).
    """

    def __init__(
        self,
        source: Source,
        detector: Detector | str | None = None,
        device: str | torch.device = "cpu",
        *,
        model: str | None = None,
        keypoint_set: str | KeypointSet | None = None,
        input_size: Sequence[int] | None = None,
        flip_test: bool | None = None,
        dark: bool | None = None,
        dtype: torch.dtype | None = None,
        onnx: str | os.PathLike[str] | None = None,
        max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
        score_threshold: float = KEYPOINT_SCORE_THRESHOLD,
    ) -> None:
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size: must be >= 1, got {max_batch_size}")
        self.source = pose_source(
            source, model=model, keypoint_set=keypoint_set, input_size=input_size
        )
        codec = self.source.codec
        if input_size is not None and tuple(input_size) != codec.input_hw:
            codec = codec.with_input_hw(input_size)  # its own heatmap size and sigma
        decoding = {k: v for k, v in (("flip_test", flip_test), ("dark", dark)) if v is not None}
        self.codec: HeatmapCodec = codec.replace(**decoding)
        self.keypoint_set: KeypointSet = self.source.keypoint_set
        self.device = torch.device(device)
        runtime_fits(self.source.network, self.source.path, self.codec.input_hw)
        self.network = self._runtime(self.source.network, dtype, onnx)
        self.detector = _detector(detector)
        self.max_batch_size = max_batch_size
        self.score_threshold = score_threshold

    def _runtime(self, network: Any, dtype: torch.dtype | None, onnx: Any) -> Any:
        if onnx is not None:
            if dtype is not None:
                raise ValueError("onnx= and dtype=: one runtime or the other")
            path = Path(onnx)
            runtime = load_runtime(path, None, POSE)
            runtime_fits(runtime, path, self.codec.input_hw)
            return runtime
        if not isinstance(network, torch.nn.Module) or hasattr(network, "session"):
            if dtype is not None:
                raise ValueError(f"dtype={dtype}: only a PyTorch network runs in another dtype")
            return network
        if dtype is not None:
            from ..deploy.optimize import optimize_for_inference

            network = optimize_for_inference(network, compile=False, dtype=dtype)
        return network.to(self.device).eval()

    @property
    def flip_index(self) -> np.ndarray | None:
        """The joints' mirror order (K,) when the flip test runs, else None."""
        if self.codec.flip_test and self.keypoint_set.has_flip_pairs:
            return self.keypoint_set.flip_index()
        return None

    # Prediction ----------------------------------------------------------------------
    def __call__(
        self, images: Image | Sequence[Image], boxes: Any = None
    ) -> list[Person] | list[list[Person]]:
        """The people of one image (a list of ``Person``), or of each of a list of images
        (a list of such lists; ``boxes`` then one entry per image).

        Args:
            images: (H, W, 3) uint8 RGB arrays or image files, or a list of them.
            boxes: (N, 4 or 5) [x, y, w, h(, score)] per image; None: the detector's, else
                the whole image.
        """
        if isinstance(images, (list, tuple)):
            return self.predict_images(images, boxes)
        return self.predict_image(images, boxes)

    def predict_image(self, image: Image, boxes: Any = None) -> list[Person]:
        """The people of one image (e.g. a video frame), ``boxes`` as in ``__call__``."""
        return self.predict_images([image], None if boxes is None else [boxes])[0]

    def predict_images(
        self, images: Sequence[Image], boxes: Sequence[Any] | None = None
    ) -> list[list[Person]]:
        """The people of each image; the crops of all of them in shared forward passes."""
        if boxes is not None and len(boxes) != len(images):
            raise ValueError(f"boxes: one entry per image, got {len(boxes)} for {len(images)}")
        arrays = [as_rgb(image) for image in images]
        per_image = [
            self._boxes(array, None if boxes is None else boxes[i])
            for i, array in enumerate(arrays)
        ]
        centers, scales = zip(*(boxes_to_centers_scales(b[:, :4], self.codec) for b in per_image))
        keypoints = predict_people_batched(
            self.network, arrays, centers, scales, self.codec,
            num_joints=self.keypoint_set.num_joints, flip_index=self.flip_index,
            device=self.device, max_batch_size=self.max_batch_size,
        )  # fmt: skip
        return [
            [self._person(box, points) for box, points in zip(image_boxes, image_keypoints)]
            for image_boxes, image_keypoints in zip(per_image, keypoints)
        ]

    def video(
        self,
        source: str | os.PathLike[str] | int,
        track: bool = True,
        smooth: bool = False,
        detect_every: int = 1,
        **options: Any,
    ) -> VideoPose:
        """The people of every frame of a video file, a folder of frames or a camera
        index: an iterable of ``FrameResult(frame, people)``, one per frame read, with
        ``problems`` (frames skipped, an early end) once it has ended. See
        ``inference.video_pose.VideoPose`` for ``track``, ``smooth``, ``detect_every`` and
        the ``options`` (``boxes``, ``fps``, ``tracker``, ``smoother``).

        >>> for frame, people in est.video("clip.mp4", smooth=True):  # doctest: +SKIP
        ...     print(frame.index, [(p.track_id, p.score) for p in people])
        """
        from .video_pose import VideoPose  # OpenCV and SciPy load only for video

        return VideoPose(
            self, source, track=track, smooth=smooth, detect_every=detect_every, **options
        )

    def _boxes(self, image: np.ndarray, boxes: Any) -> np.ndarray:
        """Boxes (N, 4 or 5) float32, checked: given, the detector's, else the image's."""
        h, w = image.shape[:2]
        source = "boxes"
        if boxes is None and self.detector is not None:
            boxes, source = self.detector(image), f"detector {self.detector!r}"
        if boxes is None:
            return np.asarray([[0, 0, w, h]], np.float32)
        array = np.asarray(boxes, np.float32)
        if array.size == 0:
            return np.zeros((0, 4), np.float32)
        if array.ndim != 2 or array.shape[1] not in (4, 5):
            raise ValueError(f"{source}: (N, 4 or 5) [x, y, w, h(, score)], got {array.shape}")
        if not np.isfinite(array).all() or (array[:, 2:4] <= 0).any():
            raise ValueError(f"{source}: every box needs finite numbers and w, h > 0")
        return array

    def _person(self, box: np.ndarray, keypoints: np.ndarray) -> Person:
        box_score = float(box[4]) if len(box) > 4 else 1.0
        score = rescore(keypoints[:, 2], box_score, self.score_threshold)
        return Person(box[:4].astype(np.float32), score, keypoints)

    def __repr__(self) -> str:
        h, w = self.codec.input_hw
        where = self.source.path or type(self.source.network).__name__
        return (
            f"PoseEstimator({where}, {self.keypoint_set.name} ({self.keypoint_set.num_joints} "
            f"joints), {h}x{w}, flip test {'on' if self.flip_index is not None else 'off'})"
        )


def _detector(detector: Detector | str | None) -> Detector | None:
    """The detector callable of ``detector`` (a tag loads through ``load_detector``)."""
    if detector is None or callable(detector):
        return detector
    if isinstance(detector, str):
        try:
            from .detection import load_detector
        except ImportError as e:
            raise ImportError(f"detector={detector!r}: detector tags cannot load: {e}") from e
        return load_detector(detector)
    raise TypeError(f"detector: None, a callable or a tag, got {type(detector).__name__}")
