"""Short generated videos of people with known motion: the synthetic data sets' figures
(``lite_hrnet.synthetic.figures``) moved a little each frame over a textured background,
with their true COCO keypoints and boxes per frame."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from lite_hrnet.inference.tracking import boxes_from_keypoints
from lite_hrnet.synthetic.figures import Figure, Shape, draw_shape, sample_figure


@dataclass
class MovingScene:
    """``frames`` (T, H, W, 3) uint8 RGB; ``keypoints`` (T, P, 17, 3) [x, y, 1] of person p
    in frame t; ``boxes`` (T, P, 4) [x, y, w, h] around them."""

    frames: np.ndarray
    keypoints: np.ndarray
    boxes: np.ndarray


def _moved(figure: Figure, shift: np.ndarray) -> list[Shape]:
    return [Shape(s.points + shift, s.width, s.color) for s in figure.shapes]


def moving_scene(
    starts: list[tuple[float, float]],
    steps: list[tuple[float, float]],
    num_frames: int = 12,
    size: tuple[int, int] = (128, 96),
    height: float = 56.0,
    seed: int = 0,
) -> MovingScene:
    """People whose pelvis starts at ``starts[p]`` and moves ``steps[p]`` pixels a frame,
    drawn in order (the later in front), each ``height`` pixels tall, on a (W, H) ``size``
    background."""
    rng = np.random.default_rng(seed)
    w, h = size
    coarse = rng.uniform(40, 215, (3, 4, 3))
    background = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    figures = [sample_figure(rng, np.asarray(start, np.float64), height) for start in starts]
    frames, keypoints = [], []
    for t in range(num_frames):
        image = background.copy()
        people = []
        for fig, step in zip(figures, steps):
            shift = np.asarray(step, np.float64) * t
            for shape in _moved(fig, shift):
                draw_shape(image, shape, shape.color)
            people.append(np.concatenate([fig.coco + shift, np.ones((17, 1))], axis=1))
        frames.append(np.clip(image, 0, 255).astype(np.uint8))
        keypoints.append(np.stack(people))
    keypoints_array = np.stack(keypoints)
    boxes = np.stack([boxes_from_keypoints(k, (10**6, 10**6)) for k in keypoints_array])
    return MovingScene(np.stack(frames), keypoints_array, boxes)


def crossing_scene(num_frames: int = 12, size: tuple[int, int] = (128, 96)) -> MovingScene:
    """Two people crossing each other in the middle of the clip (walking toward each other
    at 6 px a frame, the same height in the image) and a third walking slowly on the right."""
    return moving_scene(
        starts=[(30.0, 60.0), (96.0, 62.0), (110.0, 58.0)],
        steps=[(6.0, 0.0), (-6.0, 0.0), (0.0, 0.5)],
        num_frames=num_frames,
        size=size,
    )
