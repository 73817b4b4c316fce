"""Compile time of one training step on a 200-leaf model: jaxsched against optax.

    python benchmarks/compile_time.py [--leaves 200] [--repeats 7]

The step is ``jit(grad + update + apply_updates)`` of a sum of squares over 200
leaves of 20k parameters, traced, lowered and compiled from scratch each repeat (a
new function object, so nothing is cached), for the optimizer pairs of
``update_step.py`` (the same program on both sides: "lean" leaves unused terms
out, "defaults" keeps jaxsched's traced ``weight_decay=0.0``), and against optax
with its hyperparameters traced too (``optax.inject_hyperparams``), which is what
jaxsched always does. The sides are compiled in turns; prints medians of trace +
lower and of XLA's compile, and the ratios of the totals (medians of the
per-repeat ratios).
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from update_step import OPTIMIZERS, with_traced_decay

# optax with every numeric hyperparameter traced, like jaxsched's (lean configs).
INJECTED = {
    "sgd_momentum": lambda: optax.inject_hyperparams(optax.sgd)(1e-3, momentum=0.9),
    "adagrad": lambda: optax.inject_hyperparams(optax.adagrad)(
        1e-2, initial_accumulator_value=0.1, eps=0.0
    ),
    "rmsprop": lambda: optax.inject_hyperparams(
        optax.rmsprop, static_args=("eps_in_sqrt",)
    )(1e-3, 0.99, 1e-8, eps_in_sqrt=False),
    "adam": lambda: optax.inject_hyperparams(optax.adam)(1e-3),
    "adamw": lambda: optax.inject_hyperparams(optax.adamw)(1e-3, weight_decay=1e-2),
}


def traced_twin(name, config):
    """The optax twin with traced hyperparameters (and the traced L2 term of the
    "defaults" configs, which AdamW has built in)."""
    injected = INJECTED[name]
    if config == "defaults" and name != "adamw":
        return lambda: with_traced_decay(injected())
    return injected


def compile_seconds(make_optimizer, params):
    """(trace + lower, compile) seconds of one fresh training step."""
    optimizer = make_optimizer()

    def step(params, state):  # a new function object: no cache hit
        grads = jax.grad(lambda p: sum(jnp.sum(x**2) for x in p))(params)
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    with jax.numpy_dtype_promotion("standard"):
        state = optimizer.init(params)
        start = time.perf_counter()
        lowered = jax.jit(step).trace(params, state).lower()
        traced = time.perf_counter()
        lowered.compile()
    return traced - start, time.perf_counter() - traced


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leaves", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    params = [jnp.ones(20 * 2**10) for _ in range(args.leaves)]
    print(
        f"jax {jax.__version__}; {args.leaves} leaves; seconds, median of "
        f"{args.repeats}\n"
    )
    print(
        "| optimizer | config | jaxsched trace+lower, compile | "
        "optax trace+lower, compile | ratio | optax traced (inject) total | ratio |\n"
        "|---|---|---|---|---|---|---|"
    )
    for name, configs in OPTIMIZERS.items():
        for config, (ours, theirs) in configs.items():
            sides = {"js": ours, "optax": theirs, "traced": traced_twin(name, config)}
            times = {side: [] for side in sides}
            for _ in range(args.repeats):  # in turns, so all see the same load
                for side, factory in sides.items():
                    times[side].append(compile_seconds(factory, params))
            total = {side: np.sum(t, axis=1) for side, t in times.items()}
            a, b = np.median(times["js"], 0), np.median(times["optax"], 0)
            print(
                f"| {name} | {config} | {a[0]:.2f}, {a[1]:.2f} | {b[0]:.2f}, "
                f"{b[1]:.2f} | {np.median(total['js'] / total['optax']):.2f} | "
                f"{np.median(total['traced']):.2f} | "
                f"{np.median(total['js'] / total['traced']):.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
