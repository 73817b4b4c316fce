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

from jaxsched._checks import check, concrete, not_a_number
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
    try:
        cast = jnp.array(value, dtype=dtype, copy=True)
    except (TypeError, ValueError) as error:
        raise not_a_number(name, value) from error
    _check_cast(name, value, cast, ok, allowed)
    return cast


def _check_cast(name, value, cast, ok, allowed) -> None:
    """Raises if casting moved a concrete value out of its range, or to 0."""
    before = concrete(name, value)
    if before is None or isinstance(cast, jax.core.Tracer):
        return
    after = np.asarray(cast, np.float64)
    bad = ~np.asarray(ok(after), bool) | ((before != 0) & (after == 0))
    if bad.any():
        first = np.broadcast_to(before, bad.shape)[bad][0]
        raise ValueError(
            f"`{name}={first:g}` becomes {np.broadcast_to(after, bad.shape)[bad][0]:g}"
            f" in {cast.dtype}, and `{name}` must be {allowed} and not rounded to 0:"
            " use a wider `hparam_dtype` (float32, the default)."
        )


def make_hparams(
    hparam_dtype: DTypeLike | None, **values: HyperparamLike
) -> dict[str, Hyperparam]:
    """Validated hyperparameters of a transformation, in the float dtype."""
    dtype = float_dtype(hparam_dtype)
    return {name: to_hparam(name, value, dtype) for name, value in values.items()}


def fresh(hparams: dict[str, Hyperparam]) -> dict[str, Hyperparam]:
    """A copy with new buffers: each ``init`` gets its own, so states can be donated."""
    return jax.tree.map(jnp.copy, hparams)


class OwnHparams:
    """The hyperparameters one transformation was built with, and the ones its
    update uses.

    An update uses the state's ``hparams``: what ``init`` stored there, or what
    :func:`set_hparams` put there since. One case differs: a transformation
    built from arrays alone that never ran ``init`` uses the values it was built
    with, and writes them into the state it returns. That is how
    ``optax.inject_hyperparams`` drives an optimizer: at every update it builds
    it anew from the wrapper's ``hyperparams`` (arrays) and hands it a state
    that another instance made. An optimizer built from numbers or schedules
    always reads the state (a saved state continued by a new optimizer keeps its
    values).
    """

    def __init__(self, hparam_dtype: DTypeLike | None, **values: HyperparamLike):
        self.built = make_hparams(hparam_dtype, **values)
        self._from_arrays = all(isinstance(v, jax.Array) for v in values.values())
        self._initialised = False

    def init(self) -> dict[str, Hyperparam]:
        """A state's own copy of the values."""
        self._initialised = True
        return fresh(self.built)

    def used_by(self, state: Any) -> dict[str, Hyperparam]:
        """The hyperparameters an update of ``state`` uses (and returns in it)."""
        if self._from_arrays and not self._initialised:
            return self.built
        return state.hparams


def values_at(hparams: dict[str, Hyperparam], count: jax.Array) -> dict[str, jax.Array]:
    """Each hyperparameter's value at step ``count`` (schedules are evaluated)."""
    return {
        name: value(count) if isinstance(value, Schedule) else value
        for name, value in hparams.items()
    }


def _has_fields(node: Any, *names: str) -> bool:
    return isinstance(node, tuple) and set(names) <= set(getattr(node, "_fields", ()))


def _holds_hparams(node: Any) -> bool:
    return _has_fields(node, "hparams")


def _injected(node: Any) -> bool:
    """A state of ``optax.inject_hyperparams``: its ``hyperparams`` drive the
    optimizer inside (see :class:`OwnHparams`)."""
    return _has_fields(node, "hyperparams", "inner_state")


def _nodes(state: Any, kind: Callable[[Any], bool]) -> list[Any]:
    return [node for node in jax.tree.leaves(state, is_leaf=kind) if kind(node)]


