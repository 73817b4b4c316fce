"""Plots of schedules (matplotlib, the optional ``plot`` extra).

Lines differ in style as well as colour, so that plots read in black and white.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import jax.numpy as jnp
import numpy as np

from jaxsched.schedules import Schedule

if TYPE_CHECKING:
    from matplotlib.axes import Axes

LINE_STYLES = ("-", "--", "-.", ":")


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - depends on the install
        raise ImportError(
            "jaxsched.plot needs matplotlib: pip install 'jaxsched[plot]'."
        ) from error
    return plt


def schedule(
    schedules: Schedule | Sequence[Schedule],
    num_steps: int,
    ax: Axes | None = None,
    *,
    labels: Sequence[str] | None = None,
    log: bool = False,
    **line_kwargs: Any,
) -> Axes:
    """Draws one or several schedules over steps ``0 .. num_steps - 1``.

    Args:
      schedules: a schedule or a sequence of them (any ``step -> value`` callable).
      num_steps: how many steps to draw, > 0.
      ax: the matplotlib axes to draw on (default: a new figure).
      labels: legend labels (default: each schedule's repr).
      log: log-scale the value axis (for schedules spanning decades).
      **line_kwargs: passed to ``ax.plot``.

    Returns:
      The axes.

    Example:
      >>> import matplotlib
      >>> matplotlib.use("Agg")
      >>> import jaxsched as js
      >>> ax = js.plot.schedule([js.schedules.cosine_decay(0.1, 100),
      ...                        js.schedules.step_decay(0.1, 30, 0.5)], 120)
      >>> print(ax.get_xlabel(), "/", ax.get_ylabel())
      step / learning rate
    """
    if isinstance(schedules, Schedule) or callable(schedules):
        schedules = [schedules]
    if int(num_steps) <= 0:
        raise ValueError(f"`num_steps={num_steps}` is out of range: it must be > 0.")
    if labels is None:
        labels = [repr(s) for s in schedules]
    if len(labels) != len(schedules):
        raise ValueError(
            f"`labels` has {len(labels)} entries for {len(schedules)} schedules."
        )
    if ax is None:
        _, ax = _pyplot().subplots(figsize=(7, 4))
    steps = np.arange(int(num_steps))
    for i, (s, label) in enumerate(zip(schedules, labels, strict=True)):
        values = np.asarray(s(jnp.asarray(steps)))
        ax.plot(
            steps, values, LINE_STYLES[i % len(LINE_STYLES)], label=label, **line_kwargs
        )
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    if log:
        ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def lr_find(result, ax: Axes | None = None, *, suggestion: bool = True) -> Axes:
    """Draws an LR range test: smoothed loss against the learning rate (log scale).

    With a result vmapped over seeds, draws the median curve and the band between
    the lowest and highest curves. The suggestion (torch-lr-finder's steepest
    descent) is marked.

    Args:
      result: a :class:`jaxsched.lr_finder.LRFinderResult`.
      ax: the matplotlib axes to draw on (default: a new figure).
      suggestion: mark the suggested learning rate.

    Returns:
      The axes.
    """
    if ax is None:
        _, ax = _pyplot().subplots(figsize=(7, 4))
    lrs = np.atleast_2d(np.asarray(result.lrs, np.float64))
    smoothed = np.atleast_2d(np.asarray(result.smoothed, np.float64))
    run = ~np.all(np.isnan(smoothed), axis=0)  # steps that some seed ran
    lrs, smoothed = lrs[:, run], smoothed[:, run]
    x = np.nanmedian(lrs, axis=0)
    if len(smoothed) > 1:
        ax.fill_between(
            x,
            np.nanmin(smoothed, 0),
            np.nanmax(smoothed, 0),
            alpha=0.25,
            color="0.5",
            label=f"{len(smoothed)} seeds",
        )
    ax.plot(x, np.nanmedian(smoothed, axis=0), "-", color="k", label="smoothed loss")
    if suggestion:
        lr = float(np.nanmedian(np.atleast_1d(result.suggestion)))
        ax.axvline(lr, linestyle="--", color="0.3", label=f"suggestion {lr:.2g}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return ax
