"""Time one optimizer update, jaxsched against optax (and PyTorch when installed).

For each optimizer, problem and parameter dtype it compiles
``jit(update + optax.apply_updates)`` with the parameters and the state donated,
then times the two sides in turns in one process (rounds of ``--steps`` updates
each; the median over ``--rounds``), so that the ratio is measured under the same
machine load; PyTorch's rounds follow. It also reads the number of XLA kernels
and the bytes accessed from the compiled programs, and measures the in-place
memory roofline first (``roofline.py``).

    python benchmarks/update_step.py          # everything: about 10 minutes
    python benchmarks/update_step.py --problems leaf16m --optimizers adam --rounds 5

Prints a Markdown table: time per step (median and interquartile range), the
jaxsched / optax ratio (median of the per-round ratios), jaxsched's effective
bandwidth at the minimum traffic (params read and written, gradients read, its
buffers read and written: 7 floats per parameter for float32 Adam) and that as a
percentage of the roofline, the kernels and the bytes accessed per parameter of
each side according to the compiled HLO, and PyTorch's foreach and fused steps,
for two configurations of each optimizer (see ``OPTIMIZERS``). With bf16
parameters jaxsched keeps float32 buffers and optax bf16 ones (its default), so
jaxsched moves more bytes there by design.
"""

from __future__ import annotations

import argparse
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from roofline import bandwidth

import jaxsched as js

PROBLEMS = {
    # name: list of leaf shapes
    "leaf16m": [(16 * 2**20,)],
    "leaf4m": [(4 * 2**20,)],
    "tree200x20k": [(20 * 2**10,)] * 200,  # 200 leaves, 4M parameters in all
}
DTYPES = {"f32": jnp.float32, "bf16": jnp.bfloat16}


def with_traced_decay(optimizer):
    """optax's twin of jaxsched's default ``weight_decay=0.0`` kept as data: the L2
    term with a traced decay (a constant 0.0 would be folded away by XLA)."""
    decay = optax.inject_hyperparams(optax.add_decayed_weights)(weight_decay=0.0)
    return optax.chain(decay, optimizer)


# optimizer -> config -> (jaxsched, its optax twin). "lean": unused terms left out
# (weight_decay=None, momentum=None); "defaults": jaxsched's defaults, which keep
# weight_decay=0.0 (and RMSprop's momentum=0.0) as traced data, against optax with
# the same terms.
OPTIMIZERS = {
    "sgd_momentum": {
        "lean": (
            lambda: js.sgd(1e-3, momentum=0.9, weight_decay=None),
            lambda: optax.sgd(1e-3, momentum=0.9),
        ),
        "defaults": (
            lambda: js.sgd(1e-3, momentum=0.9),
            lambda: with_traced_decay(optax.sgd(1e-3, momentum=0.9)),
        ),
    },
    "adagrad": {
        "lean": (
            lambda: js.adagrad(1e-2, 0.0, None, 0.1, 0.0),
            lambda: optax.adagrad(1e-2, initial_accumulator_value=0.1, eps=0.0),
        ),
        "defaults": (
            lambda: js.adagrad(1e-2, initial_accumulator_value=0.1, eps=0.0),
            lambda: with_traced_decay(optax.adagrad(1e-2, 0.1, eps=0.0)),
        ),
    },
    "rmsprop": {
        "lean": (
            lambda: js.rmsprop(1e-3, momentum=None, weight_decay=None),
            lambda: optax.rmsprop(1e-3, 0.99, 1e-8, eps_in_sqrt=False),
        ),
        "defaults": (
            lambda: js.rmsprop(1e-3),
            lambda: with_traced_decay(
                optax.rmsprop(1e-3, 0.99, 1e-8, eps_in_sqrt=False, momentum=0.0)
            ),
        ),
    },
    "adam": {
        "lean": (lambda: js.adam(1e-3, weight_decay=None), lambda: optax.adam(1e-3)),
        "defaults": (
            lambda: js.adam(1e-3),
            lambda: with_traced_decay(optax.adam(1e-3)),
        ),
    },
    "adamw": {
        "defaults": (
            lambda: js.adamw(1e-3),
            lambda: optax.adamw(1e-3, weight_decay=1e-2),
        ),
    },
}

