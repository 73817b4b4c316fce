"""Validation of concrete hyperparameter values.

Builders call these helpers with whatever the user passed. A value that holds a
tracer (inside ``jit``, ``vmap``, ``grad`` or ``lax.scan``) cannot be inspected at
build time and is let through unchecked; every concrete value is checked
elementwise, and the first offending element is named in the error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def not_a_number(name: str, value: Any) -> TypeError:
    """The error for a non-numeric value given to a numeric argument."""
    return TypeError(
        f"`{name}` must be a number or an array of numbers, got {value!r}."
    )


def concrete(name: str, value: Any) -> np.ndarray | None:
    """``value`` as a float64 NumPy array, or ``None`` if it holds a tracer."""
    if isinstance(value, jax.core.Tracer):
        return None
    if value is None or isinstance(value, (str, bytes)):  # NaN, or "0.9" parsed
        raise not_a_number(name, value)
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as error:
        raise not_a_number(name, value) from error
    # "30" in a list would be parsed, a complex array cut to its real part;
    # NumPy holds Python ints beyond int64 as objects
    if array.dtype == object:
        if not all(
            isinstance(x, (int, float, np.integer, np.floating)) for x in array.flat
        ):
            raise not_a_number(name, value)
    elif not any(
        jnp.issubdtype(array.dtype, k) for k in (bool, jnp.integer, jnp.floating)
    ):
        raise not_a_number(name, value)
    return array.astype(np.float64)


def _number(x: float) -> str:
    """Six significant digits, or all that it takes to tell ``x`` apart
    (``b2=0.999999999``, not ``b2=1``). A float32 value is told apart at float32
    precision (``-0.1``, not ``-0.10000000149011612``)."""
    short = f"{x:.6g}"
    with np.errstate(over="ignore"):  # beyond float32: told apart in float64
        single = float(np.float32(x)) == x
        if float(short) == x or (single and np.float32(short) == np.float32(x)):
            return short
    whole = float(x).is_integer() and abs(x) < 2**53  # a count, say
    return str(int(x)) if whole else repr(float(x))


def _shown(name: str, values: np.ndarray, bad: np.ndarray) -> str:
    if values.ndim == 0:
        return f"`{name}={_number(values.item())}`"
    return f"`{name}` (an array holding {_number(values[bad][0].item())})"


def is_int(value: Any) -> bool:
    """A Python or NumPy int, not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_count(name: str, value: Any, alternative: str = "") -> None:
    """Raises ``ValueError`` unless ``value`` is an int > 0 (not a bool)."""
    if not is_int(value) or value <= 0:
        raise ValueError(f"`{name}={value!r}` must be a positive int{alternative}.")


def check(
    name: str,
    value: Any,
    ok: Callable[[np.ndarray], np.ndarray],
    allowed: str,
) -> None:
    """Raises ``ValueError`` unless ``ok`` holds for every element of ``value``.

    Args:
      name: the argument's name, as the user wrote it.
      value: what the user passed.
      ok: elementwise predicate on the value as a float64 NumPy array.
      allowed: the allowed range, e.g. ``"> 0"`` or ``"in (0, 1)"``.
    """
    values = concrete(name, value)
    if values is None:
        return
    bad = ~np.asarray(ok(values), dtype=bool)
    if bad.any():
        raise ValueError(
            f"{_shown(name, values, bad)} is out of range: `{name}` must be {allowed}."
        )


def cast(
    name: str,
    value: Any,
    dtype: Any,
    ok: Callable[[np.ndarray], np.ndarray] | None = None,
    allowed: str = "",
) -> jax.Array:
    """``value`` as a new array of the hyperparameter ``dtype`` (tracers stay
    tracers), checked by :func:`check_fits`. Raises ``TypeError`` if it is not
    numeric."""
    check_fits(name, value, dtype, ok, allowed)
    try:
        return jnp.array(value, dtype=dtype, copy=True)
    except (TypeError, ValueError) as error:
        raise not_a_number(name, value) from error


