"""The ``jaxsched`` command line.

``jaxsched plot [NAME key=value ...]... [--steps N] [--out FILE] [--log]`` draws
schedules; with no schedule named it draws a gallery of every schedule.

``jaxsched lr-find [--optimizer sgd|adam|both] [--start-lr] [--end-lr] [--steps]
[--seeds] [--batch-size] [--train-steps] [--out FILE]`` runs the LR range test on
the digits MLP, prints the suggestions, trains briefly at the suggested rate and
saves the curves.

``jaxsched sweep [--optimizers] [--lrs] [--steps] [--seeds] [--batch-size]
[--chunk-size] [--devices] [--out DIR]`` (the main job) trains the digits NNX MLP
over optimizers x learning rates x schedules x seeds in one compiled program per
(optimizer, schedule), prints a leaderboard and saves plots and the result.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import os
import pathlib
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from jaxsched import schedules

#: Example hyperparameters: what ``jaxsched plot`` draws with no arguments, and the
#: defaults a named schedule starts from (``key=value`` overrides them).
EXAMPLES: dict[str, dict[str, Any]] = {
    "constant": dict(value=0.05),
    "linear": dict(init_value=0.1, end_value=0.001, transition_steps=200),
    "step_decay": dict(init_value=0.1, step_size=50, gamma=0.5),
    "multistep_decay": dict(init_value=0.1, milestones=[50, 125, 160], gamma=0.5),
    "exponential_decay": dict(init_value=0.1, gamma=0.98),
    "inverse_time_decay": dict(init_value=0.1, decay_rate=0.5, decay_steps=10),
    "polynomial_decay": dict(
        init_value=0.1, end_value=0.001, decay_steps=200, power=2.0
    ),
    "cosine_decay": dict(init_value=0.1, decay_steps=200, end_value=0.001),
    "warmup_cosine_decay": dict(
        init_value=0.0,
        peak_value=0.1,
        warmup_steps=20,
        decay_steps=200,
        end_value=0.001,
    ),
    "cosine_warmup_restarts": dict(
        first_cycle_steps=50,
        cycle_mult=1.5,
        max_lr=0.1,
        min_lr=0.001,
        warmup_steps=10,
        gamma=0.7,
    ),
    "sgdr": dict(init_value=0.1, t_0=25, t_mult=2, end_value=0.001),
    "cyclic": dict(
        base_value=0.001, max_value=0.1, step_size_up=25, mode="triangular2"
    ),
    "one_cycle": dict(max_value=0.1, total_steps=200),
    "lr_range": dict(start_value=1e-5, end_value=1.0, num_steps=200),
}


def _value(text: str) -> Any:
    """``0.1`` -> 0.1, ``50,125`` / ``[50,125]`` -> [50, 125], ``cos`` -> "cos",
    ``true`` / ``True`` -> True."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    return list(value) if isinstance(value, tuple) else value


