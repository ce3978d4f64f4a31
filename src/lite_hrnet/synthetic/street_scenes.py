"""Synthetic street scenes written in the real Cityscapes layout with real label ids, or
in the generic images + masks layout with a class table of their own.

    root/leftImg8bit/{train,val}/<city>/<city>_<seq>_<frame>_leftImg8bit.png  (RGB)
    root/gtFine/{train,val}/<city>/<city>_<seq>_<frame>_gtFine_labelIds.png  (labelIds)

    root/images/{train,val}/scene_<index>.jpg  (RGB)
    root/masks/{train,val}/scene_<index>.png  (palette PNG of ``FOLDER_CLASSES`` indices)

Each scene is a street seen from a car, in one-point perspective: sky with clouds, a
horizon band, buildings with windows on both sides, road with lane markings and shadows,
sidewalks with paving, grass verges, trees, parked and driving cars, pedestrians, and void
regions (ego vehicle, rectification border, unlabeled outlines, static clutter) so that
the ignore path is exercised. ``street_furniture=True`` adds poles carrying traffic signs
and lights: thin classes that a short CPU run does not learn (experiments/segmentation_recipe),
so the default leaves them out. Colours
overlap between classes (grey road, sidewalk and buildings; green grass and trees), so
classes must be told apart by texture, shape and context. Everything follows from the seed: image
``i`` of a split draws from ``numpy.random.default_rng((seed, split, i))``.

The generated sets go through exactly the same reader as real data
(``SegmentationFolderDataset``). Images are (H, W, 3) uint8 RGB; points are [x, y] in pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from tqdm import tqdm

from ..checks import check
from ..meta.cityscapes import NAME_TO_LABEL
from ..meta.class_table import default_palette
from .files import write_image
from .marker import ensure_generated

_ID = {name: label.id for name, label in NAME_TO_LABEL.items()}
# Bump when the renderer changes, so that cached data sets are written again.
GENERATOR_VERSION = 3
# The marker of the sets that versions before the common marker wrote.
LEGACY_MARKER = "synthetic_cityscapes.json"
_CITIES = {"train": ("aachen", "bochum", "bremen", "cologne"), "val": ("frankfurt", "lindau")}
_SPLIT_KEYS = {"train": 0, "val": 1}

# The generic layout's own classes (mask value = position) and the Cityscapes labels each
# covers; the other labels (void, ground, static) are written as FOLDER_IGNORE.
FOLDER_CLASSES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("road", ("road",)),
    ("pavement", ("sidewalk",)),
    ("building", ("building",)),
    ("greenery", ("vegetation", "terrain")),
    ("sky", ("sky",)),
    ("pedestrian", ("person",)),
    ("vehicle", ("car",)),
    ("street furniture", ("pole", "traffic sign", "traffic light")),
)
FOLDER_IGNORE = 255


@dataclass
class StreetSceneConfig:
    """What the generator writes (also ``data.synthetic`` of the segmentation data config);
    stored in the set's marker, so that a change writes the set again. Sizes in pixels."""

    seed: int = 0
    num_train_images: int = 600
    num_val_images: int = 100
    height: int = 256
    width: int = 512
    street_furniture: bool = False  # poles, traffic signs and lights (thin, hard classes)

    def validate(self) -> None:
        for key in ("num_train_images", "num_val_images"):
            check(getattr(self, key) >= 1, f"data.synthetic.{key}", "must be >= 1")
        for key in ("height", "width"):
            check(getattr(self, key) % 32 == 0 and getattr(self, key) > 0,
                  f"data.synthetic.{key}", "a positive multiple of 32")  # fmt: skip


# ------------------------------------------------------------------------ textures


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cell: float) -> np.ndarray:
    """(h, w) float32 noise in about [-1, 1] with features about ``cell`` pixels wide."""
    gh, gw = max(2, int(h / cell) + 2), max(2, int(w / cell) + 2)
    grid = rng.uniform(-1, 1, size=(gh, gw)).astype(np.float32)
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)


def _texture(
    rng: np.random.Generator,
    shape: tuple[int, int],
    color: np.ndarray,
    coarse: float,
    fine: float,
    cell: float = 24.0,
) -> np.ndarray:
    """(h, w, 3) float32 colour field: ``color`` + smooth blotches + per-pixel grain."""
    h, w = shape
    blotch = _smooth_noise(rng, h, w, cell)[..., None] * coarse
    grain = rng.normal(0, fine, size=(h, w, 1)).astype(np.float32)
    tint = rng.normal(0, 0.15, size=3).astype(np.float32)  # blotches shift hue slightly
    return color[None, None, :] + blotch * (1 + tint) + grain


def _jitter(rng: np.random.Generator, color: tuple[int, int, int], amount: float) -> np.ndarray:
    return np.clip(np.asarray(color, np.float32) + rng.normal(0, amount, 3), 0, 255)