def check_fits(
    name: str,
    value: Any,
    dtype: Any,
    ok: Callable[[np.ndarray], np.ndarray] | None = None,
    allowed: str = "",
) -> None:
    """Raises ``ValueError`` if casting a concrete ``value`` to ``dtype`` makes a
    finite element infinite, a nonzero one 0 (in bfloat16 ``eps=1e-8`` becomes 0,
    in float32 ``1e39`` inf), or, given ``ok``, moves it out of its range
    ``allowed`` (in bfloat16 ``b2=0.999`` becomes 1). Checked on the value, so
    also inside ``jit``, where the cast array is a tracer."""
    before = concrete(name, value)
    if before is None:
        return
    dtype = np.dtype(dtype)
    with np.errstate(over="ignore"):  # the error below says it better
        after = before.astype(dtype).astype(np.float64)
    bad = (np.isfinite(before) & ~np.isfinite(after)) | ((before != 0) & (after == 0))
    if ok is not None:
        bad = bad | ~np.asarray(ok(after), bool)
    if bad.any():
        first, became = before[bad].flat[0], after[bad].flat[0]
        if not np.isfinite(became):
            why = "it overflows"
        elif became == 0 and first != 0:
            why = "it rounds to 0"
        else:
            why = f"`{name}` must be {allowed}"
        narrow = jnp.finfo(dtype).bits < 32
        wider = "float32, the default" if narrow else "float64, with jax_enable_x64"
        raise ValueError(
            f"`{name}={_number(first)}` becomes {_number(became)} in {dtype} "
            f"({why}): use a wider `hparam_dtype` ({wider})."
        )


def check_less(
    name: str, value: Any, other_name: str, other: Any, *, or_equal: bool = False
) -> None:
    """Raises ``ValueError`` unless ``value < other`` (``<=`` with ``or_equal``)."""
    values, others = concrete(name, value), concrete(other_name, other)
    if values is None or others is None:
        return
    values, others = np.broadcast_arrays(values, others)
    bad = ~(values <= others if or_equal else values < others)
    if bad.any():
        relation = "<=" if or_equal else "<"
        raise ValueError(
            f"`{name}={_number(values[bad].flat[0])}` must be {relation} "
            f"`{other_name}={_number(others[bad].flat[0])}`."
        )


def check_non_decreasing(name: str, value: Any) -> None:
    """Raises ``ValueError`` unless a 1-D sequence is >= 0 and non-decreasing."""
    values = concrete(name, value)
    if values is None:
        return
    if values.ndim != 1:
        raise ValueError(
            f"`{name}` must be a 1-D sequence of steps, got shape {values.shape}."
        )
    check(name, values, lambda v: v >= 0, ">= 0")
    if np.any(np.diff(values) < 0):
        raise ValueError(
            f"`{name}={values.tolist()!r}` is not sorted: `{name}` must be "
            "non-decreasing (sort it, or repeat a value to apply it twice)."
        )


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    """Raises ``ValueError`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"`{name}={value!r}` is not one of {allowed}.")


def check_flag(name: str, value: Any) -> bool:
    """``value`` as a bool; ``ValueError`` unless it is True or False (a string
    such as ``"false"`` would be truthy)."""
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"`{name}={value!r}` must be True or False.")
    return bool(value)


def require_positive(**values: Any) -> None:
    """Checks that every named value is finite and > 0 (step counts, rates)."""
    for name, value in values.items():
        check(name, value, lambda v: (v > 0) & np.isfinite(v), "> 0 and finite")


def require_non_negative(**values: Any) -> None:
    """Checks that every named value is finite and >= 0 (learning rates, offsets)."""
    for name, value in values.items():
        check(name, value, lambda v: (v >= 0) & np.isfinite(v), ">= 0 and finite")


def require_unit_interval(**values: Any) -> None:
    """Checks that every named value is in [0, 1) (betas, decays, momentum)."""
    for name, value in values.items():
        check(name, value, lambda v: (v >= 0) & (v < 1), "in [0, 1)")
