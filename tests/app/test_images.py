"""MNIST-style preparation of digit pictures: the properties MNIST's digits have."""
import io

import numpy as np
import pytest

from barenet.app.images import (MAX_PIXELS, SILHOUETTE_FILL, prepare_digit, prepare_silhouette, read_image,
                                stroke_width)

Image = pytest.importorskip("PIL.Image")
ImageDraw = pytest.importorskip("PIL.ImageDraw")


def _drawn(size=(400, 300), box=(60, 50, 160, 250), width=6, ink=0, paper=255):
    image = Image.new("L", size, paper)
    draw = ImageDraw.Draw(image)
    x0, y0, x1, y1 = box
    draw.line([(x0, y0), (x1, y0), ((x0 + x1) // 2, y1)], fill=ink, width=width)  # a 7
    return image


def _png(image):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_prepared_digits_look_like_mnist_digits():
    out = prepare_digit(_png(_drawn()))
    assert out.shape == (28, 28) and out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1
    rows, cols = np.flatnonzero(out.max(1) > 0.1), np.flatnonzero(out.max(0) > 0.1)
    assert max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1) in (19, 20, 21)  # the longer side fills 20 px
    total = out.sum()
    cy, cx = (out.sum(1) * np.arange(28)).sum() / total, (out.sum(0) * np.arange(28)).sum() / total
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5
    assert 2.0 <= stroke_width(out > 0.5) <= 3.8  # MNIST's range


def _similarity(a, b):
    """Correlation after a 3×3 box blur: one-pixel offsets of thin strokes do not count."""
    def blur(x):
        padded = np.pad(x, 1)
        return sum(padded[i:i + 28, j:j + 28] for i in range(3) for j in range(3))
    return np.corrcoef(blur(a).ravel(), blur(b).ravel())[0, 1]


def test_polarity_position_size_and_stroke_width_do_not_matter():
    reference = prepare_digit(_png(_drawn()))
    variants = [
        _drawn(ink=255, paper=0),                                   # white on black
        _drawn(size=(1200, 1100), box=(850, 450, 1150, 1050), width=18),  # big, off in a corner
        _drawn(size=(120, 120), box=(10, 10, 40, 70), width=2),       # small and thin
        _drawn(width=30),                                           # a fat marker
    ]
    for image in variants:
        assert _similarity(prepare_digit(_png(image)), reference) > 0.85


def test_a_transparent_canvas_is_read_from_its_alpha_channel():
    rgba = Image.new("RGBA", (300, 300), (0, 0, 0, 0))
    ImageDraw.Draw(rgba).line([(80, 60), (220, 60), (150, 250)], fill=(20, 20, 200, 255), width=10)
    out = prepare_digit(_png(rgba))
    gray = prepare_digit(_png(_drawn(size=(300, 300), box=(80, 60, 220, 250), width=10)))
    assert np.corrcoef(out.ravel(), gray.ravel())[0, 1] > 0.95


def test_arrays_of_grey_levels_are_accepted_and_an_empty_picture_is_black():
    array = np.asarray(_drawn(ink=255, paper=0))
    np.testing.assert_allclose(prepare_digit(array), prepare_digit(_png(_drawn())), atol=1e-6)
    assert not prepare_digit(np.zeros((50, 50), np.uint8)).any()
    assert prepare_digit(np.full((50, 50), 255, np.uint8)).sum() == 0


def test_the_small_8x8_variant_fills_its_frame():
    out = prepare_digit(_png(_drawn()), size=8)
    assert out.shape == (8, 8) and out.max() <= 1 and out[:, :].any(axis=1).all()
    with pytest.raises(ValueError, match="size must be 28"):
        prepare_digit(np.zeros((5, 5)), size=16)


def test_bad_pictures_raise_value_error():
    with pytest.raises(ValueError, match="not a readable image"):
        read_image(b"not an image at all")
    with pytest.raises(ValueError, match="2-D array"):
        read_image(np.zeros((2, 2, 2, 2)))
    with pytest.raises(ValueError, match="NaN"):
        read_image(np.full((4, 4), np.nan))


@pytest.mark.parametrize("side", [8_000, 100_000])
def test_a_picture_declaring_huge_dimensions_is_refused_before_decoding(side):
    import struct
    import zlib
    header = _png(Image.new("L", (10, 10)))
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)  # a forged header: side × side pixels
    forged = header[:16] + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)) + header[33:]
    with pytest.raises(ValueError, match=f"image refused: it declares .*more than {MAX_PIXELS:,}"):
        read_image(forged)


def _outline(points, closed=True, size=280, width=10):
    from PIL import Image, ImageDraw
    image = Image.new("L", (size, size), 255)
    ImageDraw.Draw(image).line(points + points[:1] if closed else points, fill=0, width=width)
    return np.asarray(image)


def test_a_drawn_outline_becomes_a_filled_silhouette_as_tall_as_fashion_mnists():
    tall = prepare_silhouette(_outline([(100, 20), (180, 20), (180, 260), (100, 260)]))  # trousers, say
    rows, cols = np.flatnonzero(tall.max(axis=1) > 0.1), np.flatnonzero(tall.max(axis=0) > 0.1)
    assert (rows[0], rows[-1]) == (0, 27)  # the longer side is 28 pixels
    assert abs((cols[0] + cols[-1]) / 2 - 13.5) <= 0.5  # the box is centred
    assert np.isclose(tall[14, 14], SILHOUETTE_FILL) and tall[14, 14] == tall[10:18, 13:15].min()


def test_an_open_stroke_is_not_filled_and_a_blank_picture_is_black():
    open_shape = prepare_silhouette(_outline([(40, 40), (240, 40), (240, 240), (40, 240)], closed=False))
    closed_shape = prepare_silhouette(_outline([(40, 40), (240, 40), (240, 240), (40, 240)]))
    assert open_shape[14, 14] == 0 and np.isclose(closed_shape[14, 14], SILHOUETTE_FILL)
    assert not prepare_silhouette(np.full((50, 50), 255, np.uint8)).any()


def test_the_silhouette_does_not_depend_on_polarity():
    picture = _outline([(60, 30), (220, 30), (200, 250), (80, 250)])
    np.testing.assert_array_equal(prepare_silhouette(picture), prepare_silhouette(255 - picture))
