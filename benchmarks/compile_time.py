"""Compile time of one training step on a 200-leaf model: jaxsched against optax.

    python benchmarks/compile_time.py [--leaves 200] [--repeats 7]

The step is ``jit(grad + update + apply_updates)`` of a sum of squares over 200
leaves of 20k parameters, traced, lowered and compiled from scratch each repeat (a
new function object, so nothing is cached), for the optimizer pairs of
``update_step.py`` (the same program on both sides: "lean" leaves unused terms
out, "defaults" keeps jaxsched's traced ``weight_decay=0.0``). The two sides are
compiled in turns; prints medians of trace + lower and of XLA's compile, and the
ratio of the totals (median of the per-repeat ratios).
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from update_step import OPTIMIZERS


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
        "optax trace+lower, compile | ratio (total) |\n|---|---|---|---|---|"
    )
    for name, configs in OPTIMIZERS.items():
        for config, (ours, theirs) in configs.items():
            times = {"js": [], "optax": []}
            for _ in range(args.repeats):  # in turns, so both see the same load
                times["js"].append(compile_seconds(ours, params))
                times["optax"].append(compile_seconds(theirs, params))
            js_t, ox_t = np.asarray(times["js"]), np.asarray(times["optax"])
            ratio = np.median(js_t.sum(1) / ox_t.sum(1))
            a, b = np.median(js_t, 0), np.median(ox_t, 0)
            print(
                f"| {name} | {config} | {a[0]:.2f}, {a[1]:.2f} | {b[0]:.2f}, "
                f"{b[1]:.2f} | {ratio:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
