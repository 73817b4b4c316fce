"""Hyperparameters as data: how optimizer states hold them, read and replace them.

Every transformation keeps its numeric hyperparameters in its state, in a field
``hparams`` (a dict keyed by the optimizer's argument names). A value is either an
array in JAX's default float type, or a :class:`~jaxsched.schedules.Schedule`
evaluated at the state's ``count``. So one compiled train step serves every value,
a batch of states is a batch of configurations, and :func:`get_hparams` /
:func:`set_hparams` read and replace them anywhere in a state (inside
``optax.chain``, ``optax.MultiSteps``, ``optax.inject_hyperparams`` ...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike, DTypeLike

from jaxsched._checks import cast, check
from jaxsched.schedules import Schedule, as_schedule
from jaxsched.schedules._core import float_dtype

Hyperparam = jax.Array | Schedule
HyperparamLike = ArrayLike | Schedule | Callable[[jax.Array], ArrayLike]

#: The allowed range of every numeric hyperparameter, checked on concrete values.
RANGES: dict[str, tuple[Callable[[np.ndarray], np.ndarray], str]] = {
    name: (lambda v: (v >= 0) & np.isfinite(v), ">= 0 and finite")
    for name in (
        "learning_rate",
        "eps",
        "weight_decay",
        "lr_decay",
        "initial_accumulator_value",
    )
} | {
    name: (lambda v: (v >= 0) & (v < 1), "in [0, 1)")
    for name in ("b1", "b2", "decay", "momentum", "dampening")
}


def to_hparam(name: str, value: HyperparamLike, dtype: np.dtype) -> Hyperparam:
    """One hyperparameter for a state: a fresh array of ``dtype``, or a Schedule.

    Concrete numbers are checked against :data:`RANGES`, before and after the
    cast to ``dtype`` (in bfloat16, ``b2=0.999`` rounds to 1 and ``eps=1e-8`` to
    0). Arrays and schedules are copied, so no two state leaves share a buffer
    (states can be donated).
    """
    if isinstance(value, Schedule):
        return fresh(value)
    if callable(value):
        return as_schedule(value, hparam_dtype=dtype)
    ok, allowed = RANGES[name]
    check(name, value, ok, allowed)
    return cast(name, value, dtype, ok, allowed)


def check_hparam(
    name: str,
    value: HyperparamLike,
    ok: Callable[[np.ndarray], np.ndarray],
    allowed: str,
) -> None:
    """:func:`~jaxsched._checks.check` for a hyperparameter: a schedule's values
    cannot be checked when it is built (as a tracer's cannot)."""
    if not callable(value):
        check(name, value, ok, allowed)


def make_hparams(
    hparam_dtype: DTypeLike | None, **values: HyperparamLike
) -> dict[str, Hyperparam]:
    """Validated hyperparameters of a transformation, in the float dtype."""
    dtype = float_dtype(hparam_dtype)
    return {name: to_hparam(name, value, dtype) for name, value in values.items()}


def fresh(hparams: dict[str, Hyperparam]) -> dict[str, Hyperparam]:
    """A copy with new buffers: each ``init`` gets its own, so states can be donated."""
    return jax.tree.map(jnp.copy, hparams)


def values_at(hparams: dict[str, Hyperparam], count: jax.Array) -> dict[str, jax.Array]:
    """Each hyperparameter's value at step ``count`` (schedules are evaluated), as
    an array (``optax.tree_utils.tree_set`` may have put a Python number there)."""
    return {
        name: value(count) if isinstance(value, Schedule) else jnp.asarray(value)
        for name, value in hparams.items()
    }


def _holds_hparams(node: Any) -> bool:
    return isinstance(node, tuple) and "hparams" in getattr(node, "_fields", ())


def _states(state: Any) -> list[Any]:
    return [
        node
        for node in jax.tree.leaves(state, is_leaf=_holds_hparams)
        if _holds_hparams(node)
    ]


def get_hparams(opt_state: Any) -> dict[str, Hyperparam]:
    """The hyperparameters held anywhere in an optimizer state, by argument name.

    Args:
      opt_state: the state of a jaxsched optimizer or transformation, alone or
        inside any optax wrapper or chain.

    Returns:
      A flat dict: ``learning_rate``, ``b1``, ... mapped to an array, or to the
      :class:`~jaxsched.schedules.Schedule` that gives the value at each step.

    Raises:
      ValueError: the state holds no jaxsched transformation's state, or two
        transformations have a hyperparameter of the same name.

    Example:
      >>> import jax.numpy as jnp, jaxsched as js
      >>> state = js.adam(1e-3).init(jnp.zeros(3))
      >>> for name, value in js.get_hparams(state).items():
      ...     print(f"{name}={value:g}")
      weight_decay=0
      b1=0.9
      b2=0.999
      eps=1e-08
      learning_rate=0.001
    """
    found: dict[str, Hyperparam] = {}
    for state in _states(opt_state):
        for name, value in state.hparams.items():
            if name in found:
                raise ValueError(
                    f"Two transformations in this state have a `{name}`: read them "
                    "one by one from each sub-state's `.hparams`."
                )
            found[name] = value
    if not found:
        raise _holds_none()
    return found


#: The hyperparameters of schedules that hold a list of steps, not a number.
STEP_LISTS = ("milestones", "boundaries")


def _batched(value: Any, count: jax.Array) -> Any:
    """``value`` for a batch of states (``count`` of shape ``(K,)``), array by
    array: one with the batch axis (one value per configuration) as it is, one
    without repeated for every configuration. A schedule's ``milestones`` or
    ``boundaries`` hold a list of steps per configuration: they have the batch
    axis only with one axis more (two milestones for two configurations are the
    milestones of each)."""
    batch = jnp.shape(count)

    def per_leaf(path: tuple, x: jax.Array) -> jax.Array:
        steps = bool(path) and getattr(path[-1], "key", None) in STEP_LISTS
        rank = len(batch) + steps
        if jnp.ndim(x) >= rank and jnp.shape(x)[: len(batch)] == batch:
            return x
        return jnp.broadcast_to(x, batch + jnp.shape(x))

    return jax.tree_util.tree_map_with_path(per_leaf, value)


def _wrapped_like(old: Any, new: Any) -> Any:
    """``new`` with its arrays wrapped as ``flax.nnx.Optimizer`` wraps its state's,
    where ``old`` was (a schedule set on ``optimizer.opt_state`` must be too)."""

    def nnx_variable(x: Any) -> bool:
        return type(x).__module__.startswith("flax.nnx")

    if not any(map(nnx_variable, jax.tree.leaves(old, is_leaf=nnx_variable))):
        return new
    from flax.nnx.training.optimizer import to_opt_state

    return to_opt_state(new)


def _holds_none() -> ValueError:
    return ValueError(
        "This optimizer state holds no jaxsched hyperparameters: it was not made by "
        "a jaxsched optimizer or transformation, or it is a flax.nnx state of one "
        "(`nnx.split`, `nnx.state`: the states become plain mappings there; pass "
        "the `nnx.Optimizer`'s `opt_state`)."
    )


def set_hparams(opt_state: Any, **values: HyperparamLike) -> Any:
    """A copy of ``opt_state`` with some hyperparameters replaced.

    A value may be a number, an array (e.g. one per vmapped configuration), a
    :class:`~jaxsched.schedules.Schedule` or any ``step -> value`` callable;
    concrete numbers are validated. Replacing a schedule by a number (or the
    reverse) is allowed and takes effect at the next update; it changes the
    state's tree structure, so a jitted step that takes the state compiles once
    more. Replacing a number by another number never recompiles. On a batch of
    states (``jax.vmap`` of ``init``), an array without the batch axis (a number,
    or one of a schedule's) is given to every configuration; a schedule's
    ``milestones`` or ``boundaries`` have it only with one axis more. Every
    transformation in the state that has the name gets
    the value (two optimizers in an ``optax.multi_transform`` both do, as
    ``optax.tree_utils.tree_set``): set one through its own sub-state.

    On a ``flax.nnx.Optimizer``'s state, the new values are wrapped as its arrays
    are: ``optimizer.opt_state = js.set_hparams(optimizer.opt_state, ...)``.

    Args:
      opt_state: the state of a jaxsched optimizer, alone or inside optax wrappers.
      **values: the new values, by argument name.

    Returns:
      The new state (the old one is unchanged).

    Raises:
      ValueError: a name that no transformation in the state has, or a value out
        of its range.

    Example:
      >>> import jax.numpy as jnp, jaxsched as js
      >>> state = js.sgd(0.1, momentum=0.9).init(jnp.zeros(3))
      >>> cosine = js.schedules.cosine_decay(0.1, decay_steps=100)
      >>> state = js.set_hparams(state, learning_rate=cosine)
      >>> print(js.get_hparams(state)["learning_rate"].name)
      cosine_decay
    """
    states = _states(opt_state)
    known = {name for state in states for name in state.hparams}
    if not known:
        raise _holds_none()
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(
            f"This optimizer state has no hyperparameter {unknown}; it has "
            f"{sorted(known)}."
        )

    def replace(node: Any) -> Any:
        if not _holds_hparams(node):
            return node
        hparams = dict(node.hparams)
        for name in values.keys() & hparams.keys():
            dtype = float_dtype(getattr(hparams[name], "dtype", None))  # None: a number
            value = _batched(to_hparam(name, values[name], dtype), node.count)
            hparams[name] = _wrapped_like(hparams[name], value)
        return node._replace(hparams=hparams)

    return jax.tree.map(replace, opt_state, is_leaf=_holds_hparams)
