"""The ``jaxsched`` command line.

``jaxsched plot [NAME key=value ...]... [--steps N] [--out FILE] [--log]`` draws
schedules; with no schedule named it draws a gallery of every schedule.

``jaxsched lr-find [--optimizer sgd|adam|both] [--start-lr] [--end-lr] [--steps]
[--seeds] [--batch-size] [--train-steps] [--out FILE]`` runs the LR range test on
the digits MLP, prints the suggestions, trains briefly at the suggested rate and
saves the curves.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from jaxsched import schedules
from jaxsched.optimizers import adam, sgd

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
    """``0.1`` -> 0.1, ``50,125`` / ``[50,125]`` -> [50, 125], ``cos`` -> "cos"."""
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
    for name, kwargs in specs:
        try:
            built.append(getattr(schedules, name)(**kwargs))
        except (TypeError, ValueError) as error:
            raise SystemExit(f"jaxsched plot {name}: {error}") from error
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
    fig.savefig(args.out, dpi=100)
    width = max(len(name) for name, _ in specs)
    probes = [0, args.steps // 4, args.steps // 2, args.steps - 1]
    print(f"{'schedule':<{width}}  " + "  ".join(f"step {k:>5}" for k in probes))
    for (name, _), s in zip(specs, built, strict=True):
        print(f"{name:<{width}}  " + "  ".join(f"{float(s(k)):>10.3g}" for k in probes))
    print(f"saved {args.out}")
    return 0


LR_FIND_OPTIMIZERS = {
    "sgd": ("SGD, momentum 0.9", lambda lr: sgd(lr, momentum=0.9)),
    "adam": ("Adam", lambda lr: adam(lr)),
}


def _lr_find(args: argparse.Namespace) -> int:
    import jax
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from jaxsched import digits, lr_find, plot

    data = digits.load()
    params = digits.init_mlp(jax.random.key(0))
    names = list(LR_FIND_OPTIMIZERS) if args.optimizer == "both" else [args.optimizer]
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
        label, factory = LR_FIND_OPTIMIZERS[name]
        keys = jax.random.split(jax.random.key(1), args.seeds)
        result = jax.vmap(lambda k, f=factory: range_test(f, k))(keys)
        suggestions = {k: float(np.median(v)) for k, v in result.suggestions.items()}
        optimizer = factory(suggestions["steepest"])
        trained, _ = jax.jit(
            lambda p, o=optimizer: digits.train(o, p, data, args.train_steps)
        )(params)
        acc = float(digits.accuracy(trained, data.val))
        stops = int(np.median(np.asarray(result.stop_step)))
        cells = " | ".join(
            f"{suggestions[k]:.3g}"
            for k in ("steepest", "valley", "slide", "minimum", "steep")
        )
        print(f"| {label} | {stops} | {cells} | {acc:.3f} |")
        plot.lr_find(result, ax)
        ax.set_title(label)
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    print(f"saved {args.out}")
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for option in ("steps", "seeds", "train_steps"):
        if getattr(args, option, 1) <= 0:
            raise SystemExit(f"jaxsched: --{option.replace('_', '-')} must be > 0.")
    try:
        return args.run(args)
    except ValueError as error:  # invalid values: say which, without a traceback
        raise SystemExit(f"jaxsched {args.command}: {error}") from error


if __name__ == "__main__":
    sys.exit(main())