# A shared grey range for road, sidewalk, buildings, poles and cars keeps colour ambiguous.
_FACADES = ((200, 190, 170), (150, 80, 60), (130, 130, 135), (225, 220, 205), (110, 95, 80),
            (180, 170, 150), (95, 100, 110), (170, 120, 90))  # fmt: skip
_CAR_COLORS = ((200, 200, 205), (30, 30, 35), (150, 20, 25), (20, 50, 120), (120, 120, 125),
               (235, 235, 230), (40, 90, 50), (200, 160, 40), (90, 60, 40))  # fmt: skip
_CLOTHES = ((30, 30, 40), (150, 30, 30), (40, 60, 130), (200, 200, 190), (90, 90, 95),
            (60, 100, 60), (180, 140, 60), (120, 60, 110))  # fmt: skip
_SKIN = ((230, 190, 160), (190, 140, 100), (120, 80, 55), (250, 215, 185))


# ------------------------------------------------------------------------ the scene


class _Scene:
    """Canvas, label map and camera of one image; ``paint`` writes both at once."""

    def __init__(self, rng: np.random.Generator, height: int, width: int) -> None:
        self.rng, self.h, self.w = rng, height, width
        self.image = np.zeros((height, width, 3), np.float32)
        self.label = np.zeros((height, width), np.uint8)  # 0 = unlabeled
        self.horizon = height * rng.uniform(0.36, 0.52)
        self.vp_x = width * rng.uniform(0.35, 0.65)
        self.unit = height / 256  # sizes below are given for a 256-pixel-high image

    def depth(self, y: float) -> float:
        """Perspective scale at image row ``y``: 0 at the horizon, 1 at the bottom row."""
        return max(y - self.horizon, 0.5) / (self.h - self.horizon)

    def ground_x(self, bottom_x: float, y: float) -> float:
        """x at row ``y`` of the ground line through the vanishing point and (bottom_x, H)."""
        return self.vp_x + (bottom_x - self.vp_x) * self.depth(y)

    def mask(self) -> np.ndarray:
        return np.zeros((self.h, self.w), np.uint8)

    def paint(
        self,
        mask: np.ndarray,
        color: np.ndarray,
        label_name: str | None,
        coarse: float = 0.0,
        fine: float = 0.0,
        cell: float = 24.0,
    ) -> None:
        """Paint where ``mask`` > 0 and write the label (unless None).

        ``color`` is (3,) RGB, or (H, W, 3) for a whole-image field; ``coarse``, ``fine``
        and ``cell`` (pixels at a 256-pixel height) add ``_texture`` blotches and grain.
        Only the mask's bounding box is touched, which keeps small objects cheap.
        """
        x, y, w, h = cv2.boundingRect(mask)
        if w == 0 or h == 0:
            return
        m = mask[y : y + h, x : x + w] > 0
        if color.ndim == 3:
            values = color[y : y + h, x : x + w][m]
        elif coarse or fine:
            values = _texture(self.rng, (h, w), color, coarse, fine, cell * self.unit)[m]
        else:
            values = color
        self.image[y : y + h, x : x + w][m] = values
        if label_name is not None:
            self.label[y : y + h, x : x + w][m] = _ID[label_name]


def _poly(scene: _Scene, points: list[tuple[float, float]]) -> np.ndarray:
    m = scene.mask()
    cv2.fillPoly(m, [np.round(np.asarray(points)).astype(np.int32)], 1)
    return m


def _trapezoid(
    scene: _Scene, cx: float, y_low: float, w_low: float, y_high: float, w_high: float
) -> np.ndarray:
    """Mask of a trapezoid symmetric about x = ``cx``: width ``w_low`` at row ``y_low``,
    ``w_high`` at row ``y_high`` (a rectangle when the widths are equal)."""
    return _poly(
        scene,
        [(cx - w_low / 2, y_low), (cx + w_low / 2, y_low), (cx + w_high / 2, y_high),
         (cx - w_high / 2, y_high)],
    )  # fmt: skip


def _draw_sky(scene: _Scene) -> None:
    rng, h, w = scene.rng, scene.h, scene.w
    top = _jitter(rng, ((70, 120, 200), (150, 160, 175), (110, 150, 210))[rng.integers(3)], 20)
    bottom = np.clip(top + rng.uniform(30, 90), 0, 255)
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    sky = np.broadcast_to(top * (1 - t) + bottom * t, (h, w, 3)).copy()
    clouds = np.clip(_smooth_noise(rng, h, w, 60 * scene.unit) * 2 - rng.uniform(0, 1.5), 0, 1)
    sky += clouds[..., None] * (235 - sky) * rng.uniform(0.3, 0.9)
    scene.paint(np.ones((h, w), np.uint8), sky + rng.normal(0, 2, (h, w, 1)), "sky")


