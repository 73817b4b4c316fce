# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 9. Sweeps at scale
#
# **Intuition.** Because jaxsched's hyperparameters are data, a grid of
# configurations is a batch: `jax.vmap` turns one training run into many in one
# compiled program. `js.sweep` adds what a real sweep needs: seeds, chunks that fit
# in memory and cache, sharding over devices, checkpoints and a result to query.
#
# This notebook asks JAX for 2 CPU devices (before it runs anything) to show
# sharding.

# %%
import os

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax

import jaxsched as js
from jaxsched import digits

jax.config.update("jax_num_cpu_devices", 2)

FAST = os.environ.get("JAXSCHED_FAST") == "1"
STEPS = 100 if FAST else 300

# %% [markdown]
# ## One training run, as a function of its hyperparameters

# %%
data = digits.load()


def train(hparams, key):
    schedule = js.schedules.warmup_cosine_decay(
        0.0, hparams["learning_rate"], STEPS // 10, STEPS
    )
    optimizer = js.adamw(schedule, weight_decay=hparams["weight_decay"])

    params, _ = digits.train_minibatch(optimizer, data, STEPS, key)
    return {
        "val_accuracy": digits.accuracy(params, data.val),
        "val_loss": digits.loss(params, data.val),
    }


# %% [markdown]
# ## By hand: `jax.vmap` over a 2-D grid

# %%
grid = js.grid(
    learning_rate=np.logspace(-4, -1, 4 if FAST else 8),
    weight_decay=[0.0, 1e-3, 1e-2] if FAST else [0.0, 1e-4, 1e-3, 1e-2],
)
key = jax.random.split(jax.random.key(0), 1)[0]
by_hand = jax.jit(jax.vmap(train, in_axes=(0, None)))(
    {k: jnp.asarray(v, jnp.float32) for k, v in grid.items()}, key
)

# %% [markdown]
# ## With `js.sweep`: seeds, chunks, the result

# %%
result = js.sweep(train, grid, seeds=2, chunk_size=4, progress=False)
# Same values as by hand (chunks of 4 instead of all at once round differently;
# at a learning rate of 0.1 training is chaotic and those roundings grow, so the
# check is on the stable runs).
stable = grid["learning_rate"] <= 1e-2
np.testing.assert_allclose(
    result.metrics["val_loss"][stable, 0],
    by_hand["val_loss"][stable],
    rtol=1e-5,
    atol=1e-6,
)
print(result.table("val_accuracy", top=5, mode="max"))
print("best:", result.best("val_accuracy", mode="max"))
print({k: result.stats[k] for k in ("runs", "seconds", "compiles", "chunk_size")})

# %% [markdown]
# How big should a chunk be? Per configuration a vmapped chunk gets cheaper as it
# grows, until its working set falls out of the CPU's last-level cache (or fills an
# accelerator's memory). The default, `chunk_size="auto"`, compiles a first chunk,
# reads the program's buffers from the compiled HLO (`memory_analysis()`) and sizes
# the chunks to fit: the result is the same up to rounding, only the grouping
# changes. On a CPU (without a mesh) each chunk runs as two halves at once, from two
# host threads: one small program leaves a core idle between its kernels, and the
# other fills it (`stats["parts_per_chunk"]`).

# %%
auto = js.sweep(train, grid, seeds=2, progress=False)
np.testing.assert_allclose(  # on the stable runs again: other groups, other roundings
    auto.metrics["val_loss"][stable],
    result.metrics["val_loss"][stable],
    rtol=1e-5,
    atol=1e-6,
)
size, per_config = auto.stats["chunk_size"], auto.stats["working_set_per_config"]
print(
    f"auto: {size} configurations per chunk in {auto.stats['parts_per_chunk']} "
    f"part(s), {per_config / 1e3:.0f} kB each"
)

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
js.plot.sweep(result, x="learning_rate", metric="val_accuracy", ax=axes[0])
js.plot.sweep(
    result, x="learning_rate", y="weight_decay", metric="val_accuracy", ax=axes[1]
)
fig.tight_layout()

# %% [markdown]
# ## The same with optax, written by hand
#
# optax needs `inject_hyperparams` to take a traced learning rate, and the sweep
# machinery (seeds, chunks, divergence, the leaderboard) is yours to write.


# %%
def train_optax(lr, key):
    optimizer = optax.inject_hyperparams(optax.adam)(learning_rate=lr)

    params, _ = digits.train_minibatch(optimizer, data, STEPS, key)
    return digits.loss(params, data.val)


def train_js(hparams, key):
    optimizer = js.adam(hparams["learning_rate"])

    params, _ = digits.train_minibatch(optimizer, data, STEPS, key)
    return {"val_loss": digits.loss(params, data.val)}


lrs = np.logspace(-3.5, -2, 4).astype(np.float32)
with jax.numpy_dtype_promotion("standard"):
    optax_losses = jax.jit(jax.vmap(train_optax, in_axes=(0, None)))(lrs, key)
ours = js.sweep(train_js, {"learning_rate": lrs}, progress=False)
np.testing.assert_allclose(ours.metrics["val_loss"][:, 0], optax_losses, rtol=2e-3)
print("js.sweep with js.adam = vmap of optax.adam by hand")

# %% [markdown]
# ## Sharding the configurations over devices
#
# A mesh with an axis named `"configs"` splits every chunk across the devices. The
# numbers agree to float rounding: each device runs a smaller batched matmul, which
# XLA may round differently, and at the highest learning rate (0.1, where training
# is chaotic) those roundings grow until the two runs are as far apart as two seeds.
#
# On a CPU this is also the way to use every core: one CPU device per core runs its
# shard on its own thread, where a single device runs the small per-configuration
# matmuls and the random draws one after another. `benchmarks/sweep.py` measures the
# digits sweep 1.3-2x faster on two devices than on one, on a 2-core CPU.

# %%
print("devices:", jax.devices())
mesh = jax.make_mesh((len(jax.devices()),), ("configs",))
sharded = js.sweep(train, grid, seeds=2, chunk_size=4, mesh=mesh, progress=False)
calm = result.hparams["learning_rate"] <= 0.01
np.testing.assert_allclose(
    sharded.metrics["val_loss"][calm],
    result.metrics["val_loss"][calm],
    rtol=1e-5,
    atol=1e-6,
)
gap = np.abs(sharded.metrics["val_loss"] - result.metrics["val_loss"])
print(
    f"largest gap: {gap[calm].max():.1e} (lr <= 0.01), {gap[~calm].max():.1e} (lr 0.1)"
)

# %% [markdown]
# ## Summary
# - A training run written as `train(hparams, key)` becomes a sweep with one
#   `jax.vmap`; `js.sweep` adds seeds, chunks, sharding, checkpoints and a result.
# - Chunks keep large sweeps inside the cache (see `benchmarks/sweep.py`).
# - The numbers equal the runs done by hand, with or without sharding.
#
# ## Exercises
# 1. Add `checkpoint_dir` and interrupt the sweep: what does the rerun recompute?
# 2. Use `js.random_search` with `js.log_uniform` for the learning rate instead.
# 3. Make the optimizer a static axis (`static={"optimizer": [...]}`).
