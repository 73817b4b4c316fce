r"""Closed-form schedules: constant, linear, polynomial, step, multistep,
exponential and inverse-time decay, and the LR range-test ramp.

In every formula :math:`k` is the step (the value is used by update
:math:`k + 1`), computed in the hyperparameters' float dtype.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike, DTypeLike

from jaxsched._checks import (
    check,
    check_choice,
    check_flag,
    check_less,
    check_non_decreasing,
    require_non_negative,
    require_positive,
)
from jaxsched.schedules._core import Schedule, build
from jaxsched.schedules._math import div, floor_div, progress


def constant(value: ArrayLike, *, hparam_dtype: DTypeLike | None = None) -> Schedule:
    r"""A constant value.

    .. math:: \eta_k = v

    Same as ``optax.constant_schedule(value)``; in torch, no scheduler.

    Args:
      value: the value, >= 0.
      hparam_dtype: float dtype of the hyperparameters (default: JAX's default
        float type).

    Returns:
      A :class:`Schedule`.

    Example:
      >>> import jaxsched as js
      >>> print(f"{js.schedules.constant(0.1)(1000):.3f}")
      0.100
    """
    require_non_negative(value=value)
    return build(_constant, hparam_dtype, value=value)


def _constant(step: jax.Array, *, value: jax.Array) -> jax.Array:
    return value * jnp.ones_like(step)


def linear(
    init_value: ArrayLike,
    end_value: ArrayLike,
    transition_steps: ArrayLike,
    transition_begin: ArrayLike = 0,
    *,
    hparam_dtype: DTypeLike | None = None,
) -> Schedule:
    r"""Linear interpolation from ``init_value`` to ``end_value``.

    .. math::
       \eta_k = \eta_0 + (\eta_T - \eta_0) \frac{t}{T}, \qquad
       t = \operatorname{clip}(k - B, 0, T)

    with :math:`B` = ``transition_begin`` and :math:`T` = ``transition_steps``:
    ``init_value`` before :math:`B`, ``end_value`` from :math:`B + T` on.

    Same as ``optax.linear_schedule(init_value, end_value, transition_steps,
    transition_begin)``, and torch's ``LinearLR(start_factor=init/lr,
    end_factor=end/lr, total_iters=transition_steps)`` for ``transition_begin=0``.

    Args:
      init_value: value before the transition, >= 0.
      end_value: value after it, >= 0.
      transition_steps: length of the transition, > 0.
      transition_begin: steps to hold ``init_value`` first, >= 0.
      hparam_dtype: float dtype of the hyperparameters.

    Returns:
      A :class:`Schedule`.

    Example:
      >>> import jaxsched as js
      >>> s = js.schedules.linear(0.01, 0.1, transition_steps=10)
      >>> print(*[f"{s(k):.3f}" for k in (0, 5, 10, 20)])
      0.010 0.055 0.100 0.100
    """
    require_non_negative(
        init_value=init_value, end_value=end_value, transition_begin=transition_begin
    )
    require_positive(transition_steps=transition_steps)
    return build(
        _linear,
        hparam_dtype,
        init_value=init_value,
        end_value=end_value,
        transition_steps=transition_steps,
        transition_begin=transition_begin,
    )


def _linear(step, *, init_value, end_value, transition_steps, transition_begin):
    elapsed = jnp.maximum(step - transition_begin, 0)
    ramp = init_value + (end_value - init_value) * div(elapsed, transition_steps)
    return jnp.where(elapsed < transition_steps, ramp, end_value)  # exactly


def polynomial_decay(
    init_value: ArrayLike,
    end_value: ArrayLike,
    decay_steps: ArrayLike,
    power: ArrayLike = 1.0,
    *,
    hparam_dtype: DTypeLike | None = None,
) -> Schedule:
    r"""Polynomial decay from ``init_value`` to ``end_value``, then held.

    .. math::
       \eta_k = (\eta_0 - \eta_T) \left(1 - \frac{\min(k, T)}{T}\right)^p + \eta_T

    Same as ``optax.polynomial_schedule(init_value, end_value, power,
    transition_steps=decay_steps)``, keras ``PolynomialDecay`` (``cycle=False``),
    and torch's ``PolynomialLR(total_iters=decay_steps, power=p)`` with
    ``end_value=0``.

    Args:
      init_value: value at step 0, >= 0.
      end_value: value from ``decay_steps`` on, >= 0.
      decay_steps: length of the decay, > 0.
      power: the exponent :math:`p`, > 0.
      hparam_dtype: float dtype of the hyperparameters.

    Returns:
      A :class:`Schedule`.

    Example:
      >>> import jaxsched as js
      >>> s = js.schedules.polynomial_decay(0.1, 0.0, decay_steps=100, power=2.0)
      >>> print(*[f"{s(k):.4f}" for k in (0, 50, 100, 200)])
      0.1000 0.0250 0.0000 0.0000
    """
    require_non_negative(init_value=init_value, end_value=end_value)
    require_positive(decay_steps=decay_steps, power=power)
    return build(
        _polynomial_decay,
        hparam_dtype,
        init_value=init_value,
        end_value=end_value,
        decay_steps=decay_steps,
        power=power,
    )


def _polynomial_decay(step, *, init_value, end_value, decay_steps, power):
    remaining = 1 - progress(step, decay_steps)
    # 0 ** p is 0, but its derivative in p is 0 * log(0): keep the base positive.
    positive = remaining > 0
    decayed = jnp.where(positive, jnp.where(positive, remaining, 1.0) ** power, 0.0)
    return (init_value - end_value) * decayed + end_value


def step_decay(
    init_value: ArrayLike,
    step_size: ArrayLike,
    gamma: ArrayLike = 0.1,
    *,
    hparam_dtype: DTypeLike | None = None,
) -> Schedule:
    r"""Multiply by ``gamma`` every ``step_size`` steps (torch ``StepLR``).

    .. math:: \eta_k = \eta_0 \, \gamma^{\lfloor k / s \rfloor}

    Same as torch's ``StepLR(step_size, gamma)`` and
    ``optax.exponential_decay(init_value, transition_steps=step_size,
    decay_rate=gamma, staircase=True)``.

    Args:
      init_value: value at step 0, >= 0.
      step_size: steps between two decays, > 0.
      gamma: factor applied at each decay, > 0.
      hparam_dtype: float dtype of the hyperparameters.

    Returns:
      A :class:`Schedule`.

    Example:
      >>> import jaxsched as js
      >>> s = js.schedules.step_decay(0.1, step_size=50, gamma=0.5)
      >>> print(*[f"{s(k):.4f}" for k in (0, 49, 50, 100)])
      0.1000 0.1000 0.0500 0.0250
    """
    require_non_negative(init_value=init_value)
    require_positive(step_size=step_size, gamma=gamma)
    return build(
        _step_decay,
        hparam_dtype,
        init_value=init_value,
        step_size=step_size,
        gamma=gamma,
    )


def _step_decay(step, *, init_value, step_size, gamma):
    return init_value * gamma ** floor_div(step, step_size)


def multistep_decay(
    init_value: ArrayLike,
    milestones: ArrayLike,
    gamma: ArrayLike = 0.1,
    *,
    hparam_dtype: DTypeLike | None = None,
) -> Schedule:
    r"""Multiply by ``gamma`` at each milestone (torch ``MultiStepLR``).

    .. math:: \eta_k = \eta_0 \, \gamma^{\#\{i \,:\, m_i \le k\}}

    A milestone listed twice applies ``gamma`` twice, as in torch. ``milestones``
    is an array (it may be traced and vmapped), not a Python structure.

    Same as torch's ``MultiStepLR(milestones, gamma)`` and
    ``optax.piecewise_constant_schedule(init_value, {m: gamma for m in
    milestones})`` for distinct milestones.

    Args:
      init_value: value at step 0, >= 0.
      milestones: 1-D, non-decreasing steps >= 0 at which to decay.
      gamma: factor applied at each milestone, > 0.
      hparam_dtype: float dtype of the hyperparameters.

    Returns:
      A :class:`Schedule`.

    Example:
      >>> import jaxsched as js
      >>> s = js.schedules.multistep_decay(0.1, [50, 125, 160], gamma=0.5)
      >>> print(*[f"{s(k):.4f}" for k in (0, 50, 125, 199)])
      0.1000 0.0500 0.0250 0.0125
    """
    require_non_negative(init_value=init_value)
    check_non_decreasing("milestones", milestones)
    require_positive(gamma=gamma)
    return build(
        _multistep_decay,
        hparam_dtype,
        init_value=init_value,
        milestones=milestones,
        gamma=gamma,
    )


def _multistep_decay(step, *, init_value, milestones, gamma):
    passed = jnp.sum(step[..., None] >= milestones, axis=-1).astype(step.dtype)
    return init_value * gamma**passed


def exponential_decay(
    init_value: ArrayLike,
    gamma: ArrayLike,
    *,
    decay_steps: ArrayLike = 1,
    staircase: bool = False,
    hparam_dtype: DTypeLike | None = None,
) -> Schedule:
    r"""Multiply by ``gamma`` every step (torch ``ExponentialLR``).

    .. math:: \eta_k = \eta_0 \, \gamma^{k / d}

    with :math:`d` = ``decay_steps`` (1 by default, as torch); ``staircase``
    floors :math:`k / d` (keras ``ExponentialDecay(staircase=True)``). A ``gamma``
    above 1 grows the value (the LR range test's ramp).

    Same as torch's ``ExponentialLR(gamma)``, keras
    ``ExponentialDecay(init_value, decay_steps, decay_rate=gamma, staircase)``
    and ``optax.exponential_decay(init_value, transition_steps=decay_steps,
    decay_rate=gamma, staircase=staircase)``.

    Args:
      init_value: value at step 0, >= 0.
      gamma: factor per ``decay_steps`` steps, > 0.
      decay_steps: steps over which the factor ``gamma`` applies, > 0.
      staircase: static; decay in whole multiples of ``decay_steps``.
      hparam_dtype: float dtype of the hyperparameters.

    Returns:
      A :class:`Schedule`.

    Example:
      >>> import jaxsched as js
      >>> s = js.schedules.exponential_decay(0.1, gamma=0.95)
      >>> print(*[f"{s(k):.5f}" for k in (0, 1, 2, 10)])
      0.10000 0.09500 0.09025 0.05987
    """
    require_non_negative(init_value=init_value)
    require_positive(gamma=gamma, decay_steps=decay_steps)
    return build(
        _exponential_decay,
        hparam_dtype,
        {"staircase": check_flag("staircase", staircase)},
        init_value=init_value,
        gamma=gamma,
        decay_steps=decay_steps,
    )


def _exponential_decay(step, *, init_value, gamma, decay_steps, staircase):
    p = floor_div(step, decay_steps) if staircase else div(step, decay_steps)
    return init_value * gamma**p


def inverse_time_decay(
    init_value: ArrayLike,
    decay_rate: ArrayLike,
    decay_steps: ArrayLike,
    staircase: bool = False,
    *,
    hparam_dtype: DTypeLike | None = None,
) -> Schedule:
    r"""The "1/t" decay (keras ``InverseTimeDecay``).

    .. math:: \eta_k = \frac{\eta_0}{1 + r \, k / d}

    with :math:`r` = ``decay_rate`` and :math:`d` = ``decay_steps``;
    ``staircase`` floors :math:`k / d`. Same as keras
    ``InverseTimeDecay(init_value, decay_steps, decay_rate, staircase)``; torch
    ``LambdaLR(lambda k: 1 / (1 + r * k / d))``.

    Args:
      init_value: value at step 0, >= 0.
      decay_rate: :math:`r`, >= 0.
      decay_steps: :math:`d`, > 0.
      staircase: static; decay in whole multiples of ``decay_steps``.
      hparam_dtype: float dtype of the hyperparameters.

    Returns:
      A :class:`Schedule`.

    Example:
      >>> import jaxsched as js
      >>> s = js.schedules.inverse_time_decay(0.1, decay_rate=0.5, decay_steps=10)
      >>> print(*[f"{s(k):.4f}" for k in (0, 10, 20)])
      0.1000 0.0667 0.0500
    """
    require_non_negative(init_value=init_value, decay_rate=decay_rate)
    require_positive(decay_steps=decay_steps)
    return build(
        _inverse_time_decay,
        hparam_dtype,
        {"staircase": check_flag("staircase", staircase)},
        init_value=init_value,
        decay_rate=decay_rate,
        decay_steps=decay_steps,
    )


def _inverse_time_decay(step, *, init_value, decay_rate, decay_steps, staircase):
    p = floor_div(step, decay_steps) if staircase else div(step, decay_steps)
    return init_value / (1 + decay_rate * p)


def lr_range(
    start_value: ArrayLike,
    end_value: ArrayLike,
    num_steps: ArrayLike,
    mode: str = "exp",
    *,
    hparam_dtype: DTypeLike | None = None,
) -> Schedule:
    r"""The ramp of the LR range test (Smith 2015), as torch-lr-finder draws it.

    .. math::
       r = \frac{\min(k, N - 1)}{N - 1}, \qquad
       \eta_k = \begin{cases}
         \eta_0 \, (\eta_1 / \eta_0)^{r} & \text{exp} \\
         \eta_0 + r \, (\eta_1 - \eta_0) & \text{linear}
       \end{cases}

    so step 0 is ``start_value`` and step :math:`N - 1` is ``end_value``, held
    after. Same as torch-lr-finder's ``ExponentialLR`` / ``LinearLR`` with
    ``num_iter=num_steps``.

    Args:
      start_value: first value, > 0 in exp mode (>= 0 in linear mode).
      end_value: last value, > ``start_value``.
      num_steps: :math:`N`, the number of steps of the test, >= 2.
      mode: static; ``"exp"`` (geometric) or ``"linear"``.
      hparam_dtype: float dtype of the hyperparameters.

    Returns:
      A :class:`Schedule`.

    Example:
      >>> import jaxsched as js
      >>> s = js.schedules.lr_range(1e-5, 1.0, num_steps=6)
      >>> print(*[f"{s(k):.0e}" for k in range(6)])
      1e-05 1e-04 1e-03 1e-02 1e-01 1e+00

    References:
      Smith, `Cyclical Learning Rates for Training Neural Networks
      <https://arxiv.org/abs/1506.01186>`_, 2015 (section 3.3).
    """
    check_choice("mode", mode, ("exp", "linear"))
    if mode == "exp":
        require_positive(start_value=start_value)
    else:
        require_non_negative(start_value=start_value)
    check_less("start_value", start_value, "end_value", end_value)
    require_positive(end_value=end_value)  # > start_value >= 0: only inf is new
    check(
        "num_steps", num_steps, lambda n: (n >= 2) & np.isfinite(n), ">= 2 and finite"
    )
    return build(
        _lr_range,
        hparam_dtype,
        {"mode": mode},
        start_value=start_value,
        end_value=end_value,
        num_steps=num_steps,
    )


def _lr_range(step, *, start_value, end_value, num_steps, mode):
    r = progress(step, num_steps - 1)
    if mode == "exp":
        return start_value * (end_value / start_value) ** r
    return start_value + r * (end_value - start_value)
