r"""The LR range test (Smith 2015, section 3.3), as one compiled ``lax.scan``.

The learning rate grows from ``start_lr`` to ``end_lr`` over ``num_steps`` updates
(geometrically, or linearly), the loss of every step is recorded and smoothed,
and the test stops when the smoothed loss exceeds ``diverge_threshold`` times the
best so far: the step that crosses stays in the history, later entries are NaN
and are not computed from diverged parameters. The rules are torch-lr-finder's:

.. math::
   \eta_i = \eta_0 (\eta_1 / \eta_0)^{i / (N - 1)}, \qquad
   \bar\ell_0 = \ell_0, \quad \bar\ell_i = f \ell_i + (1 - f) \bar\ell_{i-1}

The suggestions are computed on the host from the recorded curve: torch-lr-finder's
steepest descent of the smoothed loss, and fastai's ``valley``, ``slide``,
``minimum`` (a tenth of the lr at the minimum) and ``steep``.
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

from jaxsched._checks import check, check_choice, check_less
from jaxsched.optimizers import sgd
from jaxsched.schedules import lr_range


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class LRFinderResult:
    """The recorded range test: arrays of length ``num_steps`` (NaN after the stop).

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
        ``minimum`` and ``steep``, on fastai's window of the curve."""
        num_steps = np.shape(self.lrs)[-1]

        def fastai(rule):
            return lambda lrs, losses: rule(*_fastai_window(lrs, losses, num_steps))

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
    """torch-lr-finder: the lr where ``np.gradient`` of the loss is most negative."""
    end = len(losses) - skip_end if skip_end else len(losses)
    lrs, losses = lrs[skip_start:end], losses[skip_start:end]
    if len(losses) < 2:
        return float("nan")
    return float(lrs[np.argmin(np.gradient(losses))])


def _fastai_window(lrs, losses, num_steps):
    return lrs[num_steps // 10 : -5], losses[num_steps // 10 : -5]


def valley(lrs: np.ndarray, losses: np.ndarray) -> float:
    """fastai: two thirds down the longest decreasing run of the loss."""
    n = len(losses)
    if n < 2:
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
      data: a pytree of arrays with a leading example axis.
      optimizer: a factory ``learning_rate -> GradientTransformation``
        (``js.sgd``, ``functools.partial(js.sgd, momentum=0.9)``, ``optax.adam``...).
      start_lr: first learning rate, > 0 in exp mode.
      end_lr: last learning rate, > ``start_lr``.
      num_steps: the number of updates, an int >= 2 (static).
      mode: static; ``"exp"`` (geometric ramp) or ``"linear"``.
      batch_size: examples per step, drawn with ``key``; None: the full data.
      smooth: weight of the new loss in the smoothed loss, in (0, 1] (1: none).
      diverge_threshold: stop when the smoothed loss exceeds this times the best,
        > 1.
      key: PRNG key for the minibatches (default ``jax.random.key(0)``); vmap
        over keys for one curve per seed.
      progress: static; a tqdm bar advanced from inside the compiled loop (a host
        callback per step).

    Returns:
      An :class:`LRFinderResult`.

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
    if not isinstance(num_steps, (int, np.integer)) or num_steps < 2:
        raise ValueError(
            f"`num_steps={num_steps!r}` must be an int >= 2 (it is static)."
        )
    if mode == "exp":
        check("start_lr", start_lr, lambda v: v > 0, "> 0 in exp mode")
    else:
        check("start_lr", start_lr, lambda v: v >= 0, ">= 0")
    check_less("start_lr", start_lr, "end_lr", end_lr)
    check("end_lr", end_lr, np.isfinite, "finite")
    check("smooth", smooth, lambda v: (v > 0) & (v <= 1), "in (0, 1]")
    check("diverge_threshold", diverge_threshold, lambda v: v > 1, "> 1")
    sizes = {jnp.shape(x)[0] for x in jax.tree.leaves(data)}
    if len(sizes) != 1:
        raise ValueError(f"`data` leaves must share their leading axis, got {sizes}.")
    (num_examples,) = sizes
    if batch_size is not None and not 0 < batch_size <= num_examples:
        raise ValueError(
            f"`batch_size={batch_size}` is out of range: it must be in "
            f"[1, {num_examples}] (the number of examples in `data`)."
        )
    loss_shape = jax.eval_shape(
        loss_fn, params, jax.tree.map(lambda x: x[:1], data)
    ).shape
    if loss_shape != ():
        raise ValueError(
            f"`loss_fn` must return a scalar, got an array of shape {loss_shape}: "
            "reduce it (e.g. with jnp.mean)."
        )
    key = jax.random.key(0) if key is None else key
    hparams = [
        jnp.asarray(v, jnp.float32)
        for v in (start_lr, end_lr, smooth, diverge_threshold)
    ]
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


@functools.cache
def _range_test(loss_fn, optimizer, num_steps, mode, batch_size, progress=False):
    """The compiled test for one loss, optimizer factory and set of static options."""

    @jax.jit
    def run(params, data, key, start_lr, end_lr, smooth, threshold):
        schedule = lr_range(start_lr, end_lr, num_steps, mode)
        tx = optimizer(schedule)
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
            loss = loss.astype(jnp.float32)
            first = i == 0
            new_smoothed = jnp.where(
                first, loss, smooth * loss + (1 - smooth) * smoothed
            )
            new_best = jnp.where(first, new_smoothed, jnp.minimum(best, new_smoothed))
            diverged = new_smoothed > threshold * new_best
            updates, new_state = tx.update(grads, state, params)
            new_params = optax.apply_updates(params, updates)
            active = ~stopped
            keep = active & ~diverged  # no update computed from here on is used

            def pick(new, old):
                return jax.tree.map(lambda n, o: jnp.where(keep, n, o), new, old)

            nan = jnp.float32(jnp.nan)
            record = (
                jnp.where(active, schedule(i).astype(jnp.float32), nan),
                jnp.where(active, loss, nan),
                jnp.where(active, new_smoothed, nan),
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
            jnp.float32(0),
            jnp.float32(jnp.inf),
            jnp.bool_(False),
        )
        steps = jnp.arange(num_steps)
        _, (lrs, losses, smoothed) = jax.lax.scan(
            step, init, (steps, jax.random.split(key, num_steps))
        )
        stop_step = jnp.sum(~jnp.isnan(losses)) - 1
        return LRFinderResult(lrs, losses, smoothed, stop_step)

    return run
