"""Compile time of one training step on a 200-leaf model: jaxsched against optax.

    python benchmarks/compile_time.py [--leaves 200] [--repeats 5]

The step is ``jit(grad + update + apply_updates)`` of a sum of squares over 200
leaves of 20k parameters, compiled from scratch each repeat (a new function
object, so nothing is cached); prints the median seconds and the ratio.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxsched as js

PAIRS = {
    "sgd_momentum": (lambda: js.sgd(1e-3, momentum=0.9), lambda: optax.sgd(1e-3, 0.9)),
    "adam": (lambda: js.adam(1e-3), lambda: optax.adam(1e-3)),
    "adamw": (lambda: js.adamw(1e-3), lambda: optax.adamw(1e-3, weight_decay=1e-2)),
}


def compile_seconds(make_optimizer, params):
    optimizer = make_optimizer()

    def step(params, state):  # a new function object: no cache hit
        grads = jax.grad(lambda p: sum(jnp.sum(x**2) for x in p))(params)
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    with jax.numpy_dtype_promotion("standard"):
        state = optimizer.init(params)
        start = time.perf_counter()
        jax.jit(step).lower(params, state).compile()
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leaves", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    params = [jnp.ones(20 * 2**10) for _ in range(args.leaves)]
    print(f"{args.leaves} leaves; trace + lower + compile, median of {args.repeats}\n")
    print("| optimizer | jaxsched s | optax s | ratio |\n|---|---|---|---|")
    for name, (ours, theirs) in PAIRS.items():
        times = {"js": [], "optax": []}
        for _ in range(args.repeats):  # in turns, so both see the same load
            times["js"].append(compile_seconds(ours, params))
            times["optax"].append(compile_seconds(theirs, params))
        a, b = np.median(times["js"]), np.median(times["optax"])
        print(f"| {name} | {a:.2f} | {b:.2f} | {a / b:.2f} |", flush=True)


if __name__ == "__main__":
    main()
