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
# # 7. Why warmup
#
# **Intuition.** At initialisation the gradients are large and unreliable, and an
# adaptive optimizer's second-moment estimate rests on a handful of samples. A high
# learning rate from the first step can throw the weights into a bad region from
# which training never recovers. A warmup ramps the rate up over the first steps
# (Goyal et al. 2017), so the same high peak becomes usable.

# %%
import os

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax

import jaxsched as js
from jaxsched import digits

S = js.schedules
FAST = os.environ.get("JAXSCHED_FAST") == "1"
STEPS = 150 if FAST else 400
SEEDS = 3 if FAST else 5
PEAK = 0.1  # high for Adam on this MLP (its default is 1e-3)

# %% [markdown]
# ## The warmup by hand, in jaxsched and in optax
#
# A linear warmup over $W$ steps from 0 to the peak, then the peak:
# $\eta_k = \eta \min(k / W, 1)$.

# %%
W = 50
k = jnp.arange(200)
by_hand = PEAK * jnp.minimum(k / W, 1.0)
ours = S.warmup(S.constant(PEAK), warmup_steps=W)(k)
with jax.numpy_dtype_promotion("standard"):
    theirs = optax.join_schedules(
        [optax.linear_schedule(0.0, PEAK, W), optax.constant_schedule(PEAK)], [W]
    )(k)
np.testing.assert_allclose(ours, by_hand, rtol=1e-6, atol=1e-9)
# optax's (init - end) * (1 - k / W) + end cancels near 0: an ulp of PEAK there
np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-8)
print("warmup: by hand = jaxsched = optax")

# %% [markdown]
# ## The digits MLP at a high rate, with and without warmup, several seeds

# %%
data = digits.load()


def train(warmup_steps, key):
    optimizer = js.adam(S.warmup(S.constant(PEAK), warmup_steps=warmup_steps))

    params, losses = digits.train_minibatch(optimizer, data, STEPS, key)
    return losses, digits.accuracy(params, data.val)


keys = jax.random.split(jax.random.key(0), SEEDS)
per_seed = jax.vmap(train, in_axes=(None, 0))
fig, ax = plt.subplots(figsize=(7, 4))
for warmup_steps, style in [(0, "-"), (25, "--")]:
    losses, acc = per_seed(warmup_steps, keys)
    smooth = jnp.stack([jnp.convolve(c, jnp.ones(10) / 10, "valid") for c in losses])
    median = np.median(smooth, axis=0)
    line = ax.semilogy(median, style, label=f"warmup {warmup_steps}")[0]
    ax.fill_between(
        np.arange(len(median)),
        smooth.min(0),
        smooth.max(0),
        alpha=0.2,
        color=line.get_color(),
    )
    per_seed_acc = np.round(np.asarray(acc, np.float64), 3)
    print(f"warmup {warmup_steps:3d}: validation accuracy per seed {per_seed_acc}")
ax.set(xlabel="step", ylabel="training loss (10-step mean)")
ax.legend()

# %% [markdown]
# ## A sweep over the warmup length with `jax.vmap`
#
# Warmup length is a traced hyperparameter: all lengths x seeds are one program.

# %%
warmups = jnp.asarray([0, 10, 25, 50, 100] if FAST else [0, 5, 10, 25, 50, 100, 200])
_, accs = jax.vmap(lambda w: per_seed(w, keys))(warmups)
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.errorbar(np.asarray(warmups), accs.mean(1), yerr=accs.std(1), fmt="o-", color="k")
ax.set(xlabel="warmup steps", ylabel="validation accuracy (mean ± std over seeds)")
print(
    dict(
        zip(
            np.asarray(warmups).tolist(),
            np.round(accs.mean(1), 4).tolist(),
            strict=True,
        )
    )
)

# %% [markdown]
# ## Summary
# - Warmup ramps the rate so that the first, unreliable updates stay small.
# - On this small MLP it changes little: at a peak of 0.1 the seeds differ about
#   as much as the warmup lengths do (compare the printed accuracies with the
#   sweep's error bars). Warmup earns its keep on deep networks, large batches and
#   transformers, where Adam's first updates, scaled by second moments estimated
#   from a handful of gradients, can throw the model where it does not recover.
# - `S.warmup` wraps any schedule; the length can be swept with `vmap`.
#
# ## Exercises
# 1. Replace the linear warmup by `mode="constant"` (ResNet's recipe).
# 2. Find the largest peak rate that trains without warmup, and with 50 steps.
# 3. Does SGD with momentum need warmup as much as Adam here?
