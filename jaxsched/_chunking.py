"""How many configurations a sweep runs per compiled call (``chunk_size="auto"``).

A vmapped chunk gets faster per configuration as it grows, until its working set
falls out of the cache (on a CPU: the last-level cache) and it gets slower again
(PERF_NOTES: the digits MLP at 64 configurations 7.5 ms each, at 256 11 ms). The
probe compiles the first chunk, reads its working set from the compiled program
(``memory_analysis``: temporary buffers, arguments and outputs), and sizes the
chunks so that one fits the budget: three quarters of the last-level cache on a
CPU (the rest for the data, the code and the other cores; on the digits MLP and a
32 MiB L3 this picks 64, the fastest size measured there; a VM may report its
host's whole L3), half the device memory on an accelerator.
The CPU devices of one process share the cache: on two (one per core) the digits
MLP gets 32 configurations per device.

On a CPU without a mesh a chunk runs as two equal parts at once, each from a host
thread of its own (:func:`parts`): XLA's CPU runtime runs one program's kernels one
after another, and the small ones of a small model leave a core idle; a second
program fills those gaps (the digits sweep at K = 256: 0.7-0.9x the time of the
same chunks run whole, README, Performance). The parts share the cache, so the
budget is the chunk's.
"""

from __future__ import annotations

import functools
import math
import os
import pathlib
from collections.abc import Callable

import jax

#: Parts of a chunk run at once on a CPU without a mesh.
CPU_PARTS = 2

#: Configurations in the probe's first chunk (the best size measured on the CPUs
#: of PERF_NOTES for the digits MLP), and the answer when there is nothing to
#: measure.
FIRST_CHUNK = 64


def even_chunks(count: int, most: int, shards: int = 1) -> int:
    """The chunk size that covers ``count`` configurations in as few chunks of at
    most ``most`` as possible, with the least padding, a multiple of ``shards``."""
    size = math.ceil(count / math.ceil(count / max(most, 1)))
    return math.ceil(size / shards) * shards


def parts(sharded: bool, count: int) -> int:
    """How many equal parts of a chunk run at once in a sweep of ``count``
    configurations: :data:`CPU_PARTS` on a CPU with several cores and no mesh (a
    mesh's CPU devices already run their shards at once, and the processes of a
    multi-host sweep must run the same programs in the same order), if there
    are configurations enough to fill them and JAX runs no NaN, inf or no-jit
    checks; else 1."""
    if sharded or count < CPU_PARTS or jax.devices()[0].platform != "cpu":
        return 1
    if _checking():  # the caller's checks must see every configuration
        return 1
    return min(CPU_PARTS, os.cpu_count() or 1)


def _checking() -> bool:
    """Whether JAX runs with NaN or inf checks, or without jit, in this thread: a
    worker thread does not see these settings where the caller set them with a
    context manager (``jax.debug_nans(True)``)."""
    config = jax.config
    return config.jax_debug_nans or config.jax_debug_infs or config.jax_disable_jit


def working_set_per_config(
    compile_chunk: Callable[[int], jax.stages.Compiled],
    count: int,
    shards: int,
    parts: int = 1,
) -> float:
    """Bytes per configuration (per device) of the first chunk of a sweep of
    ``count``, 0 if the backend won't say.

    ``compile_chunk(size)`` compiles the sweep's program for ``size``
    configurations: one part of the first chunk (the jit cache keeps it: if that
    size is the answer, nothing is compiled twice).
    """
    part = even_chunks(count, FIRST_CHUNK, shards * parts) // parts
    return working_set(compile_chunk(part)) / (part // shards)


def chunk_size(
    count: int,
    shards: int,
    per_config: float,
    host_devices: int = 1,
    parts: int = 1,
) -> int:
    """The chunk size whose working set fits :func:`memory_budget` (the probe's
    first size when either is unknown), a multiple of ``shards * parts`` (of
    ``shards`` where the parts do not fit: the chunk then runs whole).

    ``host_devices``: the mesh's devices in this process. CPU devices of one
    process (``--xla_force_host_platform_device_count``) are the cores of one
    machine: they run their shards at once and share its cache, so each gets
    its part of the budget; an accelerator has its memory to itself. A chunk's
    ``parts`` run at once too, so together they fit the budget.
    """
    device = jax.devices()[0]
    budget = memory_budget(device)
    if not per_config or budget is None:
        return even_chunks(count, FIRST_CHUNK, shards * parts)
    if device.platform == "cpu":
        budget //= host_devices
    most = max(int(budget // per_config), 1) * shards
    multiple = shards * parts
    if most < multiple:  # the parts would not fit: one part
        return even_chunks(count, most, shards)
    return even_chunks(count, most // multiple * multiple, multiple)


def working_set(compiled: jax.stages.Compiled) -> int:
    """Bytes a compiled program touches per device (0 if the backend won't say)."""
    try:
        memory = compiled.memory_analysis()
    except (NotImplementedError, jax.errors.JaxRuntimeError):
        return 0
    if memory is None:
        return 0
    return (
        memory.temp_size_in_bytes
        + memory.argument_size_in_bytes
        + memory.output_size_in_bytes
    )


def memory_budget(device: jax.Device) -> int | None:
    """Bytes a chunk may touch: 3/4 of the CPU's last-level cache, or half an
    accelerator's memory; None if unknown."""
    if device.platform == "cpu":
        cache = last_level_cache()
        return cache * 3 // 4 if cache else None
    try:
        stats = device.memory_stats() or {}
    except (NotImplementedError, jax.errors.JaxRuntimeError):
        return None
    limit = stats.get("bytes_limit")
    return limit // 2 if limit else None


@functools.cache
def last_level_cache(root: str = "/sys/devices/system/cpu/cpu0/cache") -> int | None:
    """Size in bytes of the largest data or unified cache of CPU 0 (Linux sysfs);
    None elsewhere."""
    sizes = []
    for index in pathlib.Path(root).glob("index*"):
        try:
            kind = (index / "type").read_text().strip()
            size = (index / "size").read_text().strip()
        except OSError:
            continue
        if kind == "Instruction":
            continue
        scale = {"K": 2**10, "M": 2**20, "G": 2**30}.get(size[-1])
        sizes.append(int(size[:-1]) * scale if scale else int(size))
    return max(sizes, default=None)