def _draw_ground(scene: _Scene) -> dict[str, float]:
    """Road, curbs, sidewalks and grass verges; returns the bottom x of their edges."""
    rng, h, w, hz = scene.rng, scene.h, scene.w, scene.horizon
    half = w * rng.uniform(0.35, 0.75)
    edges = {"road_l": scene.vp_x - half * rng.uniform(0.8, 1.2)}
    edges["road_r"] = scene.vp_x + half * rng.uniform(0.8, 1.2)
    for side, sign in (("l", -1), ("r", 1)):
        edges[f"walk_{side}"] = edges[f"road_{side}"] + sign * w * rng.uniform(0.25, 0.7)
        grass = rng.random() < 0.5
        edges[f"grass_{side}"] = edges[f"walk_{side}"] + sign * w * (
            rng.uniform(0.2, 0.6) if grass else 0.0
        )
    below = _poly(scene, [(0, hz), (w, hz), (w, h), (0, h)])
    # Beyond the verges: packed earth and gravel, void ("ground") as in Cityscapes.
    scene.paint(below, _jitter(rng, (120, 110, 95), 15), "ground", 20, 6)
    grass_color = _jitter(rng, (110, 140, 70), 18)
    walk_color = _jitter(
        rng, ((170, 165, 160), (190, 170, 150), (150, 150, 155))[rng.integers(3)], 15
    )
    for side in ("l", "r"):
        outer, walk, road = (edges[f"{k}_{side}"] for k in ("grass", "walk", "road"))
        scene.paint(
            _poly(scene, [(scene.vp_x, hz), (outer, h), (walk, h)]),
            grass_color,
            "terrain",
            25,
            10,
            cell=8,
        )
        sidewalk = _poly(scene, [(scene.vp_x, hz), (walk, h), (road, h)])
        scene.paint(sidewalk, walk_color, "sidewalk", 12, 5)
        _draw_paving(scene, sidewalk, walk, road, walk_color)
    asphalt = _jitter(rng, ((80, 80, 85), (110, 108, 105), (60, 62, 70))[rng.integers(3)], 10)
    road = _poly(scene, [(scene.vp_x, hz), (edges["road_l"], h), (edges["road_r"], h)])
    scene.paint(road, asphalt, "road", 12, 7, cell=40)
    _draw_markings(scene, edges)
    return edges


def _draw_paving(
    scene: _Scene, sidewalk: np.ndarray, outer: float, inner: float, color: np.ndarray
) -> None:
    """Paving joints in perspective, and a lighter curb along the road (all sidewalk)."""
    rng, h, hz = scene.rng, scene.h, scene.horizon
    joints = scene.mask()
    for t in np.linspace(0, 1, rng.integers(2, 6))[1:-1]:
        x = outer + (inner - outer) * t
        cv2.line(joints, (round(scene.vp_x), round(hz)), (round(x), h), 1, 1)
    y = hz + 2
    while y < h:
        cv2.line(joints, (0, round(y)), (scene.w, round(y)), 1, 1)
        y += max(2.0, 14 * scene.unit * scene.depth(y) * rng.uniform(0.8, 1.2))
    darker = np.clip(color - rng.uniform(25, 45), 0, 255)
    scene.paint(joints & sidewalk, darker, "sidewalk")
    curb = scene.mask()
    width = max(1, round(5 * scene.unit))
    cv2.line(curb, (round(scene.vp_x), round(hz)), (round(inner), h), 1, width)
    scene.paint(curb & sidewalk, np.clip(color + 30, 0, 255), "sidewalk")


def _draw_markings(scene: _Scene, edges: dict[str, float]) -> None:
    """Dashed lane lines, sometimes a zebra crossing, and shadow patches (all road)."""
    rng, h, hz = scene.rng, scene.h, scene.horizon
    paint = _jitter(rng, ((235, 235, 230), (230, 200, 60))[int(rng.random() < 0.2)], 8)
    road = scene.label == _ID["road"]
    for t in rng.choice([0.33, 0.5, 0.67], size=rng.integers(1, 3), replace=False):
        bottom = edges["road_l"] + (edges["road_r"] - edges["road_l"]) * t
        y = hz + 3
        while y < h:
            dash = 30 * scene.unit * scene.depth(y)
            y2 = min(h, y + dash)
            width = max(1.0, 6 * scene.unit * scene.depth(y2))
            x1, x2 = scene.ground_x(bottom, y), scene.ground_x(bottom, y2)
            dash_mask = _poly(
                scene, [(x1 - width / 4, y), (x1 + width / 4, y), (x2 + width / 2, y2),
                        (x2 - width / 2, y2)]
            )  # fmt: skip
            scene.paint(dash_mask & road, paint, "road")
            y = y2 + dash
    if rng.random() < 0.3:
        y1 = hz + (h - hz) * rng.uniform(0.2, 0.6)
        y2 = y1 + (h - hz) * 0.12 * scene.depth(y1) * 3
        stripes = 10
        for k in range(stripes):
            if k % 2:
                continue
            a = edges["road_l"] + (edges["road_r"] - edges["road_l"]) * k / stripes
            b = edges["road_l"] + (edges["road_r"] - edges["road_l"]) * (k + 1) / stripes
            quad = [(scene.ground_x(a, y1), y1), (scene.ground_x(b, y1), y1),
                    (scene.ground_x(b, y2), y2), (scene.ground_x(a, y2), y2)]  # fmt: skip
            scene.paint(_poly(scene, quad) & road, paint, "road")
    for _ in range(rng.integers(0, 4)):  # shadows darken without changing the label
        cx, cy = rng.uniform(0, scene.w), rng.uniform(hz, h)
        axes = (rng.uniform(20, 120) * scene.unit, rng.uniform(5, 30) * scene.unit)
        m = scene.mask()
        cv2.ellipse(m, (round(cx), round(cy)), (round(axes[0]), round(axes[1])),
                    rng.uniform(-20, 20), 0, 360, 1, -1)  # fmt: skip
        m &= road
        scene.image[m > 0] *= rng.uniform(0.5, 0.8)


