"""Make ``docs/video_demo.gif``: tracked, smoothed skeletons of a trained pose model on a
generated clip of people walking (two crossing), through ``PoseEstimator.video``.

    make train    # Lite-HRNet-18 on the generated persons (experiment=synthetic_coco)
    .venv/bin/python docs/make_video_demo.py --checkpoint outputs/train/<run>/checkpoints/best.ckpt

The people are drawn by the renderer the synthetic training set comes from
(``lite_hrnet.synthetic.figures``), walking over a textured background. Their boxes are
the renderer's ground truth (a stand-in for a person detector); the keypoints are the
model's predictions on the crops at those boxes, never the ground truth.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from lite_hrnet.inference.drawing import draw_skeletons
from lite_hrnet.inference.estimator import PoseEstimator
from lite_hrnet.inference.tracking import boxes_from_keypoints
from lite_hrnet.synthetic.figures import Shape, draw_shape, sample_figure

SIZE = (480, 360)  # (W, H) of the generated clip
GIF_WIDTH = 320
FPS = 12.0
# Pelvis start (x, y), step per frame (x, y) and height in pixels of each person.
PEOPLE = [
    ((70, 250), (6.0, 0.0), 190),
    ((410, 260), (-6.0, 0.2), 200),
    ((250, 300), (0.5, -0.8), 150),
]


def make_clip(frames: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Frames (T, H, W, 3) uint8 RGB and the true boxes (T, P, 4) [x, y, w, h]."""
    rng = np.random.default_rng(seed)
    w, h = SIZE
    background = cv2.resize(rng.uniform(30, 225, (4, 5, 3)), SIZE, interpolation=cv2.INTER_CUBIC)
    background += cv2.resize(rng.normal(0, 12, (h // 8, w // 8, 3)), SIZE)
    figures = [sample_figure(rng, np.asarray(start, float), height) for start, _, height in PEOPLE]
    images, boxes = [], []
    for t in range(frames):
        image = background.copy()
        frame_boxes = []
        for fig, (_, step, _) in zip(figures, PEOPLE):
            shift = np.asarray(step) * t
            for shape in fig.shapes:
                draw_shape(
                    image, Shape(shape.points + shift, shape.width, shape.color), shape.color
                )
            points = np.concatenate([fig.coco + shift, np.ones((17, 1))], axis=1)
            frame_boxes.append(boxes_from_keypoints(points[None], SIZE)[0])
        images.append(np.clip(image + rng.normal(0, 3, image.shape), 0, 255).astype(np.uint8))
        boxes.append(frame_boxes)
    return np.stack(images), np.asarray(boxes)


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="a pose model: file or tag")
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("video_demo.gif"))
    parser.add_argument("--frames", type=int, default=40)
    args = parser.parse_args(argv)
    clip, boxes = make_clip(args.frames)
    called = iter(boxes)  # the detector is called once per frame, in order (detect_every=1)
    est = PoseEstimator(args.checkpoint, detector=lambda image: next(called))
    drawn = []
    with tempfile.TemporaryDirectory() as folder:
        for t, image in enumerate(clip):
            cv2.imwrite(f"{folder}/frame_{t:03d}.png", image[..., ::-1])
        for frame, people in est.video(folder, smooth=True, fps=FPS):
            keypoints = np.stack([p.keypoints for p in people])
            ids = [p.track_id for p in people]
            image = draw_skeletons(frame.image, keypoints, est.keypoint_set, 0.3, ids)
            for person in people:
                x, y = person.box[:2].astype(int)
                label, place = f"id {person.track_id}", (x, max(y - 4, 12))
                white = (255, 255, 255)
                cv2.putText(image, label, place, cv2.FONT_HERSHEY_SIMPLEX, 0.5, white, 1)
            height = round(image.shape[0] * GIF_WIDTH / image.shape[1])
            drawn.append(cv2.resize(image, (GIF_WIDTH, height), interpolation=cv2.INTER_AREA))
    frames = [Image.fromarray(image).quantize(64) for image in drawn]
    frames[0].save(
        args.output, save_all=True, append_images=frames[1:], duration=round(1000 / FPS),
        loop=0, optimize=True,
    )  # fmt: skip
    print(f"{args.output}: {len(frames)} frames, {args.output.stat().st_size / 1e6:.2f} MB")
    return args.output


if __name__ == "__main__":
    main()
