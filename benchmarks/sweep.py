"""Time a learning-rate sweep three ways, per configuration, in one process.

The digits MLP (64-128-10, minibatch 32, 300 Adam steps) for K configurations:
(a) ``js.sweep`` (vmapped chunks of one compiled program), (b) a Python loop over
one compiled single-configuration function, (c) ``optax.inject_hyperparams`` +
``jax.vmap`` written by hand (all K at once). Prints a Markdown table: time per
configuration (median of ``--repeats`` timed runs after a warm-up that compiles),
speed-up over (b), compile time, and GFLOP/s against the matmul peak measured in
the same run.

    python benchmarks/sweep.py               # K = 1, 8, 64, 256
    python benchmarks/sweep.py --ks 8,64 --repeats 2
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxsched as js
from jaxsched import digits

STEPS, BATCH = 300, 32
# Matmul FLOPs per configuration: forward and weight gradient of both layers, input
# gradient of the second only (the images need none).
FLOPS_PER_CONFIG = STEPS * 2 * BATCH * (2 * 64 * 128 + 3 * 128 * 10)


def make_train(data, make_optimizer):

    def train(lr, key):
        optimizer = make_optimizer(lr)

        params, _ = digits.train_minibatch(
            optimizer, data, STEPS, key, batch_size=BATCH
        )
        return digits.loss(params, data.val)

    return train


def timed(fn, repeats):
    start = time.perf_counter()
    jax.block_until_ready(fn())
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    best = float(np.median(times))
    return best, max(first - best, 0.0)


def matmul_peak(n=1024, repeats=10, batches=7):
    """GFLOP/s of a 1024^3 float32 matmul: the best of ``batches`` timed batches
    (the peak is what the machine can do, so the fastest batch)."""
    a = jax.random.normal(jax.random.key(0), (n, n))
    f = jax.jit(lambda a: a @ a)
    jax.block_until_ready(f(a))
    best = float("inf")
    for _ in range(batches):
        start = time.perf_counter()
        for _ in range(repeats):
            out = f(a)
        jax.block_until_ready(out)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 * repeats / best / 1e9


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ks", default="1,8,64,256")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    data = digits.load()
    key = jax.random.key(0)
    ours = make_train(data, js.adam)
    theirs = make_train(data, lambda lr: optax.inject_hyperparams(optax.adam)(lr))
    solo = jax.jit(ours)
    vmapped = jax.jit(jax.vmap(theirs))  # compiled once per K (its batch shape)

    def sweep_train(hparams, key):  # one object: js.sweep caches its compilation
        return {"loss": ours(hparams["learning_rate"], key)}

    peak = matmul_peak()
    print(
        f"jax {jax.__version__}, {jax.devices()[0].device_kind}; digits MLP 64-128-10, "
        f"batch {BATCH}, {STEPS} Adam steps; matmul peak {peak:.0f} GFLOP/s\n"
    )
    print(
        "| K | (a) js.sweep ms/config | (b) loop ms/config | (c) optax vmap ms/config "
        "| speed-up (a)/(b) | (a)/(c) time | compile s (a, b, c) | (a) GFLOP/s "
        "| % of peak | chunk (MB/config) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for k in map(int, args.ks.split(",")):
        lrs = np.logspace(-4, -2, k).astype(np.float32)
        keys = jax.random.split(key, k)

        def sweep_fn(lrs=lrs):
            result = js.sweep(sweep_train, {"learning_rate": lrs}, progress=False)
            per_config = result.stats["working_set_per_config"] / 1e6
            sweep_fn.chunk = f"{result.stats['chunk_size']} ({per_config:.2f})"
            return result.metrics["loss"]

        def loop_fn(lrs=lrs, keys=keys):
            return [solo(jnp.float32(lr), keys[i]) for i, lr in enumerate(lrs)]

        def optax_fn(lrs=lrs, keys=keys):
            with jax.numpy_dtype_promotion("standard"):
                return vmapped(jnp.asarray(lrs), keys)

        (ta, ca), (tb, cb), (tc, cc) = (
            timed(f, args.repeats) for f in (sweep_fn, loop_fn, optax_fn)
        )
        gflops = k * FLOPS_PER_CONFIG / ta / 1e9
        print(
            f"| {k} | {1e3 * ta / k:.2f} | {1e3 * tb / k:.2f} | {1e3 * tc / k:.2f} | "
            f"{tb / ta:.2f}x | {ta / tc:.2f} | {ca:.1f}, {cb:.1f}, {cc:.1f} | "
            f"{gflops:.0f} | {100 * gflops / peak:.0f}% | {sweep_fn.chunk} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