def _draw_horizon_band(scene: _Scene) -> None:
    """Distant buildings or tree line across the vanishing point."""
    rng, hz, w = scene.rng, scene.horizon, scene.w
    x = scene.vp_x - w * rng.uniform(0.1, 0.3)
    end = scene.vp_x + w * rng.uniform(0.1, 0.3)
    while x < end:
        bw = rng.uniform(10, 40) * scene.unit
        top = hz - rng.uniform(4, 30) * scene.unit
        quad = _poly(scene, [(x, top), (x + bw, top), (x + bw, hz + 1), (x, hz + 1)])
        if rng.random() < 0.6:
            color = _jitter(rng, _FACADES[rng.integers(len(_FACADES))], 20) * 0.85
            scene.paint(quad, color, "building", 10, 5)
        else:
            _draw_crown(scene, (x + bw / 2, top + 4), bw / 2 + 3, quad)
        x += bw


def _draw_buildings(scene: _Scene, edges: dict[str, float]) -> list[tuple[float, float]]:
    """Façades in perspective on both sides; returns the (x, base y) of gaps for trees."""
    rng, w = scene.rng, scene.w
    spots: list[tuple[float, float]] = []
    for side, sign in (("l", -1), ("r", 1)):
        outer = edges[f"grass_{side}"]
        near = 0.0 if sign < 0 else float(w)
        # Walk from the image border toward the vanishing point, one façade at a time.
        x = near
        stop = scene.vp_x + sign * w * rng.uniform(0.04, 0.15)
        rise = rng.uniform(1.2, 3.5)
        while (x - stop) * sign > 0:
            bw = w * rng.uniform(0.08, 0.3) * max(0.2, abs(x - scene.vp_x) / (w / 2))
            x2 = x - sign * bw
            if (x2 - stop) * sign < 0:
                x2 = stop
            if rng.random() < 0.15:  # a gap: sky and a tree show through
                spots.append(((x + x2) / 2, _base_y(scene, outer, (x + x2) / 2)))
                x = x2
                continue
            _draw_facade(scene, outer, x, x2, rise * rng.uniform(0.7, 1.3))
            x = x2
    return spots


def _base_y(scene: _Scene, outer: float, x: float) -> float:
    """Row where the ground line through (outer, H) passes ``x``."""
    dx = outer - scene.vp_x
    t = (x - scene.vp_x) / dx if abs(dx) > 1e-6 else 1.0
    return scene.horizon + (scene.h - scene.horizon) * float(np.clip(t, 0.0, 3.0))


def _draw_facade(scene: _Scene, outer: float, xa: float, xb: float, rise: float) -> None:
    rng, hz = scene.rng, scene.horizon
    ya, yb = _base_y(scene, outer, xa), _base_y(scene, outer, xb)
    ta, tb = hz - rise * (ya - hz), hz - rise * (yb - hz)
    quad = [(xa, ta), (xb, tb), (xb, yb), (xa, ya)]
    color = _jitter(rng, _FACADES[rng.integers(len(_FACADES))], 18)
    m = _poly(scene, quad)
    scene.paint(m, color, "building", 14, 6, cell=16)
    glass = _jitter(rng, ((60, 70, 85), (140, 160, 180), (30, 30, 35))[rng.integers(3)], 12)
    frame_dark = rng.random() < 0.5
    cols, rows = int(rng.integers(2, 7)), int(rng.integers(3, 9))
    fw, fh = rng.uniform(0.35, 0.7), rng.uniform(0.35, 0.65)

    def at(u: float, v: float) -> tuple[float, float]:
        # Bilinear position on the façade: u across (a to b), v up (base to top).
        base = (xa + (xb - xa) * u, ya + (yb - ya) * u)
        top = (xa + (xb - xa) * u, ta + (tb - ta) * u)
        return base[0], base[1] + (top[1] - base[1]) * v

    windows = scene.mask()
    for i in range(cols):
        for j in range(1, rows):
            u0, v0 = (i + (1 - fw) / 2) / cols, (j + (1 - fh) / 2) / rows
            u1, v1 = u0 + fw / cols, v0 + fh / rows
            corners = [at(u0, v0), at(u1, v0), at(u1, v1), at(u0, v1)]
            cv2.fillPoly(windows, [np.round(np.asarray(corners)).astype(np.int32)], 1)
    scene.paint(windows & m, glass * (0.8 if frame_dark else 1.0), "building", 25, 3, cell=10)
    if rng.random() < 0.4:  # shop front: a dark band at street level
        band = _poly(scene, [at(0, 0), at(1, 0), at(1, 0.12), at(0, 0.12)])
        scene.paint(band & m, _jitter(rng, (50, 45, 40), 15), "building")


