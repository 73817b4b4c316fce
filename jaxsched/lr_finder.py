r"""The LR range test (Smith 2015, section 3.3), as one compiled ``lax.scan``.

The learning rate grows from ``start_lr`` to ``end_lr`` over ``num_steps`` updates
(geometrically, or linearly), the loss of every step is recorded and smoothed,
and the test stops when the smoothed loss exceeds ``diverge_threshold`` times the
best so far: the step that crosses stays in the history, later entries are NaN
and are not computed from diverged parameters. The rules are torch-lr-finder's:

.. math::
   \eta_i = \eta_0 (\eta_1 / \eta_0)^{i / (N - 1)}, \qquad
   \bar\ell_0 = \ell_0, \quad \bar\ell_i = f \ell_i + (1 - f) \bar\ell_{i-1}

with :math:`\bar\ell_i = \ell_i` when :math:`f = 1` (no smoothing). The best loss is
:math:`\bar\ell_0`, replaced by each smoothed loss below it, and step :math:`i`
stops the test when :math:`\bar\ell_i > \text{threshold} \cdot \text{best}`
(for a finite best loss of 0 or below, when :math:`\bar\ell_i - \text{best} >
(\text{threshold} - 1) \, |\text{best}|`: the same rise, where torch-lr-finder's
rule would stop a negative loss, a log-likelihood, at its first step).
NaN losses follow from these rules, as in torch-lr-finder: a NaN never replaces the
best loss and never stops the test. With :math:`f < 1` every smoothed loss after a
NaN is NaN, so the test runs to the end; with :math:`f = 1` the NaN is recorded and
the later steps are compared with the best finite loss; a NaN first loss is the
best loss for good and the test runs to the end.

The suggestions are computed on the host from the recorded curve: torch-lr-finder's
steepest descent of the smoothed loss, and fastai's ``valley``, ``slide``,
``minimum`` (a tenth of the lr at the minimum) and ``steep`` on fastai's window of
the curve, cut at its first NaN.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxsched._checks import check, check_choice, check_less, is_int
from jaxsched.optimizers import sgd
from jaxsched.schedules import lr_range
from jaxsched.schedules._core import float_dtype


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class LRFinderResult:
    """The recorded range test: arrays of length ``num_steps`` (NaN after the stop),
    in JAX's default float type (float64 when x64 is enabled).

    With ``jax.vmap`` over keys every field gets a leading seed axis, and the
    suggestions are computed per seed.

    Attributes:
      lrs: the learning rate of each step.
      losses: the loss of each step (before its update).
      smoothed: the smoothed loss.
      stop_step: the index of the last step run.
    """

    lrs: jax.Array
    losses: jax.Array
    smoothed: jax.Array
    stop_step: jax.Array

    def _curves(self):
        lrs, smoothed = (
            np.asarray(self.lrs, np.float64),
            np.asarray(self.smoothed, np.float64),
        )
        stops = np.asarray(self.stop_step)
        if lrs.ndim == 1:
            return [(lrs[: stops + 1], smoothed[: stops + 1])], False
        curves = zip(lrs, smoothed, stops, strict=True)
        return [(x[: s + 1], y[: s + 1]) for x, y, s in curves], True

    def _per_curve(self, fn) -> Any:
        curves, batched = self._curves()
        values = [fn(lrs, losses) for lrs, losses in curves]
        return np.asarray(values) if batched else values[0]

    @property
    def suggestion(self) -> float | np.ndarray:
        """torch-lr-finder's suggestion: the steepest descent of the smoothed loss."""
        return self._per_curve(steepest)

    @property
    def suggestions(self) -> dict[str, float | np.ndarray]:
        """``steepest`` (torch-lr-finder) and fastai's ``valley``, ``slide``,
        ``minimum`` and ``steep``, on fastai's window of the curve (steps
        ``num_steps // 10`` to 5 before the last run, up to the first NaN), in
        float32 as fastai computes them; NaN where a rule has too few points
        (fastai and torch-lr-finder raise)."""
        num_steps = np.shape(self.lrs)[-1]

        def fastai(rule):  # on float32 copies, as fastai's tensors of its records
            return lambda lrs, losses: rule(
                *_fastai_window(
                    lrs.astype(np.float32), losses.astype(np.float32), num_steps
                )
            )

        return {
            "steepest": self.suggestion,
            "valley": self._per_curve(fastai(valley)),
            "slide": self._per_curve(fastai(slide)),
            "minimum": self._per_curve(fastai(minimum)),
            "steep": self._per_curve(fastai(steep)),
        }

    def plot(self, ax=None):
        """Smoothed loss against the learning rate (log scale), suggestion marked."""
        from jaxsched import plot

        return plot.lr_find(self, ax)


