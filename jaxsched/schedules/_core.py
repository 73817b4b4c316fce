"""The `Schedule` pytree: a ``step -> value`` function whose leaves are its
hyperparameters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike, DTypeLike

from jaxsched._checks import cast, not_a_number


def float_dtype(hparam_dtype: DTypeLike | None = None) -> np.dtype:
    """The dtype hyperparameters are stored and computed in.

    JAX's default float type (float32, or float64 when x64 is enabled), read now,
    unless ``hparam_dtype`` overrides it.
    """
    if hparam_dtype is None:
        return np.dtype(jax.dtypes.canonicalize_dtype(jnp.float64))
    dtype = np.dtype(hparam_dtype)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(
            f"`hparam_dtype={hparam_dtype!r}` is not a floating-point dtype: "
            "use float32 (the default) or float64."
        )
    if jax.dtypes.canonicalize_dtype(dtype) != dtype:  # JAX would store float32
        raise ValueError(
            f"`hparam_dtype={dtype.name}` needs 64-bit mode: "
            '`jax.config.update("jax_enable_x64", True)`, or use float32.'
        )
    return dtype


class Schedule:
    """A learning-rate schedule: ``schedule(step) -> value``, and a pytree.

    The pytree's leaves are the numeric hyperparameters (``schedule.hparams``), so
    a schedule can be passed through ``jax.jit`` without recompiling when a value
    changes, batched with ``jax.vmap``, differentiated with ``jax.grad`` and stored
    in an optimizer state. Structural options (a ``mode`` string, ``staircase``)
    are static: they are part of the tree structure.

    Build schedules with the functions in :mod:`jaxsched.schedules`; this class is
    the type they return.

    Attributes:
      fn: the pure function ``fn(step, **hparams, **static) -> value``.
      hparams: numeric hyperparameters (arrays in ``dtype``, or nested schedules).
      static: structural options.
      dtype: the float dtype of the hyperparameters and of the result.
    """

    __slots__ = ("fn", "hparams", "static", "dtype", "__weakref__")

    def __init__(
        self,
        fn: Callable[..., jax.Array],
        hparams: dict[str, Any],
        static: dict[str, Any] | None = None,
        dtype: DTypeLike | None = None,
    ):
        self.fn = fn
        self.hparams = hparams
        self.static = static or {}
        self.dtype = float_dtype(dtype)

    def __call__(self, step: ArrayLike) -> jax.Array:
        """The value at ``step`` (elementwise for arrays); steps below 0 count as 0."""
        step = jnp.maximum(jnp.asarray(step, dtype=self.dtype), 0)
        return jnp.asarray(
            self.fn(step, **self.hparams, **self.static), dtype=self.dtype
        )

    @property
    def name(self) -> str:
        """The name of the builder that made this schedule."""
        return self.fn.__name__.lstrip("_")

    def replace(self, **values: Any) -> Schedule:
        """A copy with some hyperparameters replaced (no validation).

        Numbers and arrays are converted to ``self.dtype``; nested schedules
        (``warmup``'s ``schedule``, ``join``'s ``schedules``) are replaced as given.
        """
        unknown = set(values) - set(self.hparams)
        if unknown:
            raise ValueError(
                f"{self.name} has no hyperparameter {sorted(unknown)}; it has "
                f"{list(self.hparams)}."
            )
        hparams = dict(self.hparams)
        for key, value in values.items():
            if isinstance(self.hparams[key], jax.Array):
                value = jnp.asarray(value, dtype=self.dtype)
            hparams[key] = value
        return Schedule(self.fn, hparams, self.static, self.dtype)

    def __repr__(self) -> str:
        def show(value: Any) -> str:
            if isinstance(value, (jax.Array, np.ndarray)) and value.ndim == 0:
                return f"{value.item():g}"
            if isinstance(value, (jax.Array, np.ndarray)):
                return f"{np.asarray(value).tolist()}"
            return repr(value)

        items = {**self.hparams, **self.static}
        args = ", ".join(f"{k}={show(v)}" for k, v in items.items())
        return f"{self.name}({args})"

    # Pytree protocol: hyperparameters are children, everything else is static.
    def _flatten_with_keys(self):
        children = [(jax.tree_util.DictKey(k), v) for k, v in self.hparams.items()]
        aux = (self.fn, tuple(self.hparams), tuple(self.static.items()), self.dtype)
        return children, aux

    @classmethod
    def _unflatten(cls, aux, children) -> Schedule:
        fn, keys, static, dtype = aux
        schedule = object.__new__(cls)
        schedule.fn = fn
        schedule.hparams = dict(zip(keys, children, strict=True))
        schedule.static = dict(static)
        schedule.dtype = dtype
        return schedule


jax.tree_util.register_pytree_with_keys(
    Schedule, Schedule._flatten_with_keys, Schedule._unflatten
)


def _register_with_flax() -> None:
    """Lets ``flax.serialization`` (``to_bytes``, TrainState checkpoints) save a
    schedule held in an optimizer state, as its hyperparameters by name."""
    try:
        from flax import serialization
    except ImportError:  # flax is optional
        return

    def to_state_dict(schedule: Schedule) -> dict[str, Any]:
        return serialization.to_state_dict(schedule.hparams)

    def from_state_dict(schedule: Schedule, state: dict[str, Any]) -> Schedule:
        hparams = serialization.from_state_dict(schedule.hparams, state)
        return schedule.replace(**hparams)

    serialization.register_serialization_state(Schedule, to_state_dict, from_state_dict)


_register_with_flax()


def to_hparams(dtype: np.dtype, **values: Any) -> dict[str, jax.Array]:
    """Numeric hyperparameters as arrays of ``dtype`` (tracers stay tracers)."""
    hparams = {}
    for name, value in values.items():
        if callable(value):
            raise not_a_number(name, value)
        hparams[name] = cast(name, value, dtype)
    return hparams


def build(
    fn: Callable[..., jax.Array],
    hparam_dtype: DTypeLike | None,
    static: dict[str, Any] | None = None,
    **values: Any,
) -> Schedule:
    """A `Schedule` of ``fn`` with numeric ``values`` converted to the float dtype."""
    dtype = float_dtype(hparam_dtype)
    return Schedule(fn, to_hparams(dtype, **values), static, dtype)
