"""Preparing an ordinary picture of a digit the way MNIST's digits were prepared.

Networks trained on MNIST read drawn or photographed digits badly unless those are brought into
MNIST's form first. ``prepare_digit`` does it, and is the only implementation: ``barenet predict``
and the web page (which sends the raw drawing to the server) both use it.

1. Grey levels become an ink map, white ink on black (a dark-on-light picture is inverted; a
   transparent canvas uses its alpha channel), with the background level removed.
2. The picture is cropped to the ink.
3. Strokes are thickened or thinned so that their width, measured as 2·area/perimeter, matches
   MNIST's median (2.85 pixels at 28×28) once the digit is scaled down.
4. The digit is scaled, keeping its aspect ratio, so that its longer side is 20 pixels, with
   anti-aliasing (area averaging), which gives MNIST's grey edges.
5. It is placed in a 28×28 field and shifted so that its centre of mass is at (14, 14), where
   MNIST's digits have theirs.

``prepare_silhouette`` does the same for Fashion-MNIST's pictures of clothes, which are filled
silhouettes whose box, not whose centre of mass, is centred: it fills what a drawn outline
encloses and scales the longer side to 28 pixels. The exported web page runs both in JavaScript
(static/prepare.js), step for step, and a browser test holds the two equal.

Reading image files needs Pillow: ``pip install "barenet[image]"``.
"""
from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np

__all__ = ["no_digit_reason", "read_image", "prepare_digit", "prepare_silhouette", "stroke_width", "has_ink", "MAX_PIXELS",
           "MAX_SIDE"]

MAX_PIXELS = 40_000_000  # larger pictures are refused before they are decoded
MAX_SIDE = 8192          # and so are longer ones: a 4,000,000×1 strip has few pixels but costs a lot
MNIST_STROKE = 2.85      # median 2·area/perimeter of MNIST digits at 28×28
MNIST_CENTRE = 14.0      # MNIST's mean centre of mass, in pixels from the top-left pixel
WORK = 4                 # strokes are adjusted at 4× the final resolution
SILHOUETTE_FILL = 0.7    # Fashion-MNIST's median ink level: what a drawn outline encloses gets it


def _pil():
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("reading images needs Pillow: pip install 'barenet[image]'") from None
    return Image