TORCH = {
    "sgd_momentum": ("SGD", dict(lr=1e-3, momentum=0.9)),
    "adagrad": ("Adagrad", dict(lr=1e-2, initial_accumulator_value=0.1, eps=0.0)),
    "rmsprop": ("RMSprop", dict(lr=1e-3)),
    "adam": ("Adam", dict(lr=1e-3)),
    "adamw": ("AdamW", dict(lr=1e-3)),
}


def make_tree(shapes, seed, dtype=jnp.float32):
    keys = jax.random.split(jax.random.key(seed), len(shapes))
    return [jax.random.normal(k, s, dtype) for k, s in zip(keys, shapes, strict=True)]


def minimum_bytes(params, state):
    """Bytes an update must move: params read and written, gradients read, and
    every parameter-sized buffer of the state read and written."""
    sizes = {x.shape for x in params}
    buffers = [x for x in jax.tree.leaves(state) if x.shape in sizes and x.ndim]
    nbytes = sum(x.nbytes for x in params)
    return 3 * nbytes + 2 * sum(x.nbytes for x in buffers)


def compiled_step(optimizer, params, grads):
    def step(params, state, grads):
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    state = optimizer.init(params)
    jitted = jax.jit(step, donate_argnums=(0, 1))
    compiled = jitted.lower(params, state, grads).compile()
    return compiled, state


def hlo_stats(compiled):
    """(kernels in the entry computation, bytes accessed) of a compiled program."""
    text = compiled.as_text()
    entry = text[text.index("ENTRY") :]
    entry = entry[: entry.index("\n}")]
    skip = ("parameter(", "tuple(", "get-tuple-element(", "constant(", "bitcast(")
    kernels = sum(
        1
        for line in entry.splitlines()[1:]
        if "=" in line and not any(s in line for s in skip)
    )
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    return kernels, cost.get("bytes accessed", float("nan"))


def time_rounds(sides, steps, rounds):
    """Runs each side ``steps`` times per round, in turns; seconds per step.

    The order rotates every round, so that no side always follows the same one.
    """
    names = list(sides)
    times = {name: [] for name in names}
    for r in range(rounds if names else 0):  # none without torch
        for name in names[r % len(names) :] + names[: r % len(names)]:
            start = time.perf_counter()
            sides[name](steps)
            times[name].append((time.perf_counter() - start) / steps)
    return {name: np.asarray(t) for name, t in times.items()}


def jax_runner(compiled, params, state, grads):
    carry = [jax.tree.map(jnp.copy, params), state]

    def run(steps):
        for _ in range(steps):
            carry[0], carry[1] = compiled(carry[0], carry[1], grads)
        jax.block_until_ready(carry)

    return run


