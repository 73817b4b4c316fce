r"""Cyclical schedules: torch's ``CyclicLR`` and ``OneCycleLR``."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike, DTypeLike

from jaxsched._checks import (
    check,
    check_choice,
    check_flag,
    require_non_negative,
    require_positive,
)
from jaxsched.schedules._core import Schedule, build
from jaxsched.schedules._math import (
    cosine_anneal,
    div,
    floor_div,
    linear_anneal,
    safe_div,
)

CYCLIC_MODES = ("triangular", "triangular2", "exp_range")


def cyclic(
    base_value: ArrayLike,
    max_value: ArrayLike,
    step_size_up: ArrayLike,
    step_size_down: ArrayLike | None = None,
    mode: str = "triangular",
    gamma: ArrayLike = 1.0,
    *,
    scale_fn: Callable[[jax.Array], jax.Array] | None = None,
    scale_mode: str = "cycle",
    hparam_dtype: DTypeLike | None = None,
) -> Schedule:
    r"""Cyclical learning rate (torch ``CyclicLR``, Smith 2015).

    With :math:`u` = ``step_size_up``, :math:`d` = ``step_size_down``:

    .. math::
       c = \left\lfloor \frac{k}{u + d} \right\rfloor + 1, \quad
       t = k - (c - 1)(u + d), \quad
       h = \begin{cases} t / u & t \le u \\ (u + d - t) / d & t > u \end{cases}

    .. math:: \eta_k = \eta_{\text{base}} + (\eta_{\max} - \eta_{\text{base}})\, h\,
              s

    where the scale :math:`s` is 1 (``"triangular"``), :math:`2^{1 - c}`
    (``"triangular2"``) or :math:`\gamma^k` (``"exp_range"``), or
    ``scale_fn(c)`` / ``scale_fn(k)`` (``scale_mode="cycle"`` / ``"iterations"``)
    when ``scale_fn`` is given, as in torch. Cycles go on forever. Same as torch's
    ``CyclicLR(base_lr, max_lr, step_size_up, step_size_down, mode, gamma,
    scale_fn, scale_mode, cycle_momentum=False)``; torch's momentum cycle is
    ``cyclic(max_momentum, base_momentum, ...)`` (the same shape, inverted).

    Args:
      base_value: value at the start of each cycle, >= 0.
      max_value: value at the top of each cycle, >= 0.
      step_size_up: steps from base to top, > 0.
      step_size_down: steps from top back to base, > 0 (``None``: equal to
        ``step_size_up``).
      mode: static; ``"triangular"``, ``"triangular2"`` or ``"exp_range"``
        (ignored when ``scale_fn`` is given).
      gamma: the factor of ``"exp_range"``, > 0.
      scale_fn: static; a custom scale, ``jnp`` math of one array argument.
      scale_mode: static; ``"cycle"`` or ``"iterations"``, what ``scale_fn`` gets.
      hparam_dtype: float dtype of the hyperparameters.

    Returns:
      A :class:`Schedule`.

    Example:
      >>> import jaxsched as js
      >>> s = js.schedules.cyclic(0.001, 0.1, step_size_up=20, mode="triangular2")
      >>> print(*[f"{s(k):.4f}" for k in (0, 10, 20, 40, 60)])
      0.0010 0.0505 0.1000 0.0010 0.0505

    References:
      Smith, `Cyclical Learning Rates for Training Neural Networks
      <https://arxiv.org/abs/1506.01186>`_, 2015.
    """
    if scale_fn is None:
        check_choice("mode", mode, CYCLIC_MODES)
    elif not callable(scale_fn):
        raise ValueError(f"`scale_fn={scale_fn!r}` is not callable.")
    check_choice("scale_mode", scale_mode, ("cycle", "iterations"))
    if step_size_down is None:
        step_size_down = step_size_up
    require_non_negative(base_value=base_value, max_value=max_value)
    require_positive(
        step_size_up=step_size_up, step_size_down=step_size_down, gamma=gamma
    )
    return build(
        _cyclic,
        hparam_dtype,
        {"mode": mode, "scale_fn": scale_fn, "scale_mode": scale_mode},
        base_value=base_value,
        max_value=max_value,
        step_size_up=step_size_up,
        step_size_down=step_size_down,
        gamma=gamma,
    )


def _cyclic(
    step,
    *,
    base_value,
    max_value,
    step_size_up,
    step_size_down,
    gamma,
    mode,
    scale_fn,
    scale_mode,
):
    total = step_size_up + step_size_down
    cycle = floor_div(step, total) + 1
    t = step - (cycle - 1) * total  # step within the cycle, exact in floats
    height = jnp.where(
        t <= step_size_up, div(t, step_size_up), div(total - t, step_size_down)
    )
    if scale_fn is not None:
        scale = scale_fn(cycle if scale_mode == "cycle" else step)
    elif mode == "triangular":
        scale = 1.0
    elif mode == "triangular2":
        scale = 1 / 2 ** (cycle - 1)
    else:  # "exp_range"; at a cycle's end (height 0) gamma**0, not 0 * inf once
        # gamma > 1 overflows (nor a NaN gradient)
        scale = gamma ** jnp.where(height > 0, step, 0.0)
    return base_value + (max_value - base_value) * height * scale


def one_cycle(
    max_value: ArrayLike,
    total_steps: ArrayLike,
    pct_start: ArrayLike = 0.3,
    div_factor: ArrayLike = 25.0,
    final_div_factor: ArrayLike = 1e4,
    anneal: str = "cos",
    three_phase: bool = False,
    *,
    hparam_dtype: DTypeLike | None = None,
) -> Schedule:
    r"""The 1cycle policy (torch ``OneCycleLR``, Smith and Topin 2017).

    From :math:`\eta_0 = \eta_{\max} / \text{div\_factor}` up to
    :math:`\eta_{\max}`, then down to
    :math:`\eta_{\min} = \eta_0 / \text{final\_div\_factor}`, annealing with
    :math:`a(s, e, p) = e + \frac{s - e}{2}(1 + \cos \pi p)` (``"cos"``) or
    :math:`s + (e - s) p` (``"linear"``). With :math:`T` = ``total_steps`` and
    torch's phase ends :math:`e_1 = p_s T - 1`, :math:`e_2 = 2 p_s T - 2`:

    .. math::
       \eta_k = \begin{cases}
         a(\eta_0, \eta_{\max}, k / e_1) & k \le e_1 \\
         a(\eta_{\max}, \eta_{\min}, (k - e_1) / (T - 1 - e_1))
           & \text{otherwise (two phases)}
       \end{cases}

    and with ``three_phase`` the second phase returns to :math:`\eta_0` at
    :math:`e_2` and a third anneals to :math:`\eta_{\min}` at :math:`T - 1`.
    The value is held at :math:`\eta_{\min}` from :math:`T - 1` on (torch raises
    past :math:`T` and extrapolates at :math:`T`).

    Same as torch's ``OneCycleLR(max_lr, total_steps, pct_start,
    anneal_strategy, div_factor, final_div_factor, three_phase)`` for steps
    :math:`0 \ldots T - 1`. ``optax.cosine_onecycle_schedule`` and
    ``linear_onecycle_schedule`` place the phase boundaries differently.

    Args:
      max_value: the peak, >= 0.
      total_steps: :math:`T`, > 0.
      pct_start: fraction of the steps spent rising, in (0, 1) (and < 0.5 with
        ``three_phase``).
      div_factor: ``max_value / initial value``, > 0.
      final_div_factor: ``initial value / final value``, > 0.
      anneal: static; ``"cos"`` or ``"linear"``.
      three_phase: static; return to the initial value before the final descent.
      hparam_dtype: float dtype of the hyperparameters.

    Returns:
      A :class:`Schedule`.

    Example:
      >>> import jaxsched as js
      >>> s = js.schedules.one_cycle(0.1, total_steps=100, pct_start=0.3)
      >>> print(*[f"{s(k):.3g}" for k in (0, 29, 99, 500)])
      0.004 0.1 4e-07 4e-07

    References:
      Smith and Topin, `Super-Convergence: Very Fast Training of Neural Networks
      Using Large Learning Rates <https://arxiv.org/abs/1708.07120>`_, 2017.
    """
    check_choice("anneal", anneal, ("cos", "linear"))
    three_phase = check_flag("three_phase", three_phase)
    require_non_negative(max_value=max_value)
    require_positive(
        total_steps=total_steps,
        div_factor=div_factor,
        final_div_factor=final_div_factor,
    )
    if three_phase:
        check("pct_start", pct_start, lambda p: (p > 0) & (p < 0.5), "in (0, 0.5)")
    else:
        check("pct_start", pct_start, lambda p: (p > 0) & (p < 1), "in (0, 1)")
    return build(
        _one_cycle,
        hparam_dtype,
        {"anneal": anneal, "three_phase": three_phase},
        max_value=max_value,
        total_steps=total_steps,
        pct_start=pct_start,
        div_factor=div_factor,
        final_div_factor=final_div_factor,
    )


def _one_cycle(
    step,
    *,
    max_value,
    total_steps,
    pct_start,
    div_factor,
    final_div_factor,
    anneal,
    three_phase,
):
    anneal_fn = cosine_anneal if anneal == "cos" else linear_anneal
    initial = max_value / div_factor
    final = initial / final_div_factor
    last = total_steps - 1
    step = jnp.minimum(step, last)
    if three_phase:
        counts = [pct_start * total_steps, 2 * pct_start * total_steps]
        levels = [initial, max_value, initial, final]
    else:
        counts = [pct_start * total_steps]
        levels = [initial, max_value, final]
    # torch's phase i ends at step counts[i] - (i + 1); the last at the last step
    ends = [count - (i + 1) for i, count in enumerate(counts)] + [last]
    # As torch: the first phase whose end is >= step, else the last phase.
    value = None
    for i in reversed(range(len(ends))):
        start = ends[i - 1] if i > 0 else jnp.zeros_like(last)
        progress = safe_div(step - start, ends[i] - start)
        phase_value = anneal_fn(levels[i], levels[i + 1], progress)
        if value is None:
            value = phase_value
        else:  # step <= ends[i] without a subtraction XLA would fuse with the
            # product into a multiply-add under jit (an end of exactly 0 became
            # -5e-17, and step 0 moved to the next phase)
            value = jnp.where(step + (i + 1) <= counts[i], phase_value, value)
    return value
