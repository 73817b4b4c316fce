"""Plots of schedules (matplotlib, the optional ``plot`` extra).

Lines differ in style as well as colour, so that plots read in black and white.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import jax.numpy as jnp
import numpy as np

from jaxsched._checks import check_choice
from jaxsched.schedules import Schedule
from jaxsched.sweep import MODES

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
    suggested = np.atleast_1d(np.asarray(result.suggestion, np.float64))
    if suggestion and np.isfinite(suggested).any():  # NaN: too short to suggest
        lr = float(np.nanmedian(suggested))
        ax.axvline(lr, linestyle="--", color="0.3", label=f"suggestion {lr:.2g}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def sweep(
    result,
    x: str,
    y: str | None = None,
    metric: str = "val_accuracy",
    ax: Axes | None = None,
    *,
    mode: str = "max",
) -> Axes:
    """Draws a sweep: a metric over one axis (lines, seeds as bands) or two (heatmap).

    With ``y=None``: the mean over seeds against ``x``, mean ± std as a band, one
    line per combination of the other axes. With ``y``: a heatmap of the best
    (``mode``) mean over the other axes. Configurations with a diverged seed are
    left out (blank cells).

    Args:
      result: a :class:`jaxsched.sweep.SweepResult`.
      x: the axis along x (log scale when positive and spanning over a decade).
      y: the second axis, for a heatmap.
      metric: the metric to draw (a curve is scored by its last value).
      ax: the matplotlib axes to draw on (default: a new figure).
      mode: ``"max"`` or ``"min"``: which value is best.

    Returns:
      The axes.
    """
    check_choice("mode", mode, MODES)
    if ax is None:
        _, ax = _pyplot().subplots(figsize=(7, 4))
    for name in (x, y):
        if name is not None and name not in result.hparams:
            raise ValueError(
                f"Unknown axis {name!r}; the sweep has {list(result.hparams)}."
            )
    scores = result.scores(metric)
    mean = np.where(result.diverged.any(axis=1), np.nan, scores.mean(axis=1))
    std = scores.std(axis=1)
    xs = np.asarray(result.hparams[x])
    if y is None:
        others = [
            n
            for n in result.hparams
            if n != x and len(set(result.hparams[n].tolist())) > 1
        ]
        groups = {}
        for i in range(len(xs)):
            groups.setdefault(tuple(result.hparams[n][i] for n in others), []).append(i)
        for k, (group, rows) in enumerate(groups.items()):
            rows = np.asarray(rows)[np.argsort(xs[rows])]
            label = ", ".join(f"{n}={v}" for n, v in zip(others, group, strict=True))
            line = ax.plot(
                xs[rows],
                mean[rows],
                LINE_STYLES[k % len(LINE_STYLES)],
                marker="o",
                markersize=3,
                label=label or metric,
            )[0]
            ax.fill_between(
                xs[rows],
                mean[rows] - std[rows],
                mean[rows] + std[rows],
                alpha=0.2,
                color=line.get_color(),
            )
        ax.set_ylabel(f"{metric} (mean ± std over seeds)")
        if len(groups) > 1:
            ax.legend(fontsize="small")
    else:
        x_values, y_values = _levels(xs), _levels(result.hparams[y])
        column = {v: c for c, v in enumerate(x_values)}
        row = {v: r for r, v in enumerate(y_values)}
        cells = np.full((len(y_values), len(x_values)), np.nan)
        pairs = zip(xs.tolist(), result.hparams[y].tolist(), strict=True)
        for i, (x_i, y_i) in enumerate(pairs):
            r, c = row[y_i], column[x_i]
            if not np.isnan(mean[i]):
                better = np.nanmax if mode == "max" else np.nanmin
                cells[r, c] = better([cells[r, c], mean[i]])
        image = ax.imshow(cells, aspect="auto", origin="lower", cmap="viridis")
        ax.figure.colorbar(image, ax=ax, label=f"best {metric}")
        ax.set_xticks(range(len(x_values)), [_tick(v) for v in x_values], rotation=45)
        ax.set_yticks(range(len(y_values)), [str(v) for v in y_values])
        ax.set_ylabel(y)
    if (
        y is None
        and np.issubdtype(xs.dtype, np.number)
        and xs.min() > 0
        and (xs.max() / xs.min() > 10)
    ):
        ax.set_xscale("log")
    ax.set_xlabel(x)
    return ax


def _levels(values: np.ndarray) -> list:
    """An axis' distinct values: sorted, or in order of appearance for values that
    cannot be sorted (a static axis of None, tuples, functions)."""
    if values.dtype == object:
        return list(dict.fromkeys(values.tolist()))
    return np.unique(values).tolist()


def _tick(value) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:.2g}"
    return str(value)
