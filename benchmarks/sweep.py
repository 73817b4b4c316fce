"""Time a learning-rate sweep three ways, per configuration, in one process.

The digits MLP (64-128-10, minibatch 32, 300 Adam steps) for K configurations:
(a) ``js.sweep`` (vmapped chunks of one compiled program; on a CPU without a
mesh, each chunk's two halves at once), (b) a Python loop over
one compiled single-configuration function, (c) ``optax.inject_hyperparams`` +
``jax.vmap`` written by hand (all K at once). Prints a Markdown table: time per
configuration (median of ``--repeats`` rounds after a warm-up that compiles; in
each round every run goes once, in turns), speed-up over (b) and (a)/(c) (medians
of the per-round ratios), compile time, and GFLOP/s against the matmul peak
measured in the same run.

On a CPU the process makes one device per core (``--cpu-devices``, JAX's
``jax_num_cpu_devices``). (a), (b) and (c) run on the first device, as they would
on the only one (their matmuls still use every core); where there are several, (a)
and (b) run again on all of them: (a) sharded over a ``configs`` mesh, (b) with
configuration i on device i mod n (the calls are dispatched without waiting, so the
devices run theirs at once).

    python benchmarks/sweep.py               # K = 1, 8, 64, 256
    python benchmarks/sweep.py --ks 8,64 --repeats 2
    python benchmarks/sweep.py --ks 256 --chunks 16,32,64,128,256   # vs "auto"
    python benchmarks/sweep.py --autodiff   # JAX's own derivative, every side
"""

from __future__ import annotations

import argparse
import functools
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxsched as js
from jaxsched import _chunking, digits

STEPS, BATCH = 300, 32
# Matmul FLOPs per configuration: forward and weight gradient of both layers, input
# gradient of the second only (the images need none).
FLOPS_PER_CONFIG = STEPS * 2 * BATCH * (2 * 64 * 128 + 3 * 128 * 10)


def autodiff_loss(params, batch):
    """``digits.loss`` with the last layer a plain ``w @ h`` (JAX's own derivative,
    where ``digits.loss`` has one written for XLA's CPU backend)."""
    x, y = batch
    h = jax.nn.relu(params["w0"] @ x.T + params["b0"][:, None])
    scores = params["w1"] @ h + params["b1"][:, None]
    return optax.softmax_cross_entropy_with_integer_labels(scores, y, axis=0).mean()


def make_train(data, make_optimizer, loss_fn=digits.loss):

    def train(lr, key):
        optimizer = make_optimizer(lr)

        params, _ = digits.train_minibatch(
            optimizer, data, STEPS, key, batch_size=BATCH, loss_fn=loss_fn
        )
        return digits.loss(params, data.val)

    return train


def timed_in_turns(runs, repeats):
    """Times every run ``repeats`` times after a first (compiling) call, in turns
    whose order rotates each round, so that all see the same load; returns each
    run's times as an array and how much longer its first call took than its
    median (the compile)."""
    firsts = []
    for fn in runs:
        start = time.perf_counter()
        jax.block_until_ready(fn())
        firsts.append(time.perf_counter() - start)
    times = [[] for _ in runs]
    for r in range(repeats):
        for i in [(r + j) % len(runs) for j in range(len(runs))]:
            start = time.perf_counter()
            jax.block_until_ready(runs[i]())
            times[i].append(time.perf_counter() - start)
    times = [np.asarray(t) for t in times]
    return times, [
        max(f - float(np.median(t)), 0.0) for f, t in zip(firsts, times, strict=True)
    ]


def ms_per_config(times, k):
    """The median of a run's times, in ms per configuration of its K."""
    return 1e3 * float(np.median(times)) / k