def read_image(source, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Return an ink map in [0, 1] (float32, 2-D) from a file path, bytes, a PIL image or an array.

    Colour is reduced to luminance; a picture with transparent pixels is read from its alpha
    channel (ink = opacity). Arrays are taken as grey levels: uint8 0-255 or floats 0-1.

    Parameters
    ----------
    source : str, Path, bytes, PIL.Image.Image or numpy.ndarray
        The picture.
    max_pixels : int, default 40,000,000
        Larger pictures are refused before they are decoded (and so are ones with a side over
        ``MAX_SIDE``).

    Raises
    ------
    ValueError
        For anything that is not a readable picture, or is too large.
    """
    Image = _pil() if not isinstance(source, np.ndarray) else None
    if isinstance(source, np.ndarray):
        array = np.asarray(source)
        if array.ndim != 2 or array.size == 0 or array.dtype.kind not in "uif":
            raise ValueError(f"a digit image must be a non-empty 2-D array of grey levels, got shape {array.shape}")
        array = array.astype(np.float32)
        if not np.isfinite(array).all():
            raise ValueError("the image contains NaN or infinity")
        return array / 255.0 if source.dtype.kind in "ui" or array.max() > 1.0 else array
    if isinstance(source, (str, Path)):
        source = Path(source).read_bytes()
    if isinstance(source, (bytes, bytearray)):
        try:
            image = Image.open(io.BytesIO(source))
        except Image.DecompressionBombError:
            raise ValueError(f"image refused: it declares more than {max_pixels:,} pixels") from None
        except Exception as error:  # Pillow raises many kinds for undecodable data
            if type(error).__name__ == "UnidentifiedImageError":
                raise ValueError("not a readable image: Pillow recognises no picture format in it "
                                 "(PNG, JPEG, GIF, BMP, TIFF, WebP, ...)") from None
            raise ValueError(f"not a readable image ({type(error).__name__}: {_without_buffer(error)})") from None
    else:
        image = source
    width, height = image.size
    if width * height > max_pixels or width < 1 or height < 1:
        raise ValueError(f"image refused: it declares {width}×{height} pixels, more than {max_pixels:,}")
    if max(width, height) > MAX_SIDE:
        raise ValueError(f"image refused: it declares {width}×{height} pixels, a side longer than {MAX_SIDE:,}")
    try:
        from PIL import ImageOps
        image = ImageOps.exif_transpose(image)
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255.0
            if rgba[..., 3].min() < 0.98:  # a transparent canvas: the strokes are its opaque part
                return rgba[..., 3]
        return np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    except Exception as error:
        raise ValueError(f"could not decode the image ({type(error).__name__}: {_without_buffer(error)})") from None


def _without_buffer(error) -> str:
    """Pillow's message without the ``<_io.BytesIO object at 0x…>`` it names the data by."""
    return re.sub(r"<_io\.BytesIO object at 0x[0-9a-fA-F]+>", "the data", str(error))


def has_ink(image: np.ndarray) -> bool:
    """Return whether a prepared image shows anything.

    ``prepare_digit`` gives an all-black image for a blank picture, and a model's answer about it
    means nothing.
    """
    return bool(np.asarray(image).max() > 0.1)


def no_digit_reason(source, image: np.ndarray, invert: bool | None = None, max_pixels: int = MAX_PIXELS):
    """Return why ``image``, prepared from ``source``, shows no digit (None where it shows one).

    The picture is blank, or what is on it vanishes at 28×28 (a chart's one-pixel grid lines).
    ``invert`` and ``max_pixels`` as for ``prepare_digit``.
    """
    if has_ink(image):
        return None
    if _ink_map(read_image(source, max_pixels), invert) is None:
        return "no ink found: the picture is blank"
    return "no digit found: the marks on the picture are too thin or too faint to survive scaling to 28×28"


def stroke_width(mask: np.ndarray) -> float:
    """Return the mean stroke width of a binary mask, 2·area/perimeter (exact for long thin strokes)."""
    area = int(mask.sum())
    if area == 0:
        return 0.0
    padded = np.pad(mask, 1)
    interior = padded[1:-1, 1:-1] & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return 2.0 * area / max(int((mask & ~interior).sum()), 1)


def _disk_filter(image, radius, reduce):
    """Grey dilation (reduce=np.maximum) or erosion (np.minimum) by a disk of ``radius`` pixels."""
    padded = np.pad(image, radius, constant_values=0.0)
    out = image.copy()
    h, w = image.shape
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            if dx * dx + dy * dy <= radius * radius:
                reduce(out, padded[radius + dy:radius + dy + h, radius + dx:radius + dx + w], out=out)
    return out


def _resize(image, height, width):
    """Resize by area averaging (anti-aliased when shrinking), through Pillow's 32-bit float mode.

    The two passes are asked of Pillow one at a time, rows first, because Pillow 13 picks their
    order by the picture's shape, and the order changes the last bit of the result: fixing it
    keeps the result the same under every Pillow, and lets the browser's copy equal it.
    """
    Image = _pil()
    shrinking = height < image.shape[0] or width < image.shape[1]
    resampling = Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR
    picture = Image.fromarray(np.ascontiguousarray(image, dtype=np.float32), mode="F")
    resized = picture.resize((width, picture.height), resampling).resize((width, height), resampling)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)


def _ink_map(grey, invert):
    """Return white ink on black, background removed, scaled so the darkest ink is 1 (None: no ink)."""
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    background = float(np.median(border))
    if invert is None:
        invert = background > 0.5
    ink = 1.0 - grey if invert else grey
    background = 1.0 - background if invert else background
    ink = np.clip(ink - background, 0.0, None)
    peak = float(ink.max())
    if peak < 0.05:
        return None
    ink /= peak
    ink[ink < 0.1] = 0.0  # paper texture and sensor noise
    return ink


