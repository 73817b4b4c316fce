"""Compile time of one training step on a 200-leaf model: jaxsched against optax.

    python benchmarks/compile_time.py [--leaves 200] [--repeats 7]
    python benchmarks/compile_time.py --momentum-rules    # the second table only

The step is ``jit(grad + update + apply_updates)`` of a sum of squares over 200
leaves of 20k parameters, traced, lowered and compiled from scratch each repeat (a
new function object, so nothing is cached), for the optimizer pairs of
``update_step.py`` (the same program on both sides: "lean" leaves unused terms
out, "defaults" keeps jaxsched's traced ``weight_decay=0.0``), and against optax
with its hyperparameters traced too (``optax.inject_hyperparams``), which is what
jaxsched always does. The sides are compiled in turns; prints medians of trace +
lower and of XLA's compile, and the ratios of the totals (medians of the
per-repeat ratios).

A second table shows where SGD with momentum's extra compile time goes: XLA's
compile of the 200-leaf momentum step alone (``p - lr b``), its rule written four
ways, from optax's ``b = mu b + g`` to torch's, whose factors jaxsched computes once
per update from the state (``started``, momentum, dampening). XLA copies that scalar
arithmetic into each leaf's kernel; the table counts the instructions of the
largest kernel.
"""

from __future__ import annotations

import argparse
import re
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


def torch_factors(started, momentum, dampening):
    """Torch's buffer starts at the gradient and steps along it, undamped, while
    the momentum is 0 (what ``js.scale_by_momentum`` computes once per update)."""
    keep = jnp.where(started, momentum, 0.0)
    gain = jnp.where(started & (momentum != 0), 1 - dampening, 1.0)
    return keep, gain


# The momentum step's factors (keep, gain) from (started, momentum, dampening).
MOMENTUM_RULES = {
    "optax's: mu b + g": None,
    "torch's, factors passed in": lambda started, momentum, dampening: (
        momentum,
        dampening,
    ),
    "torch's, factors behind an optimization_barrier": lambda *hparams: (
        jax.lax.optimization_barrier(torch_factors(*hparams))
    ),
    "torch's, factors computed in the step (jaxsched)": torch_factors,
}


def momentum_step(factors):
    def step(grads, traces, params, started, momentum, dampening, learning_rate):
        if factors is not None:
            keep, gain = factors(started, momentum, dampening)
        new_params, new_traces = [], []
        for g, trace, p in zip(grads, traces, params, strict=True):
            b = momentum * trace + g if factors is None else keep * trace + gain * g
            new_params.append(p - learning_rate * b)
            new_traces.append(b)
        return new_params, new_traces

    return step


def largest_kernel(compiled):
    """Instructions in the compiled program's largest fused computation."""
    bodies = re.findall(
        r"\n%fused_computation[^\n]*\{\n(.*?)\n\}", compiled.as_text(), re.S
    )
    return max(body.count("\n") + 1 for body in bodies)


def momentum_rules_table(params, repeats):
    scalars = (jnp.bool_(True), jnp.float32(0.9), jnp.float32(0.0), jnp.float32(1e-3))
    args = (params, params, params, *scalars)
    times = {name: [] for name in MOMENTUM_RULES}
    for _ in range(repeats):  # in turns
        for name, factors in MOMENTUM_RULES.items():
            lowered = jax.jit(momentum_step(factors)).lower(*args)
            start = time.perf_counter()
            compiled = lowered.compile()
            times[name].append(time.perf_counter() - start)
    base = np.asarray(times["optax's: mu b + g"])
    print(
        f"\nXLA compile of the {len(params)}-leaf momentum step p - lr b, the rule "
        "written four ways\n\n| rule for b | instructions in the largest kernel "
        "| compile s | / optax's rule |\n|---|---|---|---|"
    )
    for name, factors in MOMENTUM_RULES.items():
        compiled = jax.jit(momentum_step(factors)).lower(*args).compile()
        seconds = np.asarray(times[name])
        print(
            f"| {name} | {largest_kernel(compiled)} | {np.median(seconds):.3f} | "
            f"{np.median(seconds / base):.2f} |",
            flush=True,
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leaves", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--momentum-rules", action="store_true", help="only the second table"
    )
    args = parser.parse_args(argv)
    params = [jnp.ones(20 * 2**10) for _ in range(args.leaves)]
    if args.momentum_rules:
        momentum_rules_table(params, args.repeats)
        return
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
    momentum_rules_table(params, args.repeats)


if __name__ == "__main__":
    main()
