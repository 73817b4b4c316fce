"""Small pieces of math shared by several schedules."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def div(numerator: jax.Array, denominator: jax.Array) -> jax.Array:
    """``numerator / denominator``, as IEEE division rounds it where the
    denominator is traced.

    XLA divides an array by a scalar (a schedule evaluated at many steps at once)
    through the scalar's reciprocal, up to an ulp off (``49 * (1/49) =
    0.99999994``). One correction with the remainder ``n - q d`` gives the
    rounded quotient back; where XLA folds a constant denominator into the
    product, the correction folds away with it (see :func:`progress`). An
    infinite quotient, or an infinite denominator, is left as it is.
    """
    quotient = numerator / denominator
    remainder = numerator - quotient * denominator
    return jnp.where(
        jnp.isfinite(remainder), quotient + remainder / denominator, quotient
    )


def progress(elapsed: jax.Array, total: jax.Array) -> jax.Array:
    """``elapsed / total`` (:func:`div`), exactly 1 from ``total`` on, also where
    XLA folds the division into a multiplication by a constant reciprocal: the
    decays built on it (``cosine_decay``, ``polynomial_decay``) hold their end
    value exactly from ``total`` on, where a power below 1 would magnify an ulp
    left over (``polynomial_decay(power=0.5)`` held 1.5e-5 instead of 0).
    """
    return jnp.where(elapsed < total, div(elapsed, total), 1.0)


def safe_div(numerator: jax.Array, denominator: jax.Array) -> jax.Array:
    """:func:`div`, and 0 where the denominator is 0.

    Used where a zero length (``warmup_steps=0``) selects another branch of a
    ``jnp.where``: the unselected branch must stay finite, or its NaN leaks into
    gradients.
    """
    is_zero = denominator == 0
    return jnp.where(is_zero, 0.0, div(numerator, jnp.where(is_zero, 1.0, denominator)))


def floor_div(numerator: jax.Array, denominator: jax.Array) -> jax.Array:
    r""":math:`\lfloor n / d \rfloor` for :math:`d > 0`, exact at multiples of ``d``.

    XLA may divide by a shared divisor through its reciprocal, one ulp low
    (``49 / 49 = 0.99999...``), so a plain floor would put a staircase's step one
    step late. The quotient is corrected so that :math:`q d \le n < (q + 1) d`,
    as torch's ``k // step_size``.
    """
    q = jnp.floor(numerator / denominator)
    q = jnp.where(q * denominator > numerator, q - 1, q)
    return jnp.where((q + 1) * denominator <= numerator, q + 1, q)


def cosine_anneal(start: jax.Array, end: jax.Array, progress: jax.Array) -> jax.Array:
    r"""Half a cosine from ``start`` (progress 0) to ``end`` (progress 1).

    .. math:: e + \frac{s - e}{2} \left(1 + \cos(\pi p)\right)
    """
    return end + (start - end) / 2 * (jnp.cos(jnp.pi * progress) + 1)


def linear_anneal(start: jax.Array, end: jax.Array, progress: jax.Array) -> jax.Array:
    r"""A straight line from ``start`` (progress 0) to ``end`` (progress 1)."""
    return (end - start) * progress + start