def _draw_crown(
    scene: _Scene, center: tuple[float, float], radius: float, clip: np.ndarray | None = None
) -> None:
    """A tree crown: clustered blobs with leafy texture (vegetation)."""
    rng = scene.rng
    m = scene.mask()
    for _ in range(rng.integers(4, 9)):
        dx, dy = rng.normal(0, radius * 0.45, 2)
        r = radius * rng.uniform(0.45, 0.8)
        cv2.circle(m, (round(center[0] + dx), round(center[1] + dy)), max(1, round(r)), 1, -1)
    if clip is not None:
        m &= clip
    green = _jitter(
        rng, ((70, 110, 40), (50, 85, 35), (100, 130, 50), (120, 140, 60))[rng.integers(4)], 15
    )
    scene.paint(m, green, "vegetation", 30, 14, cell=4)


def _draw_tree(scene: _Scene, x: float, base: float) -> None:
    rng = scene.rng
    s = scene.depth(base)
    height = scene.h * rng.uniform(0.5, 1.0) * s * 1.4
    trunk_w = max(2.0, 10 * scene.unit * s)
    trunk = _trapezoid(scene, x, base, trunk_w, base - height * 0.7, trunk_w * 2 / 3)
    scene.paint(trunk, _jitter(rng, (90, 70, 50), 12), "vegetation", 10, 8)
    _draw_crown(scene, (x, base - height * 0.75), height * rng.uniform(0.25, 0.4))


def _draw_pole(scene: _Scene, x: float, base: float) -> None:
    """A pole with a sign, a traffic light or a lamp on top."""
    rng = scene.rng
    s = scene.depth(base)
    height = scene.h * rng.uniform(0.5, 0.9) * s  # near poles keep their tops in view
    pw = max(2.0, 10 * scene.unit * s * rng.uniform(0.8, 1.3))
    top = base - height
    pole = _trapezoid(scene, x, base, pw, top, pw)
    grey = _jitter(rng, ((120, 120, 125), (70, 80, 70), (170, 170, 170))[rng.integers(3)], 10)
    scene.paint(pole, grey, "pole", 8, 5)
    # Signs and lights near Cityscapes' pixel shares (about 0.5% and 0.2%), so that they
    # are learnable classes rather than a few stray pixels.
    kind = rng.choice(["sign", "light", "lamp", "none"], p=[0.5, 0.35, 0.1, 0.05])
    size = max(5.0, 44 * scene.unit * s * rng.uniform(0.8, 1.2))
    cx, cy = x, top + size * 0.6
    if kind == "sign":
        m = scene.mask()
        shape = rng.integers(3)
        if shape == 0:
            cv2.circle(m, (round(cx), round(cy)), round(size / 2), 1, -1)
        elif shape == 1:
            pts = [
                (cx, cy - size / 2),
                (cx + size / 2, cy + size / 2),
                (cx - size / 2, cy + size / 2),
            ]
            cv2.fillPoly(m, [np.round(np.asarray(pts)).astype(np.int32)], 1)
        else:
            m = _trapezoid(scene, cx, cy + size / 3, size, cy - size / 3, size)
        face = _jitter(
            rng,
            ((200, 30, 30), (30, 70, 170), (240, 240, 240), (240, 200, 30))[rng.integers(4)],
            15,
        )
        scene.paint(m, face, "traffic sign")
        inner = cv2.erode(m, np.ones((3, 3), np.uint8), iterations=max(1, round(size / 8)))
        scene.paint(inner, np.clip(255 - face, 0, 255) * 0.8 + 40, "traffic sign")
    elif kind == "light":
        bw, bh = size * 0.45, size * 1.2
        box = _trapezoid(scene, cx, cy + bh / 2, bw, cy - bh / 2, bw)
        scene.paint(box, _jitter(rng, (35, 35, 30), 8), "traffic light")
        lit = rng.integers(3)
        for k, color in enumerate(((230, 40, 30), (240, 190, 30), (40, 220, 90))):
            lamp = scene.mask()
            center = (round(cx), round(cy - bh / 3 + k * bh / 3))
            cv2.circle(lamp, center, max(1, round(bw / 3)), 1, -1)
            scene.paint(
                lamp & box,
                np.asarray(color, np.float32) * (1.0 if k == lit else 0.35),
                "traffic light",
            )
    elif kind == "lamp":
        arm = _trapezoid(scene, x + size / 2, top + size * 0.25, size, top, size)
        scene.paint(arm, grey, "pole")