def steepest(
    lrs: np.ndarray, losses: np.ndarray, skip_start: int = 10, skip_end: int = 5
):
    """torch-lr-finder: the lr where ``np.gradient`` of the loss is most negative,
    ``skip_start`` points from the start and ``skip_end`` from the end left out,
    and the rest cut at its first NaN (torch-lr-finder's ``argmin`` picks the
    NaN); NaN where fewer than 2 points remain (torch-lr-finder raises)."""
    for name, skip in (("skip_start", skip_start), ("skip_end", skip_end)):
        if not is_int(skip) or skip < 0:
            raise ValueError(f"`{name}={skip!r}` must be an int >= 0.")
    end = max(len(losses) - skip_end, 0)
    lrs, losses = _before_nan(lrs[skip_start:end], losses[skip_start:end])
    if len(losses) < 2:
        return float("nan")
    return float(lrs[np.argmin(np.gradient(losses))])


def _fastai_window(lrs, losses, num_steps):
    return _before_nan(lrs[num_steps // 10 : -5], losses[num_steps // 10 : -5])


def _before_nan(lrs, losses):
    """The curve up to its first NaN loss."""
    end = np.argmax(np.isnan(losses)) if np.isnan(losses).any() else len(losses)
    return lrs[:end], losses[:end]


def valley(lrs: np.ndarray, losses: np.ndarray) -> float:
    """fastai: two thirds down the longest decreasing run of the loss."""
    n = len(losses)
    if n == 0:
        return float("nan")
    longest = [1] * n
    max_start = max_end = 0
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j] and longest[i] < longest[j] + 1:
                longest[i] = longest[j] + 1
            if longest[max_end] < longest[i]:
                max_end = i
                max_start = max_end - longest[max_end]
    sections = (max_end - max_start) / 3
    return float(lrs[max_start + int(sections) + int(sections / 2)])


def slide(
    lrs: np.ndarray,
    losses: np.ndarray,
    lr_diff: int = 15,
    thresh: float = 0.005,
    adjust_value: float = 1.0,
) -> float:
    """fastai: slide a window back from the end until the loss slope flattens."""
    if len(losses) <= lr_diff:
        return float("nan")
    grad = np.gradient(losses)
    right, left = -1, -1 - lr_diff
    local_min_lr = lrs[left]
    while left >= -len(losses) and abs(grad[right] - grad[left]) > thresh:
        local_min_lr = lrs[left]
        right, left = right - 1, left - 1
    return float(local_min_lr) * adjust_value


def minimum(lrs: np.ndarray, losses: np.ndarray) -> float:
    """fastai: a tenth of the lr at the minimum loss."""
    return float(lrs[np.argmin(losses)]) / 10 if len(losses) else float("nan")


def steep(lrs: np.ndarray, losses: np.ndarray) -> float:
    """fastai: the lr where the loss falls fastest against log(lr)."""
    if len(losses) < 2:
        return float("nan")
    grads = np.diff(losses) / np.diff(np.log(lrs))
    return float(lrs[np.argmin(grads)])


def lr_find(
    loss_fn: Callable[[Any, Any], jax.Array],
    params: Any,
    data: Any,
    *,
    optimizer: Callable[[Any], optax.GradientTransformation] = sgd,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_steps: int = 100,
    mode: str = "exp",
    batch_size: int | None = None,
    smooth: float = 0.05,
    diverge_threshold: float = 4.0,
    key: jax.Array | None = None,
    progress: bool = False,
) -> LRFinderResult:
    r"""Runs the LR range test: one compilation, one device call.

    Args:
      loss_fn: ``loss_fn(params, batch) -> scalar``.
      params: the initial parameters (not modified).
      data: a pytree of at least one array, every leaf with the same leading
        example axis.
      optimizer: a factory ``learning_rate -> GradientTransformation``
        (``js.sgd``, ``functools.partial(js.sgd, momentum=0.9)``, ``optax.adam``...).
      start_lr: first learning rate, a scalar > 0 in exp mode.
      end_lr: last learning rate, a scalar > ``start_lr``.
      num_steps: the number of updates, an int >= 2 (static).
      mode: static; ``"exp"`` (geometric ramp) or ``"linear"``.
      batch_size: examples per step, an int, drawn with ``key``; None: the full
        data.
      smooth: weight of the new loss in the smoothed loss, a scalar in (0, 1]
        (1: none, the smoothed loss is the loss).
      diverge_threshold: stop when the smoothed loss exceeds this times the best
        (a finite best of 0 or below: when it rises above it by this minus 1
        times its magnitude), a scalar > 1 (NaN losses: see the module
        docstring).
      key: PRNG key for the minibatches (default ``jax.random.key(0)``); vmap
        over keys for one curve per seed.
      progress: static; a tqdm bar advanced from inside the compiled loop (a host
        callback per step).

    Returns:
      An :class:`LRFinderResult` in JAX's default float type; ``stop_step`` is the
      last step run, whatever the losses (NaN included).

    The seed recipe (start at 1e-5, multiply by :math:`(1/10^{-5})^{1/100}` each
    step, stop when the loss exceeds 4x the best or the rate passes 1) is
    ``lr_find(..., start_lr=1e-5, end_lr=1.0, num_steps=101, smooth=1.0,
    diverge_threshold=4.0)``.

    Example:
      >>> import jax.numpy as jnp, jaxsched as js
      >>> x = jnp.linspace(-1, 1, 32)
      >>> data = (x, 2 * x + 0.3 * jnp.sin(7 * x))
      >>> def loss(w, batch):
      ...     x, y = batch
      ...     return jnp.mean((w * x - y) ** 2)
      >>> result = js.lr_find(loss, jnp.float32(0.0), data, start_lr=1e-4, end_lr=100.0)
      >>> print(int(result.stop_step), f"{result.suggestion:.3f}")
      88 0.248

    References:
      Smith, `Cyclical Learning Rates for Training Neural Networks
      <https://arxiv.org/abs/1506.01186>`_, 2015 (section 3.3).
    """
    check_choice("mode", mode, ("exp", "linear"))
    if not is_int(num_steps) or num_steps < 2:
        raise ValueError(
            f"`num_steps={num_steps!r}` must be an int >= 2 (it is static)."
        )
    hparams = dict(
        start_lr=start_lr,
        end_lr=end_lr,
        smooth=smooth,
        diverge_threshold=diverge_threshold,
    )
    for name, value in hparams.items():
        if np.ndim(value) != 0:
            raise ValueError(
                f"`{name}` must be a scalar, got shape {np.shape(value)}: call "
                "`lr_find` once per value, or `jax.vmap` over a function that does."
            )
    if mode == "exp":
        check("start_lr", start_lr, lambda v: v > 0, "> 0 in exp mode")
    else:
        check("start_lr", start_lr, lambda v: v >= 0, ">= 0")
    check_less("start_lr", start_lr, "end_lr", end_lr)
    check("end_lr", end_lr, np.isfinite, "finite")
    check("smooth", smooth, lambda v: (v > 0) & (v <= 1), "in (0, 1]")
    check("diverge_threshold", diverge_threshold, lambda v: v > 1, "> 1")
    leaves = jax.tree.leaves(data)
    if not leaves:
        raise ValueError(
            "`data` holds no arrays: it must be a pytree of at least one array with "
            "a leading example axis, e.g. `(x, y)`."
        )
    if any(np.ndim(x) == 0 for x in leaves):
        raise ValueError(
            "`data` leaves must have a leading example axis, got a scalar: close "
            "over values shared by all examples in `loss_fn` instead."
        )
    sizes = {np.shape(x)[0] for x in leaves}
    if len(sizes) != 1:
        raise ValueError(f"`data` leaves must share their leading axis, got {sizes}.")
    (num_examples,) = sizes
    if batch_size is not None and not (
        is_int(batch_size) and 0 < batch_size <= num_examples
    ):
        raise ValueError(
            f"`batch_size={batch_size!r}` must be an int in [1, {num_examples}] (the "
            "number of examples in `data`), or None for the full data."
        )
    batch = data if batch_size is None else jax.tree.map(lambda x: x[:batch_size], data)
    loss_shape = jax.eval_shape(loss_fn, params, batch).shape
    if loss_shape != ():
        raise ValueError(
            f"`loss_fn` must return a scalar, got an array of shape {loss_shape}: "
            "reduce it (e.g. with jnp.mean)."
        )
    try:
        hash((loss_fn, optimizer))
    except TypeError as error:
        raise ValueError(
            "`loss_fn` and `optimizer` must be hashable (the compiled test is "
            "cached by them): pass a function, a functools.partial, or a frozen "
            "dataclass."
        ) from error
    key = jax.random.key(0) if key is None else key
    dtype = float_dtype()
    hparams = [jnp.asarray(v, dtype) for v in hparams.values()]
    run = _range_test(loss_fn, optimizer, num_steps, mode, batch_size, progress)
    if not progress:
        return run(params, data, key, *hparams)
    with _progress_bar(num_steps):
        return run(params, data, key, *hparams)


_BAR: list[Any] = []


class _progress_bar:
    """A tqdm bar that the compiled loop advances through a host callback."""

    def __init__(self, total: int):
        try:
            from tqdm.auto import tqdm
        except ImportError as error:  # pragma: no cover - depends on the install
            raise ImportError("`progress=True` needs tqdm: pip install tqdm") from error
        self.bar = tqdm(total=total, desc="lr_find", unit="step")

    def __enter__(self):
        _BAR.append(self.bar)

    def __exit__(self, *exc):
        jax.effects_barrier()
        _BAR.remove(self.bar)
        self.bar.close()


def _advance(_):
    if _BAR:
        _BAR[-1].update(1)


@functools.lru_cache(maxsize=32)  # bounded: it keeps each loss_fn alive
def _range_test(loss_fn, optimizer, num_steps, mode, batch_size, progress=False):
    """The compiled test for one loss, optimizer factory and set of static options."""

    @jax.jit
    def run(params, data, key, start_lr, end_lr, smooth, threshold):
        schedule = lr_range(start_lr, end_lr, num_steps, mode)
        tx = optimizer(schedule)
        dtype = start_lr.dtype
        num_examples = jax.tree.leaves(data)[0].shape[0]

        def step(carry, inputs):
            params, state, smoothed, best, stopped = carry
            i, step_key = inputs
            if progress:
                jax.debug.callback(_advance, i)
            if batch_size is None:
                batch = data
            else:
                idx = jax.random.choice(
                    step_key, num_examples, (batch_size,), replace=False
                )
                batch = jax.tree.map(lambda x: x[idx], data)
            loss, grads = jax.value_and_grad(loss_fn)(params, batch)
            loss = loss.astype(dtype)
            first = i == 0
            new_smoothed = jnp.where(
                first | (smooth == 1), loss, smooth * loss + (1 - smooth) * smoothed
            )
            # Not jnp.minimum: a NaN never replaces the best loss (torch-lr-finder).
            new_best = jnp.where(first | (new_smoothed < best), new_smoothed, best)
            # torch's limit, threshold * best, where best > 0 (or not finite);
            # at or below 0 the same rise, (threshold - 1) |best| above it
            limit = jnp.where(
                (new_best > 0) | ~jnp.isfinite(new_best),
                threshold * new_best,
                new_best - (threshold - 1) * new_best,
            )
            diverged = new_smoothed > limit
            updates, new_state = tx.update(grads, state, params)
            new_params = optax.apply_updates(params, updates)
            active = ~stopped
            keep = active & ~diverged  # no update computed from here on is used

            def pick(new, old):
                return jax.tree.map(lambda n, o: jnp.where(keep, n, o), new, old)

            nan = jnp.asarray(jnp.nan, dtype)
            record = (
                jnp.where(active, schedule(i).astype(dtype), nan),
                jnp.where(active, loss, nan),
                jnp.where(active, new_smoothed, nan),
                active,
            )
            carry = (
                pick(new_params, params),
                pick(new_state, state),
                jnp.where(active, new_smoothed, smoothed),
                jnp.where(active, new_best, best),
                stopped | diverged,
            )
            return carry, record

        init = (
            params,
            tx.init(params),
            jnp.zeros((), dtype),
            jnp.asarray(jnp.inf, dtype),
            jnp.bool_(False),
        )
        steps = jnp.arange(num_steps)
        _, (lrs, losses, smoothed, ran) = jax.lax.scan(
            step, init, (steps, jax.random.split(key, num_steps))
        )
        return LRFinderResult(lrs, losses, smoothed, jnp.sum(ran) - 1)

    return run
