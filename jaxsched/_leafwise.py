"""Leaf-by-leaf application of an update rule, and the dtypes it computes in."""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

INT32_MAX = jnp.iinfo(jnp.int32).max


def zero_count() -> jax.Array:
    return jnp.zeros([], jnp.int32)


def increment(count: jax.Array) -> jax.Array:
    """``count + 1``, saturating at the largest int32 instead of wrapping."""
    return jnp.where(count < INT32_MAX, count + 1, INT32_MAX)


def wider(*dtypes: jnp.dtype) -> jnp.dtype:
    """The narrowest float type that holds every one of ``dtypes`` (bf16, f32 -> f32).

    Chosen on purpose, so it is computed under standard promotion even where the
    user runs strict promotion.
    """
    with jax.numpy_dtype_promotion("standard"):
        return functools.reduce(jnp.promote_types, dtypes)


def zeros_like_params(params: optax.Params, hparam_dtype: jnp.dtype) -> optax.Params:
    """Zero buffers, at least as wide as the hyperparameters (f32 for bf16 params)."""
    return jax.tree.map(
        lambda p: jnp.zeros(jnp.shape(p), wider(jnp.result_type(p), hparam_dtype)),
        params,
    )


def per_leaf(
    rule: Callable[..., tuple[jax.Array, ...]],
    scalars: dict[str, jax.Array],
    updates: optax.Updates,
    *trees: optax.Updates,
) -> tuple[optax.Updates, ...]:
    """Applies ``rule(g, *leaves, **scalars) -> (u, *new_buffers)`` leaf by leaf.

    ``scalars`` are the hyperparameters' values at this step and anything derived
    from them once per update (bias corrections). Each leaf is computed in the
    wider of its own dtypes and the scalars' (float32 for a bf16 gradient); the
    update goes back to the gradient's dtype
    and each new buffer to the dtype of the matching input tree. Writing the rule
    for one leaf reads like its equations and lets XLA fuse each leaf's reads and
    writes into one pass.

    Returns:
      The tree of updates, then one tree per new buffer.
    """
    treedef = jax.tree.structure(updates)
    columns = [treedef.flatten_up_to(tree) for tree in (updates, *trees)]
    results = []
    for g, *leaves in zip(*columns, strict=True):
        dtypes = [x.dtype for x in (g, *leaves, *scalars.values())]
        dtype = wider(*dtypes)
        cast = {name: x.astype(dtype) for name, x in scalars.items()}
        out = rule(g.astype(dtype), *(x.astype(dtype) for x in leaves), **cast)
        like = (g, *leaves)
        results.append(
            tuple(o.astype(x.dtype) for o, x in zip(out, like, strict=False))
        )
    return tuple(treedef.unflatten(list(c)) for c in zip(*results, strict=True))
