"""Hyperparameter grids and random searches: dicts of equal-length 1-D arrays."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np

from jaxsched._checks import check, check_count, check_less, is_int
from jaxsched._leafwise import INT32_MAX


def grid(**axes: Sequence[Any]) -> dict[str, np.ndarray]:
    """The cartesian product of the axes, as equal-length 1-D arrays.

    Integers stay integers; the last axis varies fastest.

    Example:
      >>> import jaxsched as js
      >>> g = js.grid(learning_rate=[0.1, 0.01], warmup_steps=[0, 100])
      >>> print(g["learning_rate"].tolist(), g["warmup_steps"].tolist())
      [0.1, 0.1, 0.01, 0.01] [0, 100, 0, 100]
    """
    if not axes:
        raise ValueError(
            "`grid()` needs at least one axis, e.g. grid(learning_rate=[...])."
        )
    values = {}
    for name, axis in axes.items():
        if not isinstance(axis, (np.ndarray, jax.Array)) and np.ndim(axis) == 1:
            kinds = {_kind(v) for v in axis}
            if len(kinds) > 1:
                raise ValueError(
                    f"Axis `{name}` mixes numbers, bools and strings (NumPy would "
                    f"convert them to one type), got {list(axis)!r}."
                )
        array = np.asarray(axis)
        if array.ndim != 1 or array.size == 0:
            raise ValueError(
                f"Axis `{name}` must be a non-empty 1-D sequence, got shape "
                f"{array.shape}."
            )
        values[name] = array
    rows = list(itertools.product(*(range(len(v)) for v in values.values())))
    return {
        name: array[[row[i] for row in rows]]
        for i, (name, array) in enumerate(values.items())
    }


def _check_finite(lo: float, hi: float) -> None:
    for name, value in (("lo", lo), ("hi", hi)):
        check(name, value, np.isfinite, "finite")


@dataclass(frozen=True)
class log_uniform:  # noqa: N801 - a distribution, named like a function
    """Log-uniform on [lo, hi] (learning rates, weight decays)."""

    lo: float
    hi: float

    def __post_init__(self):
        _check_finite(self.lo, self.hi)
        check_less("lo", self.lo, "hi", self.hi)
        if self.lo <= 0:
            raise ValueError(
                f"`lo={self.lo}` must be > 0 for a log-uniform distribution."
            )

    def sample(self, key: jax.Array, n: int) -> np.ndarray:
        u = np.asarray(jax.random.uniform(key, (n,), minval=0.0, maxval=1.0))
        return np.exp(np.log(self.lo) + u * (np.log(self.hi) - np.log(self.lo)))


@dataclass(frozen=True)
class uniform:  # noqa: N801
    """Uniform on [lo, hi]."""

    lo: float
    hi: float

    def __post_init__(self):
        _check_finite(self.lo, self.hi)
        check_less("lo", self.lo, "hi", self.hi)
        with np.errstate(over="ignore"):
            width = np.float64(self.hi) - np.float64(self.lo)
        if not np.isfinite(width):
            raise ValueError(
                f"`hi - lo` overflows float64 (`lo={self.lo}`, `hi={self.hi}`): "
                "the width of a uniform distribution must be finite."
            )

    def sample(self, key: jax.Array, n: int) -> np.ndarray:
        u = np.asarray(jax.random.uniform(key, (n,)), np.float64)
        lo, hi = np.float64(self.lo), np.float64(self.hi)  # float32 bounds overflow
        return lo + u * (hi - lo)


@dataclass(frozen=True)
class int_uniform:  # noqa: N801
    """Integers uniform in [lo, hi] (both included), of JAX's default int type
    (int32, or int64 under x64), which both bounds must fit."""

    lo: int
    hi: int

    def __post_init__(self):
        for name, value in (("lo", self.lo), ("hi", self.hi)):
            if not is_int(value):
                raise ValueError(f"`{name}={value!r}` must be an int.")
        check_less("lo", self.lo, "hi", self.hi, or_equal=True)

    def sample(self, key: jax.Array, n: int) -> np.ndarray:
        dtype = jax.dtypes.canonicalize_dtype(np.int64)
        info = np.iinfo(dtype)
        for name, value in (("lo", self.lo), ("hi", self.hi)):
            if not info.min <= value <= info.max:
                raise ValueError(
                    f"`{name}={value}` must fit {dtype} (from {info.min} to "
                    f"{info.max}), JAX's int type; enable `jax_enable_x64` for "
                    "int64."
                )
        # randint excludes its maxval, and hi + 1 may not fit `dtype`: given as
        # an unsigned int, a maxval past the dtype's maximum includes the maximum.
        maxval = self.hi + 1
        maxval = np.asarray(maxval, f"u{dtype.itemsize}") if maxval > 0 else maxval
        return np.asarray(jax.random.randint(key, (n,), self.lo, maxval, dtype))


def _kind(value: Any) -> str | None:
    """What NumPy makes of a choice: "bool", "number", "string", None (other)."""
    if isinstance(value, (np.ndarray, jax.Array)) and np.ndim(value) == 0:
        value = np.asarray(value).item()  # jnp.float32(0.1), list(jnp.arange(3))
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, float, np.integer, np.floating)):
        return "number"
    return "string" if isinstance(value, str) else None


@dataclass(frozen=True)
class choice:  # noqa: N801
    """One of ``values``, uniformly."""

    values: tuple

    def __init__(self, values: Sequence[Any]):
        if isinstance(values, (np.ndarray, jax.Array)) and np.ndim(values) == 1:
            values = np.asarray(values).tolist()
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            raise ValueError(
                f"`choice` takes a list of values, got {values!r}: "
                f"`choice([{values!r}])` for one value."
            )
        if len(values) == 0:
            raise ValueError("`choice` needs at least one value.")
        kinds = {_kind(v) for v in values}
        if None in kinds or len(kinds) > 1:
            raise ValueError(
                "`choice` takes numbers, bools or strings, one kind of them (NumPy "
                f"would convert a mix to one type), got {list(values)!r}."
            )
        object.__setattr__(self, "values", tuple(values))

    def sample(self, key: jax.Array, n: int) -> np.ndarray:
        index = np.asarray(jax.random.randint(key, (n,), 0, len(self.values)))
        return np.asarray(self.values)[index]


def random_search(
    key: jax.Array, n: int, **distributions: Any
) -> dict[str, np.ndarray]:
    """``n`` random configurations, one independent draw per axis.

    Example:
      >>> import jax, jaxsched as js
      >>> c = js.random_search(jax.random.key(0), 4,
      ...                      learning_rate=js.log_uniform(1e-4, 1e-1),
      ...                      warmup_steps=js.int_uniform(0, 500))
      >>> print(len(c["learning_rate"]), c["warmup_steps"].dtype.kind)
      4 i
    """
    check_count("n", n)
    check("n", n, lambda v: v <= INT32_MAX, f"<= {INT32_MAX} (the largest JAX shape)")
    if not distributions:
        raise ValueError("`random_search` needs at least one distribution.")
    keys = jax.random.split(key, len(distributions))
    out = {}
    for k, (name, dist) in zip(keys, distributions.items(), strict=True):
        if not hasattr(dist, "sample"):
            raise ValueError(
                f"`{name}={dist!r}` is not a distribution: use js.log_uniform, "
                "js.uniform, js.int_uniform or js.choice."
            )
        out[name] = dist.sample(k, n)
    return out