def prepare_digit(source, *, invert: bool | None = None, adjust_strokes: bool = True, size: int = 28,
                  max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Return a (28, 28) float32 image in [0, 1], white on black, prepared like MNIST's digits.

    The steps are the module's. An empty picture gives an all-black image.

    Parameters
    ----------
    source
        Anything ``read_image`` takes.
    invert : bool, optional
        Force the polarity; None decides from the border (dark-on-light pictures are inverted).
    adjust_strokes : bool, default True
        Thicken or thin the strokes to MNIST's width.
    size : {28, 8}, default 28
        8 gives instead an 8×8 image like scikit-learn's small digits, whose ink fills the frame.
    max_pixels : int
        As for ``read_image``.
    """
    if size not in (28, 8):
        raise ValueError(f"size must be 28 (MNIST) or 8 (the 8×8 digits), got {size!r}")
    ink = _ink_map(read_image(source, max_pixels), invert)
    if ink is None:
        return np.zeros((size, size), dtype=np.float32)
    if size == 8:
        return _small_digit(ink)
    work = _fit(_crop(ink), 20 * WORK)  # work at 4× the final size: strokes are adjusted there
    if adjust_strokes:
        width = stroke_width(work > 0.5)
        target = MNIST_STROKE * WORK
        if 0 < width < 0.75 * target:
            work = _disk_filter(work, max(1, round((target - width) / 2)), np.maximum)
        elif width > 1.4 * target:
            thinner = _disk_filter(work, max(1, round((width - target) / 2)), np.minimum)
            work = thinner if thinner.max() > 0.5 else work
        work = _crop(work)  # thicker or thinner strokes change the extent: fill the box again
    out = _centred(_fit(work, 20))
    # Shift the centre of mass to MNIST's, by whole pixels (as the originals were).
    total = out.sum()
    cy = (out.sum(axis=1) * np.arange(28)).sum() / total
    cx = (out.sum(axis=0) * np.arange(28)).sum() / total
    return _shift(out, int(round(MNIST_CENTRE - cy)), int(round(MNIST_CENTRE - cx)))


def prepare_silhouette(source, *, invert: bool | None = None, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Return a (28, 28) float32 image in [0, 1], white on black, prepared like Fashion-MNIST's pictures.

    From a drawing of a piece of clothing: cropped to the ink, what the outline encloses filled
    (Fashion-MNIST's clothes are filled silhouettes), the longer side scaled to 28 pixels with
    anti-aliasing, the box centred in 28×28. ``source``, ``invert`` and ``max_pixels`` as for
    ``prepare_digit``.
    """
    ink = _ink_map(read_image(source, max_pixels), invert)
    if ink is None:
        return np.zeros((28, 28), dtype=np.float32)
    return _centred(_fit(_fill_outline(_fit(_crop(ink), 28 * WORK)), 28))


def _fit(image, side):
    """Return the image scaled, keeping the aspect ratio, so that the longer side is ``side`` pixels."""
    h, w = image.shape
    scale = side / max(h, w)
    return _resize(image, max(1, round(h * scale)), max(1, round(w * scale)))


def _centred(image):
    """Return the image in the middle of a black 28×28 field."""
    out = np.zeros((28, 28), dtype=np.float32)
    h, w = image.shape
    top, left = (28 - h) // 2, (28 - w) // 2
    out[top:top + h, left:left + w] = image
    return out


def _fill_outline(ink):
    """Fill with SILHOUETTE_FILL the pixels without ink that the border cannot reach.

    Through other pixels without ink (4-connected): what a closed outline encloses.
    """
    free = ~(ink > 0.1)
    reached = np.zeros_like(free)
    h, w = free.shape
    stack = [(y, x) for y in range(h) for x in (0, w - 1)] + [(y, x) for x in range(w) for y in (0, h - 1)]
    while stack:
        y, x = stack.pop()
        if 0 <= y < h and 0 <= x < w and free[y, x] and not reached[y, x]:
            reached[y, x] = True
            stack += [(y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)]
    return np.where(free & ~reached, np.float32(SILHOUETTE_FILL), ink)


def _crop(ink):
    """Return the smallest rectangle holding all the ink (pixels above 0.1)."""
    rows, cols = np.flatnonzero((ink > 0.1).any(axis=1)), np.flatnonzero((ink > 0.1).any(axis=0))
    return ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1] if rows.size else ink


def _small_digit(ink):
    """Return an 8×8 digit like scikit-learn's: cropped to the ink, the longer side scaled to fill the frame."""
    ink = _crop(ink)
    h, w = ink.shape
    scale = 32 / max(h, w)  # their 32×32 bitmaps were counted in 4×4 blocks
    big = np.zeros((32, 32), dtype=np.float32)
    hh, ww = max(1, round(h * scale)), max(1, round(w * scale))
    top, left = (32 - hh) // 2, (32 - ww) // 2
    big[top:top + hh, left:left + ww] = _resize(ink, hh, ww) > 0.3
    return big.reshape(8, 4, 8, 4).mean(axis=(1, 3)).astype(np.float32)


def _shift(image, dy, dx):
    """Return the image moved by whole pixels, filled with black."""
    out = np.zeros_like(image)
    h, w = image.shape
    src_rows = slice(max(0, -dy), min(h, h - dy))
    dst_rows = slice(max(0, dy), min(h, h + dy))
    src_cols = slice(max(0, -dx), min(w, w - dx))
    dst_cols = slice(max(0, dx), min(w, w + dx))
    out[dst_rows, dst_cols] = image[src_rows, src_cols]
    return out
