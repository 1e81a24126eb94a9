"""Augmentation: vectorised, seeded warps that keep digits recognisable, as a function and as a
training-only layer."""
import numpy as np
import pytest

import barenet as bn


@pytest.fixture
def images(rng):
    imgs = np.zeros((16, 28, 28), dtype=np.float32)
    imgs[:, 8:20, 10:18] = rng.uniform(0.5, 1.0, size=(16, 12, 8))
    return imgs


def test_no_transformation_is_exactly_the_identity(images):
    out = bn.random_affine(images, 0, shift=0, rotation=0, scale=0)
    np.testing.assert_array_equal(out, images)


def test_an_integer_shift_moves_pixels_and_fills_with_black(images):
    # shift=1 draws shifts in [-1, 1]; with rotation and zoom off, whole-pixel moves are exact
    out = bn.random_affine(images, np.random.default_rng(0), shift=1e-9, rotation=0, scale=0)
    np.testing.assert_allclose(out, images, atol=1e-6)
    shifted = np.zeros_like(images)
    shifted[:, :, 1:] = images[:, :, :-1]
    from barenet.core.augment import _bilinear
    h, w = 28, 28
    rows, cols = np.mgrid[0:h, 0:w]
    src_x = np.tile(cols.ravel() - 1.0, (16, 1))
    src_y = np.tile(rows.ravel() * 1.0, (16, 1))
    np.testing.assert_allclose(_bilinear(images, src_x, src_y).reshape(images.shape), shifted)


@pytest.mark.parametrize("shift", [0.0, 1e-12])  # 0: the exact mirror; 1e-12: the same through the warp
def test_mirroring_reverses_the_columns_of_about_half_the_images(images, shift):
    images = images + np.linspace(0, 0.3, 28, dtype=np.float32)  # left and right now differ
    before = images.copy()
    out = bn.random_affine(images, 3, shift=shift, rotation=0, scale=0, flip=True)
    mirrored = np.array([np.allclose(o, i[:, ::-1], atol=1e-6) for o, i in zip(out, images)])
    kept = np.array([np.allclose(o, i, atol=1e-6) for o, i in zip(out, images)])
    assert np.all(mirrored ^ kept) and 3 <= mirrored.sum() <= 13
    np.testing.assert_array_equal(out, bn.random_affine(images, 3, shift=shift, rotation=0, scale=0, flip=True))
    assert out.dtype == images.dtype
    np.testing.assert_array_equal(images, before)  # the input is untouched


def _moved(image, dy, dx):
    """``image`` moved down dy and right dx whole pixels, black coming in (written independently)."""
    h, w = image.shape
    out = np.zeros_like(image)
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = image[max(-dy, 0):h - max(dy, 0),
                                                                      max(-dx, 0):w - max(dx, 0)]
    return out


@pytest.mark.parametrize("flip", [False, True])
def test_whole_pixel_shifts_are_a_padded_random_crop_read_exactly(rng, flip):
    images = rng.uniform(0.1, 1.0, size=(400, 9, 7)).astype(np.float32)  # no two moves look alike
    out = bn.random_affine(images, 5, shift=2.7, rotation=0, scale=0, flip=flip, whole_pixels=True)
    assert out.dtype == images.dtype and out.shape == images.shape
    seen = set()
    for o, i in zip(out, images):
        found = [(dy, dx, m) for dy in range(-2, 3) for dx in range(-2, 3) for m in ((False, True) if flip else (False,))
                 if np.array_equal(o, _moved(i[:, ::-1] if m else i, dy, dx))]
        assert len(found) == 1, found  # exactly one whole-pixel move (and mirror): no interpolation
        seen.add(found[0])
    assert len(seen) == 25 * (2 if flip else 1)  # every move up to ±2 (floor of 2.7) each way, and no larger
    np.testing.assert_array_equal(out, bn.random_affine(images, 5, shift=2.7, rotation=0, scale=0, flip=flip,
                                                        whole_pixels=True))


def test_whole_pixel_shifts_under_a_rotation_still_interpolate_and_are_seeded(images):
    a = bn.random_affine(images, 2, shift=2, rotation=10, scale=0, whole_pixels=True)
    assert np.array_equal(a, bn.random_affine(images, 2, shift=2, rotation=10, scale=0, whole_pixels=True))
    assert a.dtype == np.float32 and not np.allclose(a, images) and 0 <= a.min() and a.max() <= 1


def test_warps_are_seeded_bounded_and_keep_most_of_the_ink(images):
    a = bn.random_affine(images, 7, shift=2, rotation=15, scale=0.1, elastic_alpha=8, elastic_sigma=3)
    b = bn.random_affine(images, 7, shift=2, rotation=15, scale=0.1, elastic_alpha=8, elastic_sigma=3)
    c = bn.random_affine(images, 8, shift=2, rotation=15, scale=0.1, elastic_alpha=8, elastic_sigma=3)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.dtype == np.float32 and a.shape == images.shape and a.min() >= 0 and a.max() <= 1
    ink = a.sum(axis=(1, 2)) / images.sum(axis=(1, 2))
    assert np.all((ink > 0.75) & (ink < 1.3))
    assert not np.allclose(a, images)


def test_random_affine_layer_augments_only_while_training(images):
    flat = images.reshape(16, -1)
    model = bn.Sequential(bn.RandomAffine((28, 28), shift=2, rotation=10), bn.Dense(784, 10), seed=0)
    layer = model.layers[0]
    assert layer.rng is model.rng
    np.testing.assert_array_equal(layer.forward(flat, training=False), flat)
    assert not np.allclose(layer.forward(flat, training=True), flat)
    y = np.arange(16) % 10
    model.fit(flat, y, loss="cross_entropy", epochs=2, batch_size=8, verbose=0)  # trains through it
    with pytest.raises(ValueError, match="expects 784 features"):
        bn.Sequential(bn.Dense(10, 100), bn.RandomAffine((28, 28)))


def test_random_affine_layer_shows_the_settings_it_changes_and_its_repr_builds_it_again():
    layer = bn.RandomAffine((28, 28), shift=2, rotation=0, scale=0, flip=True, whole_pixels=True)
    assert repr(layer) == "RandomAffine((28, 28), rotation=0.0, scale=0.0, flip=True, whole_pixels=True)"
    assert eval(repr(layer), {"RandomAffine": bn.RandomAffine}).get_config() == layer.get_config()
    assert repr(bn.RandomAffine((8, 8))) == "RandomAffine((8, 8))"


def test_random_affine_rejects_bad_settings():
    with pytest.raises(ValueError, match="rotation"):
        bn.RandomAffine(rotation=-1)
    with pytest.raises(ValueError, match="image_shape"):
        bn.RandomAffine(image_shape=(28,))
    with pytest.raises(TypeError, match="whole_pixels must be True or False"):
        bn.RandomAffine(whole_pixels="yes")
    images = np.zeros((2, 8, 8), dtype=np.float32)  # the function checks as the layer does
    for bad, error in ((dict(whole_pixels="yes"), TypeError), (dict(shift=-1), ValueError),
                       (dict(shift=float("nan")), ValueError), (dict(scale=1.5), ValueError)):
        name = next(iter(bad))
        with pytest.raises(error, match=f"^{name} must be"):
            bn.random_affine(images, 0, **bad)
