"""Articulated capsule figures for the synthetic pose data sets.

One figure carries the 17 COCO joints and the 16 MPII joints, a head box and the list of
shapes that draw it, so both annotation formats come from the same drawing. Points are
[x, y] in image pixels; images are (H, W, 3) uint8 RGB.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

# Body proportions as fractions of the standing height.
_TORSO, _NECK, _HEAD_R = 0.30, 0.05, 0.065
_UPPER_ARM, _FOREARM, _THIGH, _SHIN = 0.17, 0.15, 0.24, 0.23
_SHOULDER_W, _HIP_W = 0.22, 0.15
_SUBPIXEL = 16  # cv2 fixed-point drawing (shift=4) keeps joints sub-pixel accurate


@dataclass
class Shape:
    """A filled primitive: a capsule (2 points), a polygon (N points) or a disc (1 point)."""

    points: np.ndarray
    width: float
    color: tuple[float, float, float]


@dataclass
class Figure:
    """A posed person: COCO joints (17, 2), MPII joints (16, 2), head box [x1, y1, x2, y2]."""

    coco: np.ndarray
    mpii: np.ndarray
    head_box: np.ndarray
    shapes: list[Shape] = field(default_factory=list)
    # COCO joints hidden by the figure itself (the far ear of a turned head).
    self_occluded: np.ndarray = field(default_factory=lambda: np.zeros(17, bool))


def _direction(angle: float) -> np.ndarray:
    # Angle 0 points down the body (+y); positive angles turn toward +x.
    return np.array([np.sin(angle), np.cos(angle)])


def sample_figure(rng: np.random.Generator, pelvis: np.ndarray, height: float) -> Figure:
    """A random pose of a figure facing the camera, pelvis at ``pelvis``, ``height`` tall.

    The person's left side is on the image right before the whole-body rotation, as for a
    real person facing the camera: left and right follow from the body's orientation.
    """
    p = 1.0 + rng.normal(0, 0.08, size=7).clip(-0.2, 0.2)  # per-person proportions
    h = height
    rot = float(np.clip(rng.normal(0, 0.25), -0.9, 0.9))
    if rng.random() < 0.08:  # a few lying or tumbling figures
        rot += float(rng.choice([-1, 1]) * rng.uniform(1.2, 2.0))
    up = -_direction(rot)
    left = np.array([-up[1], up[0]])  # toward the person's left
    pelvis = np.asarray(pelvis, np.float64)
    thorax = pelvis + up * _TORSO * h * p[0]
    hips = [pelvis + left * s * _HIP_W * h * p[1] / 2 for s in (1, -1)]  # [left, right]
    shoulders = [thorax + left * s * _SHOULDER_W * h * p[2] / 2 for s in (1, -1)]
    neck_top = thorax + up * _NECK * h
    head_r = _HEAD_R * h * p[3]
    head_c = neck_top + up * head_r

    def limb(start, angle, spread, l1, l2, bend):
        a1 = rot + angle + rng.uniform(-spread, spread)
        mid = start + _direction(a1) * l1
        return mid, mid + _direction(a1 + bend * abs(rng.normal(0, 0.8))) * l2

    arms = [
        limb(shoulders[i], s * 0.5, 1.6, _UPPER_ARM * h * p[4], _FOREARM * h * p[4], -s)
        for i, s in enumerate((1, -1))
    ]
    legs = [
        limb(
            hips[i],
            s * 0.15,
            0.45,
            _THIGH * h * p[5],
            _SHIN * h * p[5],
            s * rng.choice([-0.5, 0.5]),
        )
        for i, s in enumerate((1, -1))
    ]
    yaw = float(rng.uniform(-0.6, 0.6))
    nose = head_c + left * yaw * head_r * 0.5 - up * head_r * 0.15
    eyes = [head_c + left * (s * 0.4 + yaw * 0.5) * head_r + up * head_r * 0.2 for s in (1, -1)]
    ears = [head_c + left * s * head_r * 0.95 for s in (1, -1)]
    coco = np.array(
        [
            nose,
            eyes[0],
            eyes[1],
            ears[0],
            ears[1],
            shoulders[0],
            shoulders[1],
            arms[0][0],
            arms[1][0],
            arms[0][1],
            arms[1][1],
            hips[0],
            hips[1],
            legs[0][0],
            legs[1][0],
            legs[0][1],
            legs[1][1],
        ]
    )
    mpii = np.array(
        [
            legs[1][1],
            legs[1][0],
            hips[1],
            hips[0],
            legs[0][0],
            legs[0][1],
            pelvis,
            thorax,
            neck_top,
            head_c + up * head_r,
            arms[1][1],
            arms[1][0],
            shoulders[1],
            shoulders[0],
            arms[0][0],
            arms[0][1],
        ]
    )
    fig = Figure(coco, mpii, np.concatenate([head_c - head_r * 1.1, head_c + head_r * 1.1]))
    if abs(yaw) > 0.3:  # the ear turned away is behind the head
        fig.self_occluded[4 if yaw > 0 else 3] = True
    _add_shapes(fig, rng, thickness=h * 0.045 * p[6], head_r=head_r)
    return fig


def _add_shapes(fig: Figure, rng: np.random.Generator, thickness: float, head_r: float) -> None:
    k, t = fig.coco, thickness
    shirt, trousers = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    skin = np.array([255.0, 220.0, 180.0]) * rng.uniform(0.35, 1.0)
    shade = rng.uniform(0.75, 0.95)  # the right side is a little darker, like a lit scene

    def add(points, width, color):
        fig.shapes.append(Shape(np.asarray(points, np.float64), width, tuple(color)))

    for hip, knee, ankle, c in ((11, 13, 15, trousers), (12, 14, 16, trousers * shade)):
        add([k[hip], k[knee]], 1.3 * t, c)
        add([k[knee], k[ankle]], 1.1 * t, c)
        add([k[ankle]], 0.7 * t, c * 0.5)
    add([k[5], k[6], k[12], k[11]], 0, shirt)
    add([fig.mpii[7], fig.mpii[8]], 0.8 * t, skin)
    head_c = (fig.head_box[:2] + fig.head_box[2:]) / 2
    add([head_c], head_r, skin)
    for shoulder, elbow, wrist, s in ((5, 7, 9, 1.0), (6, 8, 10, shade)):
        add([k[shoulder], k[elbow]], t, shirt * s)
        add([k[elbow], k[wrist]], 0.85 * t, skin * s)
        add([k[wrist]], 0.7 * t, skin * s)
    r = max(1.0, t * 0.25)
    for j in (3, 4):
        if not fig.self_occluded[j]:
            add([k[j]], r * 1.4, skin * 0.7)
    add([k[1]], r, (20, 20, 20))
    add([k[2]], r, (20, 20, 20))
    add([k[0]], r * 1.2, (150, 60, 60))


def _fixed(points: np.ndarray) -> np.ndarray:
    return np.round(points * _SUBPIXEL).astype(np.int32)


def draw_shape(layer: np.ndarray, shape: Shape, color, antialias: bool = True) -> None:
    """Paint one shape into ``layer`` (an image, or an id mask with ``antialias=False``)."""
    line = cv2.LINE_AA if antialias else cv2.LINE_8
    pts = _fixed(shape.points)
    if len(pts) == 1:
        radius = max(1, round(shape.width * _SUBPIXEL))
        cv2.circle(layer, tuple(pts[0]), radius, color, -1, line, shift=4)
    elif len(pts) == 2:
        width = max(1, round(shape.width))
        cv2.line(layer, tuple(pts[0]), tuple(pts[1]), color, width, line, shift=4)
    else:
        cv2.fillPoly(layer, [pts], color, line, shift=4)