def median_ratio(x, y):
    """The median of the per-round ratios of two runs timed in turns."""
    return float(np.median(x / y))


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
    parser.add_argument(
        "--cpu-devices",
        type=int,
        default=os.cpu_count() or 1,
        help="CPU devices to make (default: one per core)",
    )
    parser.add_argument(
        "--autodiff",
        action="store_true",
        help="train with JAX's own derivative of the last layer (every side)",
    )
    parser.add_argument(
        "--chunks",
        default="",
        help="chunk sizes to time (a) with at the last K of --ks, against 'auto'",
    )
    args = parser.parse_args(argv)
    jax.config.update("jax_num_cpu_devices", args.cpu_devices)
    devices = jax.devices()
    mesh = jax.make_mesh((len(devices),), ("configs",)) if len(devices) > 1 else None

    data = digits.load()
    key = jax.random.key(0)
    loss_fn = autodiff_loss if args.autodiff else digits.loss
    ours = make_train(data, js.adam, loss_fn)
    theirs = make_train(
        data, lambda lr: optax.inject_hyperparams(optax.adam)(lr), loss_fn
    )
    solo = jax.jit(ours)
    vmapped = jax.jit(jax.vmap(theirs))  # compiled once per K (its batch shape)

    def sweep_train(hparams, key):  # one object: js.sweep caches its compilation
        return {"loss": ours(hparams["learning_rate"], key)}

    peak = matmul_peak()
    derivative = "JAX's own" if args.autodiff else "digits.loss's custom JVP"
    print(
        f"jax {jax.__version__}, {jax.devices()[0].device_kind}; digits MLP 64-128-10, "
        f"batch {BATCH}, {STEPS} Adam steps, last layer's derivative: {derivative}; "
        f"matmul peak {peak:.0f} GFLOP/s\n"
    )
    on = f": 1, {len(devices)} devices" if mesh else ""  # (a) and (b) run twice
    print(
        f"| K | (a) js.sweep ms/config{on} | (b) loop ms/config{on} "
        f"| (c) optax vmap ms/config | speed-up (a)/(b){on} | (a)/(c) time "
        f"| compile s ((a){on}; (b); (c)) | (a) GFLOP/s{on} | % of peak "
        "| chunk (MB/config per device) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for k in map(int, args.ks.split(",")):
        lrs = np.logspace(-4, -2, k).astype(np.float32)
        keys = jax.random.split(key, k)
        chunks = {}  # each (a) run's chunk size, by mesh

        def sweep_fn(lrs=lrs, mesh=None, chunks=chunks):
            result = js.sweep(
                sweep_train, {"learning_rate": lrs}, mesh=mesh, progress=False
            )
            stats = result.stats
            per_config = stats["working_set_per_config"] / 1e6
            parts = stats["parts_per_chunk"]
            at_once = f" in {parts} parts" if parts > 1 else ""
            chunks[mesh] = f"{stats['chunk_size']}{at_once} ({per_config:.2f})"
            return result.metrics["loss"]

        def loop_fn(lrs=lrs, keys=keys, devices=devices[:1]):
            # configuration i on device i mod n: dispatched without waiting, the
            # calls on different devices run at once
            out = []
            for i, lr in enumerate(lrs):
                device = devices[i % len(devices)]
                out.append(solo(*jax.device_put((jnp.float32(lr), keys[i]), device)))
            return out

        def optax_fn(lrs=lrs, keys=keys):
            with jax.numpy_dtype_promotion("standard"):
                return vmapped(jnp.asarray(lrs), keys)

        runs = [sweep_fn, loop_fn, optax_fn]
        if mesh:
            runs += [
                functools.partial(sweep_fn, mesh=mesh),
                functools.partial(loop_fn, devices=devices),
            ]
        times, (ca, cb, cc, *sharded) = timed_in_turns(runs, args.repeats)
        ta, tb, tc, *sharded_times = times
        a, b = [ta, *sharded_times[:1]], [tb, *sharded_times[1:]]
        compiles = [ca, *sharded[:1], cb, cc]
        gflops = [k * FLOPS_PER_CONFIG / float(np.median(t)) / 1e9 for t in a]

        def cells(form, values):  # one value per device count
            return ", ".join(form.format(v) for v in values)

        row = [
            str(k),
            cells("{:.2f}", [ms_per_config(t, k) for t in a]),
            cells("{:.2f}", [ms_per_config(t, k) for t in b]),
            f"{ms_per_config(tc, k):.2f}",
            cells(
                "{:.2f}x",
                [median_ratio(tb_, ta_) for ta_, tb_ in zip(a, b, strict=True)],
            ),
            f"{median_ratio(ta, tc):.2f}",
            cells("{:.1f}", compiles),
            cells("{:.0f}", gflops),
            cells("{:.0f}%", [100 * g / peak for g in gflops]),
            ", ".join(chunks.values()),
        ]
        print("| " + " | ".join(row) + " |", flush=True)
    if args.chunks:
        sizes = ["auto", *map(int, args.chunks.split(","))]
        # each size in two parts at once (as js.sweep runs them on a CPU), then
        # whole (one part per chunk: jaxsched._chunking.CPU_PARTS = 1)
        cases = [(size, 2) for size in sizes] + [(size, 1) for size in sizes]

        used = {}  # case -> (chunk size, parts) its runs used

        def chunked(size, parts, lrs=lrs):
            default, _chunking.CPU_PARTS = _chunking.CPU_PARTS, parts
            try:
                hparams = {"learning_rate": lrs}
                result = js.sweep(sweep_train, hparams, chunk_size=size, progress=False)
            finally:
                _chunking.CPU_PARTS = default
            stats = result.stats
            used[size, parts] = stats["chunk_size"], stats["parts_per_chunk"]

        runs = [functools.partial(chunked, *case) for case in cases]
        times, _ = timed_in_turns(runs, args.repeats)
        print(f"\n(a) at K = {k} on one device by chunk size\n")
        print("| chunk | parts at once | ms/config | / auto |\n|---|---|---|---|")
        for case, t in zip(cases, times, strict=True):
            size, parts = used[case]
            shown = f"auto ({size})" if case[0] == "auto" else size
            ratio = median_ratio(t, times[0])
            print(f"| {shown} | {parts} | {ms_per_config(t, k):.2f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
