r"""Cosine schedules: cosine annealing, warmup + cosine, and two kinds of warm
restarts (SGDR and the seed's ``CosineAnnealingWarmupRestarts``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.typing import ArrayLike, DTypeLike

from jaxsched._checks import (
    check,
    check_less,
    require_non_negative,
    require_positive,
)
from jaxsched.schedules._core import Schedule, build
from jaxsched.schedules._math import (
    cosine_anneal,
    div,
    floor_div,
    linear_anneal,
    progress,
    safe_div,
)


def cosine_decay(
    init_value: ArrayLike,
    decay_steps: ArrayLike,
    end_value: ArrayLike = 0.0,
    *,
    hparam_dtype: DTypeLike | None = None,
) -> Schedule:
    r"""Cosine annealing from ``init_value`` to ``end_value``, then held.

    .. math::
       \eta_k = \eta_T + \frac{\eta_0 - \eta_T}{2}
                \left(1 + \cos\frac{\pi \min(k, T)}{T}\right)

    Within ``decay_steps`` this is torch's ``CosineAnnealingLR(T_max=decay_steps,
    eta_min=end_value)``. Past ``decay_steps`` we hold ``end_value``; torch's
    recursive form instead climbs back up (a cosine of period :math:`2T`). Same as
    ``optax.cosine_decay_schedule(init_value, decay_steps,
    alpha=end_value / init_value)`` (for ``init_value > 0``) and keras
    ``CosineDecay`` without warmup.

    Args:
      init_value: value at step 0, >= 0.
      decay_steps: :math:`T`, > 0.
      end_value: value from step :math:`T` on, >= 0.
      hparam_dtype: float dtype of the hyperparameters.

    Returns:
      A :class:`Schedule`.

    Example:
      >>> import jaxsched as js
      >>> s = js.schedules.cosine_decay(0.1, decay_steps=100, end_value=0.001)
      >>> print(*[f"{s(k):.4f}" for k in (0, 50, 100, 150)])
      0.1000 0.0505 0.0010 0.0010

    References:
      Loshchilov and Hutter, `SGDR: Stochastic Gradient Descent with Warm
      Restarts <https://arxiv.org/abs/1608.03983>`_, 2017.
    """
    require_non_negative(init_value=init_value, end_value=end_value)
    require_positive(decay_steps=decay_steps)
    return build(
        _cosine_decay,
        hparam_dtype,
        init_value=init_value,
        decay_steps=decay_steps,
        end_value=end_value,
    )


def _cosine_decay(step, *, init_value, decay_steps, end_value):
    return cosine_anneal(init_value, end_value, progress(step, decay_steps))


def warmup_cosine_decay(
    init_value: ArrayLike,
    peak_value: ArrayLike,
    warmup_steps: ArrayLike,
    decay_steps: ArrayLike,
    end_value: ArrayLike = 0.0,
    *,
    hparam_dtype: DTypeLike | None = None,
) -> Schedule:
    r"""Linear warmup to ``peak_value``, then cosine annealing to ``end_value``.

    .. math::
       \eta_k = \begin{cases}
         \eta_0 + (\hat\eta - \eta_0) \, k / W & k < W \\
         \eta_T + \frac{\hat\eta - \eta_T}{2}
           \left(1 + \cos\frac{\pi (\min(k, T) - W)}{T - W}\right) & k \ge W
       \end{cases}

    ``decay_steps`` (:math:`T`) counts the warmup too, as optax does; the value is
    held at ``end_value`` from :math:`T` on. Same as
    ``optax.warmup_cosine_decay_schedule(init_value, peak_value, warmup_steps,
    decay_steps, end_value)`` for ``peak_value > 0`` (optax fails under ``jit``
    for a traced ``peak_value``, and at ``peak_value=0`` stays at 0 where this
    anneals from 0 to ``end_value``), and with ``init_value=0`` the tf-yolov3 formula
    ``step / warmup * lr_init``, then cosine to ``lr_end`` at ``total_steps``. In
    torch: ``SequentialLR([LinearLR, CosineAnnealingLR(T_max=T - W)], [W])``.

    Args:
      init_value: value at step 0, >= 0.
      peak_value: value at the end of the warmup, >= 0.
      warmup_steps: :math:`W`, >= 0 and < ``decay_steps``.
      decay_steps: :math:`T`, total length of warmup plus decay, > 0.
      end_value: value from step :math:`T` on, >= 0.
      hparam_dtype: float dtype of the hyperparameters.

    Returns:
      A :class:`Schedule`.

    Example:
      >>> import jaxsched as js
      >>> s = js.schedules.warmup_cosine_decay(0.0, 0.1, warmup_steps=10,
      ...                                      decay_steps=110)
      >>> print(*[f"{s(k):.3f}" for k in (0, 5, 10, 60, 110)])
      0.000 0.050 0.100 0.050 0.000

    References:
      Goyal et al., `Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour
      <https://arxiv.org/abs/1706.02677>`_, 2017 (gradual warmup);
      Loshchilov and Hutter, `SGDR <https://arxiv.org/abs/1608.03983>`_, 2017.
    """
    require_non_negative(
        init_value=init_value,
        peak_value=peak_value,
        end_value=end_value,
        warmup_steps=warmup_steps,
    )
    require_positive(decay_steps=decay_steps)
    check_less("warmup_steps", warmup_steps, "decay_steps", decay_steps)
    return build(
        _warmup_cosine_decay,
        hparam_dtype,
        init_value=init_value,
        peak_value=peak_value,
        warmup_steps=warmup_steps,
        decay_steps=decay_steps,
        end_value=end_value,
    )


def _warmup_cosine_decay(
    step, *, init_value, peak_value, warmup_steps, decay_steps, end_value
):
    ramp = linear_anneal(init_value, peak_value, safe_div(step, warmup_steps))
    progress = safe_div(
        jnp.minimum(step, decay_steps) - warmup_steps, decay_steps - warmup_steps
    )
    return jnp.where(
        step < warmup_steps, ramp, cosine_anneal(peak_value, end_value, progress)
    )


def _next_length(length, warmup_steps, mult):
    """The next cycle's length, and whether the clamp to 1 step set it."""
    unclamped = jnp.floor((length - warmup_steps) * mult) + warmup_steps
    return jnp.maximum(unclamped, 1), unclamped < 1


