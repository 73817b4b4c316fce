"""The digits MLP's last-layer derivative written for speed, against JAX's own.

    python benchmarks/digits_backward.py [--configs 64] [--rounds 15]

Trains the MLP of ``sweep.py`` (64-128-10, minibatch 32, 300 Adam steps) with
``digits.loss``, whose last layer has a custom JVP (written so that its transpose,
the backward pass, runs fast on XLA's CPU backend), and with the same loss written
as plain matmuls, two ways: ``--configs`` learning rates vmapped over one minibatch
stream (what a chunk of ``js.sweep`` runs) and configurations alone, one after the
other (what the loop (b) of ``sweep.py`` runs; up to 16 of them). The runs go in
turns; prints ms per configuration and the median of the per-round ratios.
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np
from sweep import BATCH, STEPS, autodiff_loss, median_ratio, timed_in_turns

import jaxsched as js
from jaxsched import digits


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    data = digits.load()
    lrs = jnp.asarray(np.logspace(-4, -2, args.configs), jnp.float32)
    key = jax.random.key(0)
    alone = min(16, args.configs)
    runs, configs = [], []
    for loss_fn in (digits.loss, autodiff_loss):

        def train(lr, key, loss_fn=loss_fn):
            params, _ = digits.train_minibatch(
                js.adam(lr), data, STEPS, key, BATCH, loss_fn=loss_fn
            )
            return digits.loss(params, data.val)

        vmapped, one = jax.jit(jax.vmap(train, in_axes=(0, None))), jax.jit(train)
        runs += [
            lambda f=vmapped: f(lrs, key),
            lambda f=one: [f(lr, key) for lr in lrs[:alone]],
        ]
        configs += [args.configs, alone]
    times, _ = timed_in_turns(runs, args.rounds)
    times = [t / n for t, n in zip(times, configs, strict=True)]
    print(f"jax {jax.__version__}; {args.configs} configurations vmapped\n")
    print("| run | custom JVP ms/config | autodiff ms/config | ratio |")
    print("|---|---|---|---|")
    for i, way in enumerate(("vmapped", "alone")):
        ours, theirs = times[i], times[2 + i]
        print(
            f"| {way} | {1e3 * np.median(ours):.2f} | {1e3 * np.median(theirs):.2f} "
            f"| {median_ratio(ours, theirs):.2f} |"
        )


if __name__ == "__main__":
    main()
