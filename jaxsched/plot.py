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
    line per combination of the other axes; where no two configurations share
    those (a random search), points with error bars, one colour per value of the
    axes that are not numbers (a static optimizer kind). With ``y``: a heatmap of
    the best (``mode``) mean over the other axes, or, where the configurations do
    not fill the grid of ``x`` and ``y`` values (a random search), a scatter
    coloured by the mean. Configurations with a diverged seed are left out (blank
    cells, no point). An axis of values that are not numbers is drawn as
    categories.

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
    xs = _positions(ax.xaxis, result.hparams[x])
    if y is not None and _fills_grid(result.hparams[x], result.hparams[y]):
        _heatmap(ax, result.hparams[x], result.hparams[y], mean, mode, metric)
        ax.set_ylabel(y)
    elif y is not None:  # a random search: a heatmap would be mostly blank
        points = ax.scatter(
            xs, _positions(ax.yaxis, result.hparams[y]), c=mean, cmap="viridis", s=16
        )
        ax.figure.colorbar(points, ax=ax, label=metric)
        ax.set_ylabel(y)
        _log_scale(ax.set_xscale, result.hparams[x])
        _log_scale(ax.set_yscale, result.hparams[y])
    else:
        _lines(ax, result.hparams, x, xs, mean, std, metric)
        _log_scale(ax.set_xscale, result.hparams[x])
    ax.set_xlabel(x)
    return ax


def _lines(ax, hparams, x, xs, mean, std, metric) -> None:
    """One line per combination of the axes other than ``x``, seeds as bands, or
    points with error bars where no two configurations share them."""
    others = [n for n in hparams if n != x and len(_levels(hparams[n])[0]) > 1]
    groups = _groups(hparams, others)
    points = len(groups) > 1 and all(len(rows) == 1 for rows in groups)
    if points:  # a random search: colour by the axes that are not numbers only
        others = [n for n in others if hparams[n].dtype.kind not in "iuf"]
        groups = _groups(hparams, others)
    for k, rows in enumerate(groups):
        rows = np.asarray(rows)[np.argsort(xs[rows], kind="stable")]
        label = ", ".join(f"{n}={hparams[n][rows[0]]}" for n in others)
        if points:
            ax.errorbar(
                xs[rows], mean[rows], std[rows], fmt="o", markersize=3, label=label
            )
            continue
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


def _heatmap(ax, xs, ys, mean, mode, metric) -> None:
    """The best mean of each (x, y) cell over the other axes."""
    (x_values, column), (y_values, row) = _levels(xs), _levels(ys)
    cells = np.full((len(y_values), len(x_values)), np.nan)
    better = np.nanmax if mode == "max" else np.nanmin
    for i in np.flatnonzero(~np.isnan(mean)):
        cells[row[i], column[i]] = better([cells[row[i], column[i]], mean[i]])
    image = ax.imshow(cells, aspect="auto", origin="lower", cmap="viridis")
    ax.figure.colorbar(image, ax=ax, label=f"best {metric}")
    ax.set_xticks(range(len(x_values)), [_tick(v) for v in x_values], rotation=45)
    ax.set_yticks(range(len(y_values)), [str(v) for v in y_values])


def _fills_grid(xs: np.ndarray, ys: np.ndarray) -> bool:
    """Whether every pair of an x value and a y value is a configuration."""
    (x_values, column), (y_values, row) = _levels(xs), _levels(ys)
    pairs = set(zip(column.tolist(), row.tolist(), strict=True))
    return len(pairs) == len(x_values) * len(y_values)


def _groups(hparams, names) -> list[list[int]]:
    """The configurations' indices, grouped by their values of the axes
    ``names``."""
    positions = [_levels(hparams[n])[1].tolist() for n in names]
    groups: dict[tuple, list[int]] = {}
    for i in range(len(next(iter(hparams.values())))):
        groups.setdefault(tuple(p[i] for p in positions), []).append(i)
    return list(groups.values())


def _positions(axis, values: np.ndarray) -> np.ndarray:
    """Where an axis' values go along a matplotlib ``axis``: numbers as they are,
    other values (strings, static objects) as categories, labelled."""
    if values.dtype.kind in "iuf":
        return values
    levels, index = _levels(values)
    axis.set_ticks(range(len(levels)), [str(v) for v in levels])
    return index.astype(float)


def _log_scale(set_scale, values: np.ndarray) -> None:
    """A log scale for positive numbers that span over a decade."""
    numbers = values.dtype.kind in "iuf"
    if numbers and values.min() > 0 and values.max() / values.min() > 10:
        set_scale("log")


def _levels(values: np.ndarray) -> tuple[list, np.ndarray]:
    """An axis' distinct values, and each configuration's index into them: sorted,
    or in order of appearance for values that cannot be sorted (a static axis of
    None, tuples, functions), where values that compare equal but differ in type
    (``1`` and ``True``) stay apart."""
    if values.dtype != object:
        levels, index = np.unique(values, return_inverse=True)
        return levels.tolist(), index.ravel()
    levels, position = [], {}
    for value in values:
        if (type(value), value) not in position:
            position[type(value), value] = len(levels)
            levels.append(value)
    return levels, np.array([position[type(v), v] for v in values])


def _tick(value) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:.2g}"
    return str(value)