def _running(carry, step):
    return ~carry["settled"] & (carry["start"] + carry["length"] <= step)


def _any_running(state):
    carry, constants = state
    return jnp.any(_running(carry, constants["step"]))


def _advance_cycles(state):
    """One pass of :func:`restart_cycle`'s loop: each step still past its cycle
    moves on by one cycle, or by all the remaining ones once lengths are steady."""
    carry, constants = state
    step = constants["step"]
    cycle, start, length = carry["cycle"], carry["start"], carry["length"]
    run = _running(carry, step)
    successor, successor_clamped = _next_length(
        length, constants["warmup_steps"], constants["mult"]
    )
    steady = successor == length
    skipped = jnp.where(steady, floor_div(step - start, length), 1)
    # The cycles after the first that end here, each W + a floor unless
    # clamped: in cycle 0 a steady run's later cycles have the successor's
    # length, past it the current one's.
    later = jnp.where(cycle == 0, skipped - 1, skipped)
    clamped = jnp.where(cycle == 0, successor_clamped, carry["clamped"])
    new = {
        "cycle": cycle + skipped,
        "start": start + skipped * length,
        "length": successor,
        "settled": carry["settled"] | steady,
        "clamped": successor_clamped,
        "with_warmup": carry["with_warmup"] + jnp.where(clamped, 0, later),
    }
    return {k: jnp.where(run, new[k], carry[k]) for k in carry}, constants