def get_hparams(opt_state: Any) -> dict[str, Hyperparam]:
    """The hyperparameters held anywhere in an optimizer state, by argument name.

    Args:
      opt_state: the state of a jaxsched optimizer or transformation, alone or
        inside any optax wrapper or chain.

    Returns:
      A flat dict: ``learning_rate``, ``b1``, ... mapped to an array, or to the
      :class:`~jaxsched.schedules.Schedule` that gives the value at each step.
      Inside ``optax.inject_hyperparams``, the wrapper's values (they drive the
      optimizer).

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
    for state in _nodes(opt_state, _holds_hparams):
        for name, value in state.hparams.items():
            if name in found:
                raise ValueError(
                    f"Two transformations in this state have a `{name}`: read them "
                    "one by one from each sub-state's `.hparams`."
                )
            found[name] = value
    if not found:
        raise ValueError(
            "This optimizer state holds no jaxsched hyperparameters: it was not made "
            "by a jaxsched optimizer or transformation."
        )
    for wrapper in _nodes(opt_state, _injected):
        found |= {k: v for k, v in wrapper.hyperparams.items() if k in found}
    return found


def set_hparams(opt_state: Any, **values: HyperparamLike) -> Any:
    """A copy of ``opt_state`` with some hyperparameters replaced.

    A value may be a number, an array (e.g. one per vmapped configuration), a
    :class:`~jaxsched.schedules.Schedule` or any ``step -> value`` callable;
    concrete numbers are validated. Replacing a schedule by a number (or the
    reverse) is allowed and takes effect at the next update; it changes the
    state's tree structure, so a jitted step that takes the state compiles once
    more. Replacing a number by another number never recompiles.

    A ``flax.nnx.Optimizer`` keeps its state's arrays wrapped; unwrap and wrap
    again, so that a schedule's arrays are wrapped too::

      from flax.nnx.training.optimizer import to_opt_state
      state = js.set_hparams(nnx.as_pure(optimizer.opt_state), learning_rate=s)
      optimizer.opt_state = to_opt_state(state)

    Args:
      opt_state: the state of a jaxsched optimizer, alone or inside optax wrappers.
      **values: the new values, by argument name.

    Returns:
      The new state (the old one is unchanged).

    Inside ``optax.inject_hyperparams`` the wrapper's ``hyperparams`` are set
    too (they drive the optimizer); they take numbers only.

    Raises:
      ValueError: a name that no transformation in the state has, a value out of
        its range, or a schedule for a value of ``optax.inject_hyperparams``
        (give it to the wrapper), or any value for one the wrapper schedules.

    Example:
      >>> import jax.numpy as jnp, jaxsched as js
      >>> state = js.sgd(0.1, momentum=0.9).init(jnp.zeros(3))
      >>> cosine = js.schedules.cosine_decay(0.1, decay_steps=100)
      >>> state = js.set_hparams(state, learning_rate=cosine)
      >>> print(js.get_hparams(state)["learning_rate"].name)
      cosine_decay
    """
    known = {
        name for state in _nodes(opt_state, _holds_hparams) for name in state.hparams
    }
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(
            f"This optimizer state has no hyperparameter {unknown}; it has "
            f"{sorted(known)}."
        )

    def replace(node: Any) -> Any:
        if _injected(node):
            return node._replace(
                hyperparams=_replaced(node.hyperparams, _wrapper_values(node, values)),
                inner_state=jax.tree.map(replace, node.inner_state, is_leaf=holder),
            )
        if _holds_hparams(node):
            return node._replace(hparams=_replaced(node.hparams, values))
        return node

    def holder(node: Any) -> bool:
        return _holds_hparams(node) or _injected(node)

    return jax.tree.map(replace, opt_state, is_leaf=holder)


def _replaced(
    hparams: dict[str, Hyperparam], values: dict[str, HyperparamLike]
) -> dict[str, Hyperparam]:
    """``hparams`` with the values of the names it has, each in its old dtype."""
    new = dict(hparams)
    for name in values.keys() & new.keys():
        new[name] = to_hparam(name, values[name], np.dtype(new[name].dtype))
    return new


def _wrapper_values(
    wrapper: Any, values: dict[str, HyperparamLike]
) -> dict[str, HyperparamLike]:
    """The values for an ``inject_hyperparams`` state's ``hyperparams``: numbers
    only, and none for a hyperparameter that the wrapper schedules itself."""
    scheduled = getattr(wrapper, "hyperparams_states", {})
    for name in values.keys() & wrapper.hyperparams.keys():
        if name in scheduled:
            raise ValueError(
                f"optax.inject_hyperparams schedules `{name}` itself: build the "
                f"wrapper with the new schedule, or give it a number for `{name}`."
            )
        if callable(values[name]):
            raise ValueError(
                f"Inside optax.inject_hyperparams, `{name}` is one of the wrapper's "
                "numbers: give the schedule to the wrapper "
                f"(`inject_hyperparams(js.sgd)({name}=schedule)`), or use the "
                "optimizer without the wrapper."
            )
    return values