def torch_runners(name, shapes, dtype):
    try:
        import torch
    except ImportError:
        return {}
    cls_name, kwargs = TORCH[name]
    dtype = {"f32": torch.float32, "bf16": torch.bfloat16}[dtype]
    runners = {}
    for variant in ("foreach", "fused"):
        params = [torch.randn(s, dtype=dtype, requires_grad=True) for s in shapes]
        for p in params:
            p.grad = torch.randn_like(p)
        try:
            opt = getattr(torch.optim, cls_name)(params, **kwargs, **{variant: True})
            opt.step()
        except (RuntimeError, TypeError):
            continue  # e.g. no fused kernel for this optimizer on CPU

        def run(steps, opt=opt):
            with torch.no_grad():
                for _ in range(steps):
                    opt.step()

        runners[f"torch {variant}"] = run
    return runners


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", default=",".join(PROBLEMS))
    parser.add_argument("--optimizers", default=",".join(OPTIMIZERS))
    parser.add_argument("--dtypes", default=",".join(DTYPES))
    parser.add_argument("--steps", type=int, default=10, help="updates per round")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--no-torch", action="store_true")
    args = parser.parse_args(argv)

    device = jax.devices()[0]
    cpu = platform.processor() or platform.machine()
    roof = in_place_roofline()
    print(
        f"jax {jax.__version__}, optax {optax.__version__}, jaxsched {js.__version__};"
        f" {device.platform} ({device.device_kind}, {cpu});"
        f" steps={args.steps} rounds={args.rounds}; in-place roofline {roof:.1f} GB/s"
        "\n"
    )
    print(
        "| optimizer | config | problem | dtype | jaxsched ms (IQR) | optax ms (IQR) "
        "| ratio | jaxsched GB/s (% roofline) | kernels js/optax "
        "| bytes/param js/optax | torch ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for problem in args.problems.split(","):
        shapes = PROBLEMS[problem]
        for dtype in args.dtypes.split(","):
            params = make_tree(shapes, 0, DTYPES[dtype])
            grads = make_tree(shapes, 1, DTYPES[dtype])
            for name in args.optimizers.split(","):
                torch_sides = (
                    {} if args.no_torch else torch_runners(name, shapes, dtype)
                )
                for config, pair in OPTIMIZERS[name].items():
                    label = f"| {name} | {config} | {problem} | {dtype} "
                    cells = row(pair, torch_sides, params, grads, roof, args)
                    print(label + cells, flush=True)


def in_place_roofline():
    """GB/s of ``x = 2 * x + 1`` in place on 256 MiB (see roofline.py)."""
    x = jnp.ones(64 * 2**20, jnp.float32)
    return bandwidth(lambda x: 2 * x + 1, x, repeats=10, donate=True)


def row(pair, torch_sides, params, grads, roofline, args):
    """The timed cells of one table row: both sides compiled, warmed up and
    timed in turns."""
    sides, stats = {}, {}
    for side, factory in zip(("jaxsched", "optax"), pair, strict=True):
        with jax.numpy_dtype_promotion("standard"):
            compiled, state = compiled_step(factory(), params, grads)
        stats[side] = hlo_stats(compiled)
        sides[side] = jax_runner(compiled, params, state, grads)
        if side == "jaxsched":
            traffic = minimum_bytes(params, state)
    for run in (*sides.values(), *torch_sides.values()):  # warm up
        run(2)
    # PyTorch's rounds come after, not in between: its worker threads keep
    # spinning for a while after a step and would slow the next side.
    times = time_rounds(sides, args.steps, args.rounds)
    times |= time_rounds(torch_sides, args.steps, args.rounds)
    med = {k: 1e3 * float(np.median(v)) for k, v in times.items()}
    iqr = {
        k: 1e3 * float(np.subtract(*np.percentile(v, [75, 25])))
        for k, v in times.items()
    }
    ratio = float(np.median(times["jaxsched"] / times["optax"]))
    torch_cell = ", ".join(
        f"{k[6:]} {med[k]:.2f}" for k in med if k.startswith("torch")
    )
    gbs = traffic / med["jaxsched"] / 1e6
    n = sum(x.size for x in params)
    per_param = "/".join(f"{stats[side][1] / n:.1f}" for side in stats)
    return (
        f"| {med['jaxsched']:.2f} ({iqr['jaxsched']:.2f}) | {med['optax']:.2f} "
        f"({iqr['optax']:.2f}) | {ratio:.2f} | {gbs:.1f} ({100 * gbs / roofline:.0f}%)"
        f" | {stats['jaxsched'][0]}/{stats['optax'][0]} | {per_param} | "
        f"{torch_cell or '—'} |"
    )


if __name__ == "__main__":
    main()