def _draw_car(scene: _Scene, x: float, base: float, facing_away: bool) -> None:
    """A car seen from behind or the front: body, cabin, windows, wheels, lights (car)."""
    rng = scene.rng
    s = scene.depth(base)
    cw = scene.w * 0.33 * s * rng.uniform(0.8, 1.15)
    ch = cw * rng.uniform(0.75, 0.95)
    body_top = base - ch * 0.55
    color = _jitter(rng, _CAR_COLORS[rng.integers(len(_CAR_COLORS))], 12)
    car = scene.mask()
    wheel_h = ch * 0.16
    r = max(1, round(ch * 0.12))
    cv2.rectangle(
        car,
        (round(x - cw / 2 + r), round(body_top)),
        (round(x + cw / 2 - r), round(base - wheel_h)),
        1,
        -1,
    )
    cv2.rectangle(
        car,
        (round(x - cw / 2), round(body_top + r)),
        (round(x + cw / 2), round(base - wheel_h - r)),
        1,
        -1,
    )
    for cx in (x - cw / 2 + r, x + cw / 2 - r):
        cv2.circle(car, (round(cx), round(body_top + r)), r, 1, -1)
    cabin = [(x - cw * 0.42, body_top + 1), (x + cw * 0.42, body_top + 1),
             (x + cw * 0.32, base - ch), (x - cw * 0.32, base - ch)]  # fmt: skip
    cv2.fillPoly(car, [np.round(np.asarray(cabin)).astype(np.int32)], 1)
    wheels = scene.mask()
    for wx in (x - cw * 0.36, x + cw * 0.36):
        cv2.rectangle(
            wheels,
            (round(wx - cw * 0.09), round(base - wheel_h - 2)),
            (round(wx + cw * 0.09), round(base)),
            1,
            -1,
        )
    outline = cv2.dilate(car | wheels, np.ones((3, 3), np.uint8)) & ~(car | wheels) & 1
    scene.paint(car, color, "car", 10, 4)
    scene.paint(wheels, _jitter(rng, (25, 25, 25), 5), "car")
    window = _trapezoid(scene, x, body_top - ch * 0.04, cw * 0.72, base - ch * 0.93, cw * 0.56)
    scene.paint(window & car, _jitter(rng, (45, 55, 70), 10), "car", 20, 2, cell=8)
    lights = scene.mask()
    light = (230, 40, 30) if facing_away else (240, 240, 220)
    for lx in (x - cw * 0.4, x + cw * 0.4):
        cv2.rectangle(
            lights,
            (round(lx - cw * 0.06), round(body_top + ch * 0.08)),
            (round(lx + cw * 0.06), round(body_top + ch * 0.16)),
            1,
            -1,
        )
    scene.paint(lights & car, np.asarray(light, np.float32), "car")
    plate = _trapezoid(scene, x, body_top + ch * 0.26, cw * 0.2, body_top + ch * 0.18, cw * 0.2)
    scene.paint(plate & car, np.asarray((235, 235, 235), np.float32), "car")
    if rng.random() < 0.5:  # annotators leave a thin unlabeled seam around objects
        scene.label[outline > 0] = _ID["unlabeled"]


