"""Synthetic "drawn" digits: what a user's canvas sends, to measure how well drawings are read.

Each digit is a few pen strokes through control points (several styles per digit: a 1 with and
without a flag, an open and a closed 4, ...), smoothed into curves, jittered point by point,
slanted, rotated and stretched, then drawn with a round pen of random width at a random size and
position on a 280×280 white canvas, as a person drawing with a mouse or a finger would.
Needs Pillow.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["make_drawn_digits", "DIGIT_STROKES"]


def _ellipse(cx, cy, rx, ry, start=-90.0, sweep=360.0, points=20):
    angles = np.deg2rad(start + np.linspace(0.0, sweep, points))
    return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in angles]


# Strokes per style, in a unit box (x to the right, y down); each list of points is one stroke.
DIGIT_STROKES = {
    0: [[_ellipse(0.5, 0.5, 0.32, 0.46)],
        [_ellipse(0.5, 0.5, 0.26, 0.46, start=-120, sweep=380)]],
    1: [[[(0.5, 0.03), (0.5, 0.97)]],
        [[(0.3, 0.22), (0.55, 0.03), (0.55, 0.97)]],
        [[(0.32, 0.2), (0.55, 0.03), (0.55, 0.97)], [(0.3, 0.97), (0.8, 0.97)]]],
    2: [[[(0.18, 0.28), (0.3, 0.08), (0.55, 0.03), (0.78, 0.14), (0.8, 0.36), (0.6, 0.58), (0.35, 0.78),
          (0.15, 0.96), (0.5, 0.95), (0.88, 0.95)]],
        [[(0.2, 0.22), (0.45, 0.04), (0.75, 0.12), (0.72, 0.4), (0.2, 0.95), (0.85, 0.93)]]],
    3: [[[(0.2, 0.12), (0.45, 0.03), (0.75, 0.1), (0.77, 0.32), (0.5, 0.47), (0.4, 0.48), (0.55, 0.5),
          (0.8, 0.64), (0.8, 0.85), (0.52, 0.97), (0.18, 0.88)]],
        [[(0.2, 0.05), (0.8, 0.05), (0.45, 0.42), (0.78, 0.58), (0.78, 0.84), (0.5, 0.97), (0.2, 0.87)]]],
    4: [[[(0.68, 0.97), (0.68, 0.03), (0.12, 0.66), (0.9, 0.66)]],
        [[(0.25, 0.03), (0.16, 0.56), (0.86, 0.56)], [(0.68, 0.12), (0.66, 0.97)]]],
    5: [[[(0.82, 0.04), (0.28, 0.04), (0.22, 0.44), (0.48, 0.36), (0.76, 0.48), (0.8, 0.74), (0.56, 0.96),
          (0.18, 0.88)]],
        [[(0.28, 0.04), (0.22, 0.44), (0.5, 0.38), (0.78, 0.55), (0.72, 0.86), (0.45, 0.97), (0.18, 0.86)],
         [(0.26, 0.05), (0.84, 0.05)]]],
    6: [[[(0.72, 0.04), (0.42, 0.2), (0.24, 0.52), (0.24, 0.82), (0.48, 0.97), (0.74, 0.86), (0.76, 0.64),
          (0.52, 0.5), (0.26, 0.62)]],
        [[(0.65, 0.03), (0.3, 0.4), (0.22, 0.75), (0.45, 0.97), (0.72, 0.82), (0.62, 0.55), (0.3, 0.62)]]],
    7: [[[(0.12, 0.06), (0.88, 0.06), (0.42, 0.97)]],
        [[(0.12, 0.1), (0.86, 0.04), (0.55, 0.5), (0.4, 0.97)], [(0.4, 0.5), (0.78, 0.5)]],
        [[(0.14, 0.2), (0.2, 0.05), (0.86, 0.05), (0.5, 0.97)]]],
    8: [[_ellipse(0.5, 0.26, 0.24, 0.22, start=90, sweep=360), _ellipse(0.5, 0.72, 0.3, 0.25, start=-90, sweep=360)],
        [[(0.72, 0.12), (0.5, 0.03), (0.25, 0.15), (0.3, 0.38), (0.72, 0.62), (0.75, 0.88), (0.5, 0.97),
          (0.24, 0.88), (0.28, 0.62), (0.7, 0.36), (0.74, 0.14)]]],
    9: [[_ellipse(0.48, 0.3, 0.28, 0.26, start=0, sweep=360), [(0.76, 0.3), (0.74, 0.6), (0.66, 0.97)]],
        [[(0.76, 0.24), (0.5, 0.05), (0.24, 0.18), (0.26, 0.45), (0.52, 0.52), (0.76, 0.3), (0.74, 0.97)]]],
}


def _smooth(points, per_segment=8):
    """Return a Catmull-Rom curve through the points (polylines with sharp corners stay sharp enough)."""
    p = np.asarray(points, dtype=np.float64)
    if len(p) < 3:
        return p
    padded = np.vstack([p[0], p, p[-1]])
    t = np.linspace(0.0, 1.0, per_segment, endpoint=False)[:, None]
    curve = []
    for i in range(1, len(padded) - 2):
        p0, p1, p2, p3 = padded[i - 1], padded[i], padded[i + 1], padded[i + 2]
        curve.append(0.5 * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t ** 2
                            + (-p0 + 3 * p1 - 3 * p2 + p3) * t ** 3))
    curve.append(p[-1:])
    return np.vstack(curve)


def make_drawn_digits(n: int = 500, seed=None, canvas: int = 280, width_range=(4, 30)):
    """Return ``n`` drawings of digits and their labels, as a canvas would send them.

    Parameters
    ----------
    n : int, default 500
        How many (the labels cycle through 0-9, shuffled).
    seed : int, optional
        Seeds everything drawn.
    canvas : int, default 280
        The canvas's side, in pixels.
    width_range : (float, float), default (4, 30)
        The pen's width is drawn from it.

    Returns
    -------
    images : numpy.ndarray of uint8 (n, canvas, canvas)
        Black ink on white.
    labels : numpy.ndarray of int64 (n,)
    """
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    rng.shuffle(labels)
    images = np.empty((n, canvas, canvas), dtype=np.uint8)
    for k, digit in enumerate(labels):
        styles = DIGIT_STROKES[int(digit)]
        strokes = styles[rng.integers(len(styles))]
        angle = math.radians(rng.uniform(-12, 12))
        slant = rng.uniform(-0.25, 0.1)
        stretch = np.array([rng.uniform(0.65, 1.05), rng.uniform(0.85, 1.05)])
        rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
        shear = np.array([[1.0, slant], [0.0, 1.0]])
        paths = []
        for stroke in strokes:
            points = np.asarray(stroke) + rng.normal(0.0, 0.02, size=(len(stroke), 2))
            path = (_smooth(points) - 0.5) * stretch @ shear.T @ rotation.T
            paths.append(path)
        everything = np.vstack(paths)
        low, high = everything.min(axis=0), everything.max(axis=0)
        height = rng.uniform(0.3, 0.85) * canvas  # the digit's height on the canvas
        scale = height / max(high[1] - low[1], 1e-6)
        size = (high - low) * scale
        pen = float(rng.uniform(*width_range))
        room = np.maximum(canvas - size - pen - 4, 1)
        offset = rng.uniform(0, 1, 2) * room + pen / 2 + 2 - low * scale
        image = Image.new("L", (canvas, canvas), 255)
        draw = ImageDraw.Draw(image)
        for path in paths:
            xy = [tuple(q) for q in path * scale + offset]
            draw.line(xy, fill=0, width=int(round(pen)), joint="curve")
            for x, y in (xy[0], xy[-1]):  # round pen ends
                draw.ellipse([x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2], fill=0)
        images[k] = np.asarray(image)
    return images, labels.astype(np.int64)
