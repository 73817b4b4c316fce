r"""Schedules made of schedules: a warmup in front of one, several joined."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike, DTypeLike

from jaxsched._checks import (
    check_choice,
    check_fits,
    check_non_decreasing,
    require_non_negative,
)
from jaxsched.schedules._core import Schedule, float_dtype, to_hparams
from jaxsched.schedules._math import linear_anneal, safe_div
from jaxsched.schedules.simple import constant

ScheduleLike = Schedule | Callable[[jax.Array], ArrayLike] | ArrayLike


def as_schedule(
    value: ScheduleLike, *, hparam_dtype: DTypeLike | None = None
) -> Schedule:
    """Turns a schedule, any ``step -> value`` callable, or a number into a Schedule.

    A :class:`Schedule` is returned as it is. Any other callable (an optax
    schedule, a lambda) is wrapped as it is: it is static, so whatever it closes
    over is a compile-time constant, not a traced hyperparameter. A number or an
    array becomes a :func:`constant`.

    Example:
      >>> import optax, jaxsched as js
      >>> s = js.schedules.as_schedule(optax.linear_schedule(0.0, 1.0, 10))
      >>> print(f"{s(5):.2f}")
      0.50
    """
    if isinstance(value, Schedule):
        return value
    if callable(value):
        return Schedule(_external, {}, {"fn": value}, hparam_dtype)
    return constant(value, hparam_dtype=hparam_dtype)


def _external(step, *, fn):
    return fn(step)


def _schedule_arg(name: str, value: ScheduleLike, dtype: np.dtype) -> Schedule:
    """:func:`as_schedule` of an argument; a number is checked under its name."""
    if not callable(value):
        require_non_negative(**{name: value})
        check_fits(name, value, dtype)
    return as_schedule(value, hparam_dtype=dtype)


def warmup(
    schedule: ScheduleLike,
    warmup_steps: ArrayLike,
    init_value: ArrayLike = 0.0,
    mode: str = "linear",
    *,
    hparam_dtype: DTypeLike | None = None,
) -> Schedule:
    r"""A warmup in front of any schedule, which starts after it.

    With :math:`W` = ``warmup_steps`` and :math:`\eta^s` the wrapped schedule:

    .. math::
       \eta_k = \begin{cases}
         \eta_{\text{init}} + (\eta^s_0 - \eta_{\text{init}}) \, k / W
           & k < W, \text{ linear (gradual) warmup} \\
         \eta_{\text{init}} & k < W, \text{ constant warmup} \\
         \eta^s_{k - W} & k \ge W
       \end{cases}

    Linear is the gradual warmup of Goyal et al. (2017); constant is the ResNet
    recipe (a small value, e.g. 0.01, until the error falls; He et al. 2016). The
    wrapped schedule starts at step :math:`W`, as in torch's
    ``SequentialLR([LinearLR(start_factor, total_iters=W), s], milestones=[W])``
    (``ConstantLR(factor, total_iters=W)`` for constant) and
    ``optax.join_schedules([optax.linear_schedule(init, s(0), W), s], [W])``.

    Args:
      schedule: any schedule, ``step -> value`` callable or number.
      warmup_steps: :math:`W`, >= 0 (0: no warmup).
      init_value: value at step 0, >= 0.
      mode: static; ``"linear"`` or ``"constant"``.
      hparam_dtype: float dtype of ``warmup_steps`` and ``init_value``.

    Returns:
      A :class:`Schedule`.

    Example:
      >>> import jaxsched as js
      >>> s = js.schedules.warmup(js.schedules.step_decay(0.1, 30), warmup_steps=10)
      >>> print(*[f"{s(k):.3f}" for k in (0, 5, 10, 39, 40)])
      0.000 0.050 0.100 0.100 0.010

    References:
      Goyal et al., `Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour
      <https://arxiv.org/abs/1706.02677>`_, 2017; He et al., `Deep Residual
      Learning for Image Recognition <https://arxiv.org/abs/1512.03385>`_, 2016.
    """
    check_choice("mode", mode, ("linear", "constant"))
    require_non_negative(warmup_steps=warmup_steps, init_value=init_value)
    dtype = float_dtype(hparam_dtype)
    hparams = {
        "schedule": _schedule_arg("schedule", schedule, dtype),
        **to_hparams(dtype, warmup_steps=warmup_steps, init_value=init_value),
    }
    return Schedule(_warmup, hparams, {"mode": mode}, dtype)


def _warmup(step, *, schedule, warmup_steps, init_value, mode):
    def wrapped(k):  # in this schedule's dtype, whatever the wrapped one's
        return schedule(k).astype(step.dtype)

    if mode == "linear":
        ramp = linear_anneal(init_value, wrapped(0), safe_div(step, warmup_steps))
    else:
        ramp = init_value * jnp.ones_like(step)
    return jnp.where(step < warmup_steps, ramp, wrapped(step - warmup_steps))


def join(
    schedules: Sequence[ScheduleLike],
    boundaries: ArrayLike,
    *,
    hparam_dtype: DTypeLike | None = None,
) -> Schedule:
    r"""Several schedules one after another; each starts from its own step 0.

    .. math::
       \eta_k = \eta^{(i)}_{k - b_{i-1}} \quad \text{for } b_{i-1} \le k < b_i,
       \qquad b_{-1} = 0,\ b_n = \infty

    ``boundaries`` is an array (traced and vmapped like any hyperparameter). Same
    as ``optax.join_schedules(schedules, boundaries)`` and torch's
    ``SequentialLR(schedulers, milestones=boundaries)``.

    Args:
      schedules: :math:`n + 1` schedules (or callables, or numbers).
      boundaries: :math:`n` non-decreasing steps >= 0.
      hparam_dtype: float dtype of ``boundaries``.

    Returns:
      A :class:`Schedule`.

    Example:
      >>> import jaxsched as js
      >>> s = js.schedules.join(
      ...     [js.schedules.linear(0.0, 0.1, 10), js.schedules.cosine_decay(0.1, 90)],
      ...     boundaries=[10])
      >>> print(*[f"{s(k):.3f}" for k in (0, 5, 10, 55, 100)])
      0.000 0.050 0.100 0.050 0.000
    """
    schedules = list(schedules)
    if not schedules:
        raise ValueError("`schedules` is empty: give at least one schedule.")
    check_non_decreasing("boundaries", boundaries)
    dtype = float_dtype(hparam_dtype)
    hparams = to_hparams(dtype, boundaries=boundaries)
    shape = hparams["boundaries"].shape
    if shape != (len(schedules) - 1,):
        raise ValueError(
            f"`boundaries` has shape {shape} but must hold one step fewer than "
            f"`schedules` ({len(schedules) - 1} for {len(schedules)} schedules)."
        )
    hparams["schedules"] = [
        _schedule_arg(f"schedules[{i}]", s, dtype) for i, s in enumerate(schedules)
    ]
    return Schedule(_join, hparams, None, dtype)


def _join(step, *, schedules, boundaries):
    starts = jnp.concatenate([jnp.zeros(1, boundaries.dtype), boundaries])
    index = jnp.sum(step[..., None] >= boundaries, axis=-1)
    values = [
        schedule(step - start).astype(step.dtype)
        for schedule, start in zip(schedules, starts, strict=True)
    ]
    return jnp.select([index == i for i in range(len(values))], values)
