"""How many configurations a sweep runs per compiled call (``chunk_size="auto"``).

A vmapped chunk gets faster per configuration as it grows, until its working set
falls out of the cache (on a CPU: the last-level cache) and it gets slower again
(PERF_NOTES: the digits MLP at 64 configurations 7.5 ms each, at 256 11 ms). The
probe compiles the first chunk, reads its working set from the compiled program
(``memory_analysis``: temporary buffers, arguments and outputs), and sizes the
chunks so that one fits the budget: three quarters of the last-level cache on a
CPU (the rest for the data, the code and the other cores; on the digits MLP this
picks 64, the fastest size measured), half the device memory on an accelerator.
The CPU devices of one process share the cache: on two (one per core) the digits
MLP gets 32 configurations per device.
"""

from __future__ import annotations

import functools
import math
import pathlib
from collections.abc import Callable

import jax

#: Configurations in the probe's first chunk (the best size measured on the CPUs
#: of PERF_NOTES for the digits MLP), and the answer when there is nothing to
#: measure.
FIRST_CHUNK = 64


def even_chunks(count: int, most: int, shards: int = 1) -> int:
    """The chunk size that covers ``count`` configurations in as few chunks of at
    most ``most`` as possible, with the least padding, a multiple of ``shards``."""
    size = math.ceil(count / math.ceil(count / max(most, 1)))
    return math.ceil(size / shards) * shards


def working_set_per_config(
    compile_chunk: Callable[[int], jax.stages.Compiled], count: int, shards: int
) -> float:
    """Bytes per configuration (per device) of the first chunk of a sweep of
    ``count``, 0 if the backend won't say.

    ``compile_chunk(size)`` compiles the sweep's program for ``size``
    configurations (the jit cache keeps it: if that size is the answer, nothing
    is compiled twice).
    """
    first = even_chunks(count, FIRST_CHUNK, shards)
    return working_set(compile_chunk(first)) / (first // shards)


def chunk_size(
    count: int, shards: int, per_config: float, host_devices: int = 1
) -> int:
    """The chunk size whose working set fits :func:`memory_budget` (the probe's
    first size when either is unknown).

    ``host_devices``: the mesh's devices in this process. CPU devices of one
    process (``--xla_force_host_platform_device_count``) are the cores of one
    machine: they run their shards at once and share its cache, so each gets
    its part of the budget; an accelerator has its memory to itself.
    """
    device = jax.devices()[0]
    budget = memory_budget(device)
    if not per_config or budget is None:
        return even_chunks(count, FIRST_CHUNK, shards)
    if device.platform == "cpu":
        budget //= host_devices
    most = max(int(budget // per_config), 1) * shards
    return even_chunks(count, most, shards)


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
