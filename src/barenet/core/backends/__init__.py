"""The backends' classes: the NumPy reference, the fused numba loops, CuPy and its strict stand-in."""
