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
    """Zero buffers, at least as wide as the hyperparameters (f32 for bf16 params),
    placed as the parameters are (a sharded parameter gets a sharded buffer)."""
    return jax.tree.map(
        lambda p: jnp.zeros_like(p, wider(jnp.result_type(p), hparam_dtype)), params
    )


def per_leaf(
    rule: Callable[..., tuple[jax.Array, dict[str, jax.Array]]],
    scalars: dict[str, jax.Array],
    updates: optax.Updates,
    **trees: optax.Updates | None,
) -> tuple[optax.Updates, dict[str, optax.Updates]]:
    """Applies ``rule(g, **leaves, **scalars) -> (u, new_buffers)`` leaf by leaf.

    ``trees`` are the buffers (and ``params`` where a rule needs them), by name;
    ``None`` ones are left out. ``scalars`` are the hyperparameters' values at
    this step and anything derived from them once per update (bias corrections).
    Each leaf is computed in the wider of its own dtypes and the scalars'
    (float32 for a bf16 gradient); the update goes back to the gradient's dtype
    and each new buffer to its old dtype. A complex leaf steps as two real ones,
    its real and imaginary parts, as torch's optimizers do (``view_as_real``): a
    rule that squares the gradient squares each part. Writing the rule for one
    leaf reads like its equations and lets XLA fuse each leaf's reads and writes.
    Pass a module-level jitted rule: it is then traced once per leaf shape and
    dtype for every instance of the transformation (a 200-leaf model of one shape
    traces it once), which keeps large models quick to compile and eager updates
    quick.

    Returns:
      The tree of updates, and a dict of the new buffer trees by name.
    """
    treedef = jax.tree.structure(updates)
    columns = {
        name: treedef.flatten_up_to(tree)
        for name, tree in trees.items()
        if tree is not None
    }
    new_updates, new_buffers = [], {}
    for i, g in enumerate(treedef.flatten_up_to(updates)):
        leaves = {name: column[i] for name, column in columns.items()}
        # a complex leaf steps as its real and imaginary parts (torch's view_as_real)
        pairs = jnp.iscomplexobj(g)
        real = {name: _as_real(x) if pairs else x for name, x in leaves.items()}
        real_g = _as_real(g) if pairs else g
        dtype = wider(
            real_g.dtype, *(x.dtype for x in (*real.values(), *scalars.values()))
        )
        u, buffers = rule(
            real_g.astype(dtype),
            **{name: x.astype(dtype) for name, x in real.items()},
            **{name: x.astype(dtype) for name, x in scalars.items()},
        )
        new_updates.append((_as_complex(u) if pairs else u).astype(g.dtype))
        for name, x in buffers.items():
            x = _as_complex(x) if pairs else x
            new_buffers.setdefault(name, []).append(x.astype(leaves[name].dtype))
    return treedef.unflatten(new_updates), {
        name: treedef.unflatten(column) for name, column in new_buffers.items()
    }


def _as_real(x: jax.Array) -> jax.Array:
    """A complex array as pairs of reals along a new last axis."""
    return jnp.stack([jnp.real(x), jnp.imag(x)], axis=-1)


def _as_complex(pairs: jax.Array) -> jax.Array:
    return jax.lax.complex(pairs[..., 0], pairs[..., 1])