def _draw_person(scene: _Scene, x: float, base: float) -> None:
    """A pedestrian: legs, torso, arms, head (person)."""
    rng = scene.rng
    s = scene.depth(base)
    ph = scene.h * 0.6 * s * rng.uniform(0.85, 1.15)
    if ph < 6:
        return
    shirt = _jitter(rng, _CLOTHES[rng.integers(len(_CLOTHES))], 15)
    trousers = _jitter(rng, _CLOTHES[rng.integers(len(_CLOTHES))], 15)
    skin = _jitter(rng, _SKIN[rng.integers(len(_SKIN))], 10)
    lw = max(1, round(ph * 0.07))
    hip = (x, base - ph * 0.47)
    stride = rng.uniform(-0.12, 0.12) * ph
    legs = scene.mask()
    for dx in (-stride, stride):
        cv2.line(legs, (round(hip[0]), round(hip[1])), (round(x + dx), round(base)), 1, lw)
    torso = scene.mask()
    tw = ph * rng.uniform(0.1, 0.14)
    cv2.ellipse(
        torso,
        (round(x), round(base - ph * 0.64)),
        (max(1, round(tw)), max(1, round(ph * 0.19))),
        0,
        0,
        360,
        1,
        -1,
    )
    arms = scene.mask()
    shoulder_y = base - ph * 0.78
    for sgn in (-1, 1):
        hand = (x + sgn * (tw + rng.uniform(0, 0.12) * ph), base - ph * rng.uniform(0.4, 0.55))
        cv2.line(
            arms,
            (round(x + sgn * tw * 0.8), round(shoulder_y)),
            (round(hand[0]), round(hand[1])),
            1,
            max(1, lw - 1),
        )
    head = scene.mask()
    cv2.circle(head, (round(x), round(base - ph * 0.9)), max(1, round(ph * 0.075)), 1, -1)
    body = legs | torso | arms | head
    outline = cv2.dilate(body, np.ones((3, 3), np.uint8)) & ~body & 1
    scene.paint(legs, trousers, "person", 8, 5)
    scene.paint(torso | arms, shirt, "person", 8, 5)
    scene.paint(head, skin, "person")
    if rng.random() < 0.5:
        scene.label[outline > 0] = _ID["unlabeled"]


def _draw_static(scene: _Scene, x: float, base: float) -> None:
    """Street clutter (bins, boxes, benches): void "static"."""
    rng = scene.rng
    s = scene.depth(base)
    bw, bh = scene.w * 0.05 * s * rng.uniform(0.6, 1.5), scene.h * 0.12 * s * rng.uniform(0.6, 1.5)
    box = _trapezoid(scene, x, base, bw, base - bh, bw)
    color = _jitter(rng, _CLOTHES[rng.integers(len(_CLOTHES))], 20)
    scene.paint(box, color, "static", 10, 6)


def _on_strip(scene: _Scene, a: float, b: float, y: float) -> float:
    """A random x at row ``y`` between the ground lines through (a, H) and (b, H)."""
    xa, xb = scene.ground_x(a, y), scene.ground_x(b, y)
    return float(scene.rng.uniform(min(xa, xb), max(xa, xb)))


