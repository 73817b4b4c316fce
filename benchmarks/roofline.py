"""The memory roofline of this machine: what an optimizer update can reach.

    python benchmarks/roofline.py [--mib 256]

Measures, on one float32 array of ``--mib`` MiB (use >= 64 MiB so that it does not
fit in the last-level cache): a copy ``y = x`` into fresh memory (read + write),
and an in-place update ``x = 2 * x + 1`` with a donated buffer (read + write). Every
other figure in benchmarks/ is divided by these. Prints GB/s (median of repeats).
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np


def bandwidth(fn, x, repeats, donate):
    """GB/s of ``fn`` reading and writing ``x`` once per call."""
    compiled = jax.jit(fn, donate_argnums=(0,) if donate else ())
    x = compiled(x) if donate else x
    jax.block_until_ready(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = compiled(x)
        jax.block_until_ready(out)
        times.append(time.perf_counter() - start)
        if donate:
            x = out
    return 2 * x.nbytes / np.median(times) / 1e9


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    x = jnp.ones(args.mib * 2**20 // 4, jnp.float32)
    copy = bandwidth(lambda x: x + 0, x, args.repeats, donate=False)
    in_place = bandwidth(lambda x: 2 * x + 1, jnp.copy(x), args.repeats, donate=True)
    device = jax.devices()[0]
    print(f"{device.platform} ({device.device_kind}), {args.mib} MiB float32")
    print("| measure | GB/s |\n|---|---|")
    print(f"| copy into fresh memory | {copy:.1f} |")
    print(f"| in place, donated | {in_place:.1f} |")


if __name__ == "__main__":
    main()
