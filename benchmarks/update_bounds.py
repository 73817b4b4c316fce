"""What bounds Adam on a 200-leaf tree on a CPU: dispatch, kernels, bytes.

    python benchmarks/update_bounds.py [--rounds 15]
    python benchmarks/update_bounds.py --hlo     # one leaf's Adam kernels

Times the same Adam update (``js.adam(1e-3, weight_decay=None)``, donated) on the
200-leaf, 4M-parameter tree of ``update_step.py`` four ways, in turns in one
process, against ``optax.adam``:

- ``per-call``: one jitted step per call (what ``update_step.py`` measures);
- ``in-loop``: 20 steps inside one jitted ``fori_loop`` (no per-call dispatch of
  the 1,400 buffers);
- ``flat state``: the moments kept in two flat buffers (the gradients
  concatenated, the updates sliced back out), the opt-in the performance issue
  asked to try; and the same moments updated in place leaf by leaf, compiled
  only (XLA copies the whole flat buffers, hundreds of times a step);
- torch's Adam (``foreach`` and ``fused``) on the same shapes, where torch is
  installed, so that the loop and torch's kernels are compared in one run;
- and, in a subprocess, ``per-call`` with XLA's CPU multi-output fusion switched on
  (``XLA_FLAGS=--xla_backend_extra_options=xla_cpu_use_multi_output_fusion``).

Prints kernels and bytes per parameter from the compiled HLO and ms per step.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
from update_step import (
    PROBLEMS,
    hlo_stats,
    jax_runner,
    make_tree,
    time_rounds,
    torch_runners,
)

import jaxsched as js

LOOP_STEPS = 20


def flat_moments(params):
    """The step count and Adam's two moments as flat buffers."""
    n = sum(x.size for x in jax.tree.leaves(params))
    return jnp.zeros([], jnp.int32), jnp.zeros(n), jnp.zeros(n)


def adam_step(mu, nu, count, learning_rate, b1, b2, eps):
    """Adam's update from its new moments, at step ``count + 1``."""
    t = (count + 1).astype(jnp.float32)
    return -learning_rate * (mu / (1 - b1**t)) / (jnp.sqrt(nu / (1 - b2**t)) + eps)


def flat_adam(learning_rate, b1=0.9, b2=0.999, eps=1e-8):
    """Adam whose moments are two flat buffers (for this measurement only)."""

    def update(grads, state, params=None):
        count, mu, nu = state
        leaves, treedef = jax.tree.flatten(grads)
        g = jnp.concatenate([x.ravel() for x in leaves])
        mu = (1 - b1) * g + b1 * mu
        nu = (1 - b2) * g * g + b2 * nu
        u = adam_step(mu, nu, count, learning_rate, b1, b2, eps)
        ends = np.cumsum([x.size for x in leaves])
        parts = [
            u[e - x.size : e].reshape(x.shape)
            for e, x in zip(ends, leaves, strict=True)
        ]
        return treedef.unflatten(parts), (count + 1, mu, nu)

    return optax.GradientTransformation(flat_moments, update)


def in_place_adam(learning_rate, b1=0.9, b2=0.999, eps=1e-8):
    """Adam whose moments are two flat buffers, each leaf's part read and written
    in place (``dynamic_update_slice``); gradients and updates stay per leaf."""

    def update(grads, state, params=None):
        count, mu, nu = state
        leaves, treedef = jax.tree.flatten(grads)
        start, parts = 0, []
        for x in leaves:
            g = x.ravel()
            m = b1 * jax.lax.dynamic_slice(mu, (start,), g.shape) + (1 - b1) * g
            v = b2 * jax.lax.dynamic_slice(nu, (start,), g.shape) + (1 - b2) * g * g
            mu = jax.lax.dynamic_update_slice(mu, m, (start,))
            nu = jax.lax.dynamic_update_slice(nu, v, (start,))
            parts.append(
                adam_step(m, v, count, learning_rate, b1, b2, eps).reshape(x.shape)
            )
            start += g.size
        return treedef.unflatten(parts), (count + 1, mu, nu)

    return optax.GradientTransformation(flat_moments, update)


def compiled(optimizer, params, grads, steps=1):
    def step(params, state, grads):
        def body(_, carry):
            params, state = carry
            updates, state = optimizer.update(grads, state, params)
            return optax.apply_updates(params, updates), state

        return jax.lax.fori_loop(0, steps, body, (params, state))

    state = optimizer.init(params)
    with jax.numpy_dtype_promotion("standard"):
        jitted = jax.jit(step, donate_argnums=(0, 1))
        return jitted.lower(params, state, grads).compile(), state


