"""Small pieces of math shared by several schedules."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def safe_div(numerator: jax.Array, denominator: jax.Array) -> jax.Array:
    """``numerator / denominator``, and 0 where the denominator is 0.

    Used where a zero length (``warmup_steps=0``) selects another branch of a
    ``jnp.where``: the unselected branch must stay finite, or its NaN leaks into
    gradients.
    """
    is_zero = denominator == 0
    return jnp.where(is_zero, 0.0, numerator / jnp.where(is_zero, 1.0, denominator))


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