def parse_schedules(tokens: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
    """Splits ``NAME key=value ... NAME key=value ...`` into (name, kwargs) pairs."""
    specs: list[tuple[str, dict[str, Any]]] = []
    for token in tokens:
        if "=" not in token:
            if token not in EXAMPLES:
                raise SystemExit(
                    f"jaxsched plot: unknown schedule {token!r}; choose from "
                    f"{', '.join(EXAMPLES)}."
                )
            specs.append((token, dict(EXAMPLES[token])))
            continue
        if not specs:
            raise SystemExit(f"jaxsched plot: {token!r} comes before a schedule name.")
        key, _, text = token.partition("=")
        specs[-1][1][key] = _value(text)
    return specs


def _plot(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from jaxsched import plot

    specs = parse_schedules(args.schedules) or [
        (n, dict(k)) for n, k in EXAMPLES.items()
    ]
    built = []
    steps = np.arange(args.steps)
    for name, kwargs in specs:
        try:
            schedule = getattr(schedules, name)(**kwargs)
        except (TypeError, ValueError) as error:
            raise SystemExit(f"jaxsched plot {name}: {error}") from error
        try:
            drawable = np.shape(schedule(steps)) == steps.shape
            drawable &= np.shape(schedule(0)) == ()
        except (TypeError, ValueError):
            drawable = False
        if not drawable:
            raise SystemExit(
                f"jaxsched plot {name}: {kwargs} is not one curve: give one value "
                "per hyperparameter (a list only where the schedule takes one, as "
                "milestones)."
            )
        built.append(schedule)
    gallery = len(built) > 4
    if gallery:
        rows = (len(built) + 3) // 4
        fig, axes = plt.subplots(rows, 4, figsize=(16, 3 * rows), squeeze=False)
        for ax, (name, _), s in zip(axes.flat, specs, built, strict=False):
            log = args.log or name == "lr_range"  # it spans decades
            plot.schedule(s, args.steps, ax, labels=[name], log=log)
        for ax in list(axes.flat)[len(built) :]:
            ax.axis("off")
    else:
        fig, ax = plt.subplots(figsize=(8, 4.5))
        plot.schedule(built, args.steps, ax, log=args.log)
    fig.tight_layout()
    out = _image_path(args.out)
    fig.savefig(out, dpi=100)
    width = max(len(name) for name, _ in specs)
    probes = [0, args.steps // 4, args.steps // 2, args.steps - 1]
    print(f"{'schedule':<{width}}  " + "  ".join(f"step {k:>5}" for k in probes))
    for (name, _), s in zip(specs, built, strict=True):
        print(f"{name:<{width}}  " + "  ".join(f"{float(s(k)):>10.3g}" for k in probes))
    print(f"saved {out}")
    return 0


def _lr_find(args: argparse.Namespace) -> int:
    import jax
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from jaxsched import digits, lr_find, plot

    data = digits.load()
    params = digits.init_mlp(jax.random.key(0))
    names = ["sgd", "adam"] if args.optimizer == "both" else [args.optimizer]
    batch_size = args.batch_size or (128 if args.seeds > 1 else None)

    def range_test(factory, key):
        return lr_find(
            digits.loss,
            params,
            data.train,
            optimizer=factory,
            start_lr=args.start_lr,
            end_lr=args.end_lr,
            num_steps=args.steps,
            batch_size=batch_size,
            key=key,
        )

    fig, axes = plt.subplots(1, len(names), figsize=(7 * len(names), 4), squeeze=False)
    print(
        f"LR range test, digits MLP 64-128-10, {len(data.y_train)} training images, "
        f"{args.steps} steps from {args.start_lr:g} to {args.end_lr:g}, "
        f"{args.seeds} seed(s), batch {batch_size or 'full'}"
    )
    print(
        "| optimizer | stopped at | steepest | valley | slide | minimum | steep | "
        f"val acc after {args.train_steps} steps at steepest |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for ax, name in zip(axes.flat, names, strict=True):
        label, factory = digits.OPTIMIZERS[name]
        keys = jax.random.split(jax.random.key(1), args.seeds)
        result = jax.vmap(lambda k, f=factory: range_test(f, k))(keys)
        suggestions = {k: float(np.median(v)) for k, v in result.suggestions.items()}
        acc = "no suggestion"  # too few points, or the curve never fell
        if np.isfinite(suggestions["steepest"]):
            optimizer = factory(suggestions["steepest"])
            trained, _ = jax.jit(
                lambda p, o=optimizer: digits.train(o, p, data, args.train_steps)
            )(params)
            acc = f"{float(digits.accuracy(trained, data.val)):.3f}"
        stops = int(np.median(np.asarray(result.stop_step)))
        cells = " | ".join(
            f"{suggestions[k]:.3g}"
            for k in ("steepest", "valley", "slide", "minimum", "steep")
        )
        print(f"| {label} | {stops} | {cells} | {acc} |")
        plot.lr_find(result, ax)
        ax.set_title(label)
    fig.tight_layout()
    out = _image_path(args.out)
    fig.savefig(out, dpi=100)
    print(f"saved {out}")
    return 0


def _learning_rates(text: str) -> tuple[float, float, int]:
    """``--lrs`` as (LO, HI, COUNT), checked."""
    usage = (
        f"`--lrs={text}` must be LO,HI,COUNT with 0 < LO <= HI finite and COUNT a "
        "positive int (log-spaced), e.g. 1e-4,1,12."
    )
    parts = text.split(",")
    try:
        lo, hi, n = float(parts[0]), float(parts[1]), int(parts[2])
    except (ValueError, IndexError) as error:
        raise ValueError(usage) from error
    if len(parts) != 3 or not 0 < lo <= hi < np.inf or n <= 0:
        raise ValueError(usage)
    return lo, hi, n


def _best(result, optimizer: str) -> dict[str, Any] | None:
    """The optimizer's best configuration by mean validation accuracy; None if
    every one of its configurations has a diverged seed."""
    mine = result.hparams["optimizer"] == optimizer
    if (mine & ~result.diverged.any(axis=1)).any():
        return result.best("val_accuracy", "max", where=mine)
    return None


def _image_path(out: str) -> pathlib.Path:
    """``--out``, with ``.png`` added when it has no extension (as matplotlib does)."""
    path = pathlib.Path(out)
    return path if path.suffix else path.with_suffix(".png")


def _make_cpu_devices(count: int) -> None:
    """``--devices N`` on a CPU: N devices (JAX's ``jax_num_cpu_devices``), at most
    one per core, unless ``XLA_FLAGS`` sets their number or JAX has already
    started (the caller then checks the devices JAX has)."""
    import jax

    flags = os.environ.get("XLA_FLAGS", "")
    if count == 1 or "xla_force_host_platform_device_count" in flags:
        return
    with contextlib.suppress(RuntimeError):  # JAX has started: nothing to change
        jax.config.update("jax_num_cpu_devices", min(count, os.cpu_count() or 1))


def _sweep(args: argparse.Namespace) -> int:
    import jax
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from jaxsched import digits, plot
    from jaxsched.search import grid
    from jaxsched.sweep import MESH_AXIS, sweep

    names = args.optimizers.split(",")
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ValueError(f"`--optimizers={args.optimizers}` names {twice} twice.")
    unknown = set(names) - set(digits.OPTIMIZERS)
    if unknown:
        raise SystemExit(
            f"jaxsched sweep: unknown optimizer(s) {sorted(unknown)}; choose from "
            f"{', '.join(digits.OPTIMIZERS)}."
        )
    lo, hi, n = _learning_rates(args.lrs)
    lrs = np.logspace(np.log10(lo), np.log10(hi), n)
    mesh = None
    _make_cpu_devices(args.devices)
    if args.devices > len(jax.devices()):
        raise ValueError(
            f"`--devices={args.devices}`: this machine has {len(jax.devices())} "
            "(on a CPU, XLA_FLAGS=--xla_force_host_platform_device_count=N makes N)."
        )
    if args.devices > 1:
        devices = jax.devices()[: args.devices]
        mesh = jax.sharding.Mesh(np.asarray(devices), (MESH_AXIS,))
    data = digits.load()
    if args.batch_size > len(data.y_train):
        raise ValueError(
            f"`--batch-size={args.batch_size}` must be <= {len(data.y_train)}, the "
            "training images."
        )
    train_fn = digits.sweep_train_fn(data, args.steps, args.batch_size)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = sweep(
        train_fn,
        grid(learning_rate=lrs),
        seeds=args.seeds,
        static={"optimizer": names, "schedule": ["constant", "warmup_cosine"]},
        chunk_size=args.chunk_size if args.chunk_size else "auto",
        mesh=mesh,
        progress=not args.quiet,
    )
    result.save(out / "result")
    stats = result.stats
    best = {name: _best(result, name) for name in names}  # None: all diverged
    print(
        f"digits MLP 64-128-10 (Flax NNX), {len(data.y_train)} train / "
        f"{len(data.y_val)} validation images, {args.steps} steps of batch "
        f"{args.batch_size}, {len(lrs)} learning rates {lo:g}..{hi:g}, "
        f"{args.seeds} seed(s)\n"
    )
    print(
        result.table(
            "val_accuracy", top=args.top, mode="max", also=("val_loss", "train_loss")
        )
    )
    print("\nbest learning rate per optimizer (mean validation accuracy):")
    for name in names:
        label = f"  {digits.OPTIMIZERS[name][0]:<18}"
        if best[name] is None:
            print(f"{label} every run diverged")
            continue
        print(
            f"{label} lr {best[name]['learning_rate']:.3g} "
            f"({best[name]['schedule']}): {best[name]['val_accuracy']:.4f}"
        )
    print(
        f"\n{stats['runs']} runs in {stats['seconds']:.1f} s = "
        f"{stats['runs'] / stats['seconds']:.1f} runs/s on {args.devices} "
        f"device{'s' if args.devices > 1 else ''}, {stats['compiles']} compiles, "
        f"{int(result.diverged.any(axis=1).sum())} configurations with a diverged seed"
    )
    fig, ax = plt.subplots(figsize=(8, 4.5))
    plot.sweep(
        result,
        x="learning_rate",
        y="optimizer",
        metric="val_accuracy",
        mode="max",
        ax=ax,
    )
    fig.tight_layout()
    fig.savefig(out / "heatmap.png", dpi=100)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for name, chosen in best.items():
        if chosen is None:
            continue
        curve = result.metrics["train_loss"][chosen["index"]].mean(axis=0)
        ax.plot(
            curve,
            label=f"{name} lr {chosen['learning_rate']:.2g} {chosen['schedule']}",
        )
    ax.set(xlabel="step", ylabel="training loss (mean over seeds)", yscale="log")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(out / "best_curves.png", dpi=100)
    print(
        f"saved {out / 'heatmap.png'}, {out / 'best_curves.png'}, {out / 'result.npz'}"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jaxsched", description="Learning-rate schedules and optimizers in JAX."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    plot = commands.add_parser(
        "plot",
        help="draw schedules",
        description="Draw one or several schedules, e.g. `jaxsched plot cosine_decay "
        "decay_steps=500 step_decay step_size=100 gamma=0.5 --steps 600`. With no "
        "schedule named, draws a gallery of every schedule.",
    )
    plot.add_argument(
        "schedules",
        nargs="*",
        metavar="NAME key=value",
        help=f"schedules to draw: {', '.join(EXAMPLES)}",
    )
    plot.add_argument("--steps", type=int, default=300, help="steps to draw (300)")
    plot.add_argument("--out", default="schedules.png", help="PNG file to write")
    plot.add_argument("--log", action="store_true", help="log-scale the values")
    plot.set_defaults(run=_plot)

    finder = commands.add_parser(
        "lr-find",
        help="LR range test on the digits MLP",
        description="Run the LR range test (Smith 2015) on a 64-128-10 MLP on "
        "scikit-learn's digits, print the suggested learning rates, train "
        "briefly at the steepest-descent suggestion and save the curves.",
    )
    finder.add_argument("--optimizer", choices=["sgd", "adam", "both"], default="both")
    finder.add_argument("--start-lr", type=float, default=1e-7)
    finder.add_argument("--end-lr", type=float, default=10.0)
    finder.add_argument("--steps", type=int, default=100, help="range-test steps")
    finder.add_argument(
        "--seeds", type=int, default=1, help="curves, vmapped over minibatch keys"
    )
    finder.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="minibatch size (default: full batch; 128 with seeds)",
    )
    finder.add_argument(
        "--train-steps",
        type=int,
        default=200,
        help="full-batch steps at the suggested rate",
    )
    finder.add_argument("--out", default="lr_find.png", help="PNG file to write")
    finder.set_defaults(run=_lr_find)

    sweeper = commands.add_parser(
        "sweep",
        help="the main job: a grid of optimizers x learning rates x schedules",
        description="Train a Flax NNX MLP on scikit-learn's digits over optimizers x "
        "log-spaced learning rates x {constant, warmup+cosine} x seeds, vmapped in one "
        "program per (optimizer, schedule); print the leaderboard and save plots and "
        "the SweepResult.",
    )
    sweeper.add_argument(
        "--optimizers",
        default="sgd,rmsprop,adam,adamw",
        help="comma-separated, from sgd,rmsprop,adam,adamw",
    )
    sweeper.add_argument("--lrs", default="1e-4,1,12", help="LO,HI,COUNT (log-spaced)")
    sweeper.add_argument("--steps", type=int, default=400, help="training steps")
    sweeper.add_argument("--seeds", type=int, default=3)
    sweeper.add_argument("--batch-size", type=int, default=64)
    sweeper.add_argument("--chunk-size", type=int, default=0, help="0: auto")
    sweeper.add_argument(
        "--devices",
        type=int,
        default=1,
        help="shard the configurations over this many devices (on a CPU, made "
        "by the command: one per core, at most the number of cores)",
    )
    sweeper.add_argument("--top", type=int, default=10, help="leaderboard rows")
    sweeper.add_argument("--quiet", action="store_true", help="no progress bar")
    sweeper.add_argument("--out", default="jaxsched-sweep", help="output directory")
    sweeper.set_defaults(run=_sweep)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for option in ("steps", "seeds", "train_steps", "batch_size", "devices", "top"):
        value = getattr(args, option, None)
        if value is not None and value <= 0:
            raise SystemExit(
                f"jaxsched: --{option.replace('_', '-')}={value} must be > 0."
            )
    try:
        return args.run(args)
    except (ValueError, OSError) as error:  # bad values or --out: no traceback
        raise SystemExit(f"jaxsched {args.command}: {error}") from error


if __name__ == "__main__":
    sys.exit(main())