def render_street_scene(
    rng: np.random.Generator, height: int = 256, width: int = 512, street_furniture: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """One scene: image (H, W, 3) uint8 RGB and labelIds (H, W) uint8 (Cityscapes ids).

    ``street_furniture``: also poles with traffic signs and lights on the sidewalks.
    """
    scene = _Scene(rng, height, width)
    _draw_sky(scene)
    _draw_horizon_band(scene)
    edges = _draw_ground(scene)
    tree_spots = _draw_buildings(scene, edges)
    hz, h = scene.horizon, scene.h

    def row() -> float:
        # Objects are denser far away: sample depth, not rows, uniformly.
        return hz + (h - hz) * float(rng.uniform(0.08, 1.15)) ** 1.3

    # Objects, drawn far to near so that nearer ones occlude.
    objects: list[tuple[float, str, float, bool]] = []
    for x, base in tree_spots:
        objects.append((base, "tree", x, False))

    def place(kind: str, count: int, a: float, b: float, is_car: bool = False) -> None:
        for _ in range(count):
            y = row()
            x = _on_strip(scene, a, b, y)
            objects.append((y, kind, x, is_car and bool(rng.random() < 0.6)))

    # Per sidewalk: kind, count range (None: none drawn), the strip between two ground lines.
    sidewalk = (
        ("tree", (0, 4), "grass", "walk"),
        ("pole", (2, 5) if street_furniture else None, "walk", "walk"),
        ("person", (1, 6), "walk", "road"),
        ("static", (0, 2), "walk", "road"),
    )
    for side in ("l", "r"):
        for kind, counts, a, b in sidewalk:
            count = rng.integers(*counts) if counts else 0
            place(kind, count, edges[f"{a}_{side}"], edges[f"{b}_{side}"])
    # Cars on the road, 60% of them seen from behind.
    place("car", rng.integers(1, 6), edges["road_l"], edges["road_r"], is_car=True)

    draw = {"tree": _draw_tree, "pole": _draw_pole, "person": _draw_person, "static": _draw_static}
    for base, kind, x, facing_away in sorted(objects):
        if kind == "car":
            _draw_car(scene, x, base, facing_away)
        else:
            draw[kind](scene, x, base)

    if rng.random() < 0.4:  # the ego vehicle's bonnet at the bottom
        top = h - h * rng.uniform(0.05, 0.12)
        hood = scene.mask()
        cv2.ellipse(hood, (round(scene.w / 2), round(h + (h - top) * 1.5)),
                    (round(scene.w * 0.7), round((h - top) * 2.5)), 0, 180, 360, 1, -1)  # fmt: skip
        scene.paint(hood, _jitter(rng, (40, 40, 45), 10), "ego vehicle", 10, 3)
    image = scene.image
    # Camera: exposure, colour cast, noise, sometimes a little blur.
    image = image * rng.uniform(0.75, 1.2) + rng.normal(0, 8, 3)
    image = image + rng.normal(0, rng.uniform(2, 7), image.shape)
    if rng.random() < 0.3:
        image = cv2.GaussianBlur(image, (3, 3), 0)
    image = np.clip(image, 0, 255).astype(np.uint8)
    label = scene.label
    if rng.random() < 0.5:  # a rectification border of a few black pixels
        b = int(rng.integers(2, 6))
        for region in ((slice(0, b), slice(None)), (slice(-b, None), slice(None)),
                       (slice(None), slice(0, b)), (slice(None), slice(-b, None))):  # fmt: skip
            image[region] = 0
            label[region] = _ID["rectification border"]
    return image, label


# ------------------------------------------------------------------------ writing


def _file_stem(split: str, index: int) -> tuple[str, str]:
    cities = _CITIES[split]
    city = cities[index % len(cities)]
    return city, f"{city}_{index // len(cities):06d}_{19 + (index % 7) * 10:06d}"


def ensure_synthetic_cityscapes(
    root: str | Path, cfg: StreetSceneConfig | None = None, progress: bool = True
) -> Path:
    """Write the synthetic set under ``root`` unless a complete one with these settings is
    there (``marker.ensure_generated``). Returns ``root`` as a ``Path``."""
    cfg = cfg or StreetSceneConfig()
    cfg.validate()

    def write(root: Path) -> None:
        jobs = [("train", i) for i in range(cfg.num_train_images)]
        jobs += [("val", i) for i in range(cfg.num_val_images)]
        progress_bar = tqdm(
            jobs,
            desc=f"synthetic Cityscapes -> {root}",
            disable=not progress,
            unit="img",
            mininterval=1.0,
        )
        for split, index in progress_bar:
            rng = np.random.default_rng((cfg.seed, _SPLIT_KEYS[split], index))
            image, label = render_street_scene(rng, cfg.height, cfg.width, cfg.street_furniture)
            city, stem = _file_stem(split, index)
            image_dir = root / "leftImg8bit" / split / city
            label_dir = root / "gtFine" / split / city
            image_dir.mkdir(parents=True, exist_ok=True)
            label_dir.mkdir(parents=True, exist_ok=True)
            write_image(image_dir / f"{stem}_leftImg8bit.png", image[..., ::-1])
            write_image(label_dir / f"{stem}_gtFine_labelIds.png", label)

    return ensure_generated(
        root,
        "street_scenes/cityscapes",
        GENERATOR_VERSION,
        cfg,
        ("leftImg8bit", "gtFine"),
        write,
        legacy_markers=(LEGACY_MARKER,),
    )


def _folder_lookup() -> np.ndarray:
    """(256,) uint8: Cityscapes labelId -> index in ``FOLDER_CLASSES``, else FOLDER_IGNORE."""
    lut = np.full(256, FOLDER_IGNORE, dtype=np.uint8)
    for index, (_, labels) in enumerate(FOLDER_CLASSES):
        for name in labels:
            lut[_ID[name]] = index
    return lut


def ensure_synthetic_street_folder(
    root: str | Path, cfg: StreetSceneConfig | None = None, progress: bool = True
) -> Path:
    """The street scenes in the generic images + masks layout: JPEG images and palette-PNG
    masks holding ``FOLDER_CLASSES`` indices (255: no class). The PNGs' palette is only for
    viewing; readers take the indices. Written unless a complete set with these settings is
    under ``root`` (``marker.ensure_generated``). Returns ``root`` as a ``Path``."""
    cfg = cfg or StreetSceneConfig()
    cfg.validate()
    lookup = _folder_lookup()
    palette = default_palette(256).flatten().tolist()

    def write(root: Path) -> None:
        jobs = [("train", i) for i in range(cfg.num_train_images)]
        jobs += [("val", i) for i in range(cfg.num_val_images)]
        desc = f"synthetic street scenes -> {root}"
        for split, index in tqdm(jobs, desc=desc, disable=not progress, unit="img"):
            rng = np.random.default_rng((cfg.seed, _SPLIT_KEYS[split], index))
            image, label = render_street_scene(rng, cfg.height, cfg.width, cfg.street_furniture)
            for folder in ("images", "masks"):
                (root / folder / split).mkdir(parents=True, exist_ok=True)
            stem = f"scene_{index:05d}"
            cv2.imwrite(str(root / "images" / split / f"{stem}.jpg"), image[..., ::-1])
            indices = lookup[label]
            mask = Image.frombytes("P", indices.shape[::-1], indices.tobytes())
            mask.putpalette(palette)
            mask.save(root / "masks" / split / f"{stem}.png")

    return ensure_generated(
        root, "street_scenes/folder", GENERATOR_VERSION, cfg, ("images", "masks"), write
    )