def restart_cycle(
    step: jax.Array,
    first_length: jax.Array,
    warmup_steps: jax.Array,
    mult: jax.Array,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    r"""Locates ``step`` in a sequence of restart cycles.

    Cycle lengths follow the seed scheduler's rule
    :math:`L_0` = ``first_length``,
    :math:`L_{c+1} = \max(\lfloor (L_c - W) \, m \rfloor + W, 1)`
    (integer ``mult`` gives SGDR's :math:`L_c = T_0 \, m^c`).

    Once a cycle's successor has the same length, every later cycle has it, and
    the remaining cycles are skipped in one division; before that, lengths grow
    or shrink by at least one step a cycle, so the loop is short. The cycle index
    is piecewise constant in the hyperparameters; the cycle's start and length
    carry their derivatives (the floor's is 0): :math:`L_0` moves with
    ``first_length``, later lengths with :math:`W` (unless clamped to 1), and
    cycle :math:`c`'s start :math:`\sum_{i<c} L_i` with both.

    Returns:
      ``(cycle, t, length)``: the cycle index :math:`c`, the step within the cycle
      :math:`t \in [0, L_c)` and the cycle's length :math:`L_c`, each shaped like
      ``step``.
    """
    traced_first_length, traced_warmup = first_length, warmup_steps
    step, first_length, warmup_steps, mult = (
        lax.stop_gradient(x) for x in (step, first_length, warmup_steps, mult)
    )
    zeros, no = jnp.zeros_like(step), jnp.zeros(step.shape, bool)
    carry = {
        "cycle": zeros,
        "start": zeros,
        "length": zeros + first_length,
        "settled": no,
        "clamped": no,  # the current cycle's length was clamped to 1
        "with_warmup": zeros,  # finished cycles after the first, not clamped
    }
    # the loop's functions are module-level, so that JAX traces and compiles the
    # loop once, not at every eager call
    constants = {"step": step, "warmup_steps": warmup_steps, "mult": mult}
    carry = lax.while_loop(_any_running, _advance_cycles, (carry, constants))[0]
    cycle, start, length = carry["cycle"], carry["start"], carry["length"]
    # The loop's exact values, with the derivatives of start and length attached
    # (zero-valued terms that differentiate as the sums they stand for).
    start_terms = (
        jnp.where(cycle > 0, traced_first_length, 0)
        + carry["with_warmup"] * traced_warmup
    )
    length_terms = jnp.where(
        cycle > 0, jnp.where(carry["clamped"], 0, traced_warmup), traced_first_length
    )
    start = start + (start_terms - lax.stop_gradient(start_terms))
    length = length + (length_terms - lax.stop_gradient(length_terms))
    return cycle, step - start, length


def sgdr(
    init_value: ArrayLike,
    t_0: ArrayLike,
    t_mult: ArrayLike = 1,
    end_value: ArrayLike = 0.0,
    *,
    hparam_dtype: DTypeLike | None = None,
) -> Schedule:
    r"""Cosine annealing with warm restarts (torch ``CosineAnnealingWarmRestarts``).

    .. math::
       \eta_k = \eta_{\min} + \frac{\eta_0 - \eta_{\min}}{2}
                \left(1 + \cos\frac{\pi \, t}{T_c}\right),
       \qquad T_c = T_0 \, m^c

    where cycle :math:`c` contains step :math:`k` and :math:`t` is the step
    within it. Cycles go on forever. (A non-integer :math:`T_0` is allowed, for
    gradients in it: later cycles are then :math:`T_{c+1} = \lfloor T_c m \rfloor`
    steps long.) Same as torch's
    ``CosineAnnealingWarmRestarts(T_0=t_0, T_mult=t_mult, eta_min=end_value)``,
    and ``optax.sgdr_schedule`` given one ``warmup_cosine_decay_schedule`` dict
    (``warmup_steps=0``) per cycle, for ``init_value > 0``.

    Args:
      init_value: value at the start of each cycle, >= 0.
      t_0: length of the first cycle, > 0 (torch: an integer).
      t_mult: integer factor (>= 1) by which each cycle is longer than the last.
      end_value: the value each cycle anneals towards, >= 0.
      hparam_dtype: float dtype of the hyperparameters.

    Returns:
      A :class:`Schedule`.

    Example:
      >>> import jaxsched as js
      >>> s = js.schedules.sgdr(0.1, t_0=10, t_mult=2)
      >>> print(*[f"{s(k):.3f}" for k in (0, 5, 10, 20, 30)])
      0.100 0.050 0.100 0.050 0.100

    References:
      Loshchilov and Hutter, `SGDR: Stochastic Gradient Descent with Warm
      Restarts <https://arxiv.org/abs/1608.03983>`_, 2017.
    """
    require_non_negative(init_value=init_value, end_value=end_value)
    require_positive(t_0=t_0)
    check(
        "t_mult",
        t_mult,
        lambda m: (m >= 1) & (m == np.floor(m)) & np.isfinite(m),
        "a finite integer >= 1",
    )
    return build(
        _sgdr,
        hparam_dtype,
        init_value=init_value,
        t_0=t_0,
        t_mult=t_mult,
        end_value=end_value,
    )


def _sgdr(step, *, init_value, t_0, t_mult, end_value):
    _, t, length = restart_cycle(step, t_0, jnp.zeros_like(t_0), t_mult)
    return cosine_anneal(init_value, end_value, div(t, length))


def cosine_warmup_restarts(
    first_cycle_steps: ArrayLike,
    cycle_mult: ArrayLike = 1.0,
    max_lr: ArrayLike = 0.1,
    min_lr: ArrayLike = 0.001,
    warmup_steps: ArrayLike = 0,
    gamma: ArrayLike = 1.0,
    *,
    hparam_dtype: DTypeLike | None = None,
) -> Schedule:
    r"""Warm restarts with a linear warmup in every cycle and a decaying peak.

    The seed scheduler (``CosineAnnealingWarmupRestarts``, katsura-jp). In cycle
    :math:`c`, of length :math:`L_c`, at step :math:`t` within it, with peak
    :math:`\hat\eta_c = \eta_{\max} \gamma^c`:

    .. math::
       \eta_k = \begin{cases}
         \eta_{\min} + (\hat\eta_c - \eta_{\min}) \, t / W & t < W \\
         \eta_{\min} + \frac{\hat\eta_c - \eta_{\min}}{2}
           \left(1 + \cos\frac{\pi (t - W)}{L_c - W}\right) & t \ge W
       \end{cases}
       \qquad L_{c+1} = \lfloor (L_c - W) \, m \rfloor + W

    with :math:`m` = ``cycle_mult`` (cycles shrink for :math:`m < 1`; once
    :math:`L_c = W` a cycle is all warmup; a cycle is never shorter than one step).
    Cycles go on forever. At step 0 with ``warmup_steps=0`` the value is
    ``max_lr``; the seed class returns ``min_lr`` there, a quirk not copied. Every
    other step equals the seed class, whose lengths are floored in float64: with
    float32 hyperparameters a product :math:`(L_c - W) m` within float32 rounding
    of an integer can floor one lower or higher (``L=100, m=0.29``: 29 steps, the
    seed's 28), and later cycles shift with it; x64 gives the seed's lengths. No
    optax or torch built-in equivalent.

    Args:
      first_cycle_steps: :math:`L_0`, > 0.
      cycle_mult: :math:`m`, > 0.
      max_lr: peak of the first cycle, >= 0.
      min_lr: the floor every cycle starts from and anneals to, >= 0.
      warmup_steps: :math:`W`, >= 0 and < ``first_cycle_steps``.
      gamma: factor on the peak at each restart, > 0.
      hparam_dtype: float dtype of the hyperparameters.

    Returns:
      A :class:`Schedule`.

    Example:
      >>> import jaxsched as js
      >>> s = js.schedules.cosine_warmup_restarts(
      ...     first_cycle_steps=100, max_lr=0.1, min_lr=0.0, warmup_steps=10,
      ...     gamma=0.5)
      >>> print(*[f"{s(k):.3f}" for k in (0, 5, 10, 55, 100, 110)])
      0.000 0.050 0.100 0.050 0.000 0.050

    References:
      katsura-jp, `pytorch-cosine-annealing-with-warmup
      <https://github.com/katsura-jp/pytorch-cosine-annealing-with-warmup>`_;
      Loshchilov and Hutter, `SGDR <https://arxiv.org/abs/1608.03983>`_, 2017.
    """
    require_positive(first_cycle_steps=first_cycle_steps, cycle_mult=cycle_mult)
    require_non_negative(max_lr=max_lr, min_lr=min_lr, warmup_steps=warmup_steps)
    require_positive(gamma=gamma)
    check_less("warmup_steps", warmup_steps, "first_cycle_steps", first_cycle_steps)
    return build(
        _cosine_warmup_restarts,
        hparam_dtype,
        first_cycle_steps=first_cycle_steps,
        cycle_mult=cycle_mult,
        max_lr=max_lr,
        min_lr=min_lr,
        warmup_steps=warmup_steps,
        gamma=gamma,
    )


def _cosine_warmup_restarts(
    step, *, first_cycle_steps, cycle_mult, max_lr, min_lr, warmup_steps, gamma
):
    cycle, t, length = restart_cycle(step, first_cycle_steps, warmup_steps, cycle_mult)
    peak = max_lr * gamma**cycle
    ramp = linear_anneal(min_lr, peak, safe_div(t, warmup_steps))
    progress = safe_div(t - warmup_steps, length - warmup_steps)
    return jnp.where(t < warmup_steps, ramp, cosine_anneal(peak, min_lr, progress))