def leaf_kernels(optimizer, size=2**20):
    """The kernels of one leaf's update that read or write the whole leaf, as the
    compiled HLO names them, with their operands."""
    program, _ = compiled(optimizer, jnp.ones(size), jnp.ones(size))
    text = program.as_text()
    lines = text[text.index("ENTRY") :].splitlines()
    kernels = [
        re.sub(r", metadata=.*", "", line.strip())
        for line in lines
        if " fusion(" in line and f"f32[{size}]" in line.split("=")[1]
    ]
    return kernels, program.cost_analysis()["bytes accessed"] / size


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--only-per-call", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--hlo", action="store_true", help="print one leaf's Adam kernels and exit"
    )
    args = parser.parse_args(argv)
    if args.hlo:
        for name, optimizer in [
            ("jaxsched", js.adam(1e-3, weight_decay=None)),
            ("optax", optax.adam(1e-3)),
        ]:
            kernels, per_param = leaf_kernels(optimizer)
            print(f"{name}: {len(kernels)} kernels, {per_param:.1f} bytes/param")
            print("\n".join(f"  {k}" for k in kernels))
        return
    shapes = PROBLEMS["tree200x20k"]
    params, grads = make_tree(shapes, 0), make_tree(shapes, 1)
    n = sum(x.size for x in params)
    variants = {
        "optax per-call": (optax.adam(1e-3), 1),
        "jaxsched per-call": (js.adam(1e-3, weight_decay=None), 1),
    }
    if not args.only_per_call:
        variants |= {
            "optax in-loop": (optax.adam(1e-3), LOOP_STEPS),
            "jaxsched in-loop": (js.adam(1e-3, weight_decay=None), LOOP_STEPS),
            "flat state per-call": (flat_adam(1e-3), 1),
        }
    sides, rows = {}, {}
    for name, (optimizer, steps) in variants.items():
        program, state = compiled(optimizer, params, grads, steps)
        kernels, nbytes = hlo_stats(program)
        run = jax_runner(program, params, state, grads)
        sides[name] = lambda k, run=run, steps=steps: run(max(k // steps, 1))
        rows[name] = (kernels, nbytes / n, steps)
    if not args.only_per_call:
        for name, run in torch_runners("adam", shapes, "f32").items():
            sides[f"{name} per-call"] = run
            rows[f"{name} per-call"] = (None, None, 1)
    for run in sides.values():
        run(LOOP_STEPS)
    times = time_rounds(sides, LOOP_STEPS, args.rounds)
    base = times["optax per-call"]
    for name, (kernels, per_param, steps) in rows.items():
        ms = 1e3 * float(np.median(times[name]))
        ratio = float(np.median(times[name] / base))
        if kernels is None:  # torch
            hlo = "— | —"
        else:
            hlo = f"{kernels} | {per_param:.1f}" if steps == 1 else "in a loop | —"
        print(f"| {name} | {hlo} | {ms:.2f} | {ratio:.2f} |", flush=True)
    if not args.only_per_call:  # compiled only: XLA copies whole buffers
        program, _ = compiled(in_place_adam(1e-3), params, grads)
        kernels, nbytes = hlo_stats(program)
        text = program.as_text()
        copies = text[text.index("ENTRY") :].count(" copy(")
        print(
            f"| flat state in place per-call (not timed) | {kernels}, of them "
            f"{copies} copies | {nbytes / n:.1f} | — | — |"
        )


if __name__ == "__main__":
    if "--only-per-call" in sys.argv or "--hlo" in sys.argv:
        main()
        sys.exit()
    print(f"jax {jax.__version__}; 200 leaves x 20k float32, Adam; ms per step\n")
    print("| variant | kernels | bytes/param (HLO) | ms/step | / optax per-call |")
    print("|---|---|---|---|---|")
    main()
    flags = "--xla_backend_extra_options=xla_cpu_use_multi_output_fusion"
    env = os.environ | {"XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} {flags}"}
    out = subprocess.run(
        [sys.executable, __file__, "--only-per-call", *sys.argv[1:]],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    print(out.replace("per-call |", "per-call, multi-output fusion |"), end="")
