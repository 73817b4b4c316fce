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
# # 8. Finding the learning rate: the LR range test
#
# **Intuition** (Smith 2015, section 3.3). Train for a few hundred steps while the
# learning rate grows geometrically from tiny to huge, and record the loss. At first
# nothing happens, then the loss falls, then it explodes. A good rate sits where
# the loss falls fastest, well before the explosion.

# %%
import os

import jax
import numpy as np
import optax

import jaxsched as js
from jaxsched import digits

FAST = os.environ.get("JAXSCHED_FAST") == "1"
NUM_STEPS = 60 if FAST else 100

# %% [markdown]
# ## The test by hand
#
# $\eta_i = \eta_0 (\eta_1/\eta_0)^{i/(N-1)}$, a smoothed loss
# $\bar\ell_i = f\ell_i + (1-f)\bar\ell_{i-1}$, and a stop when
# $\bar\ell_i > 4 \min_{j \le i} \bar\ell_j$.

# %%
data = digits.load()
params = digits.init_mlp(jax.random.key(0))
start, end = 1e-6, 10.0


def range_test_by_hand(smooth=0.05, threshold=4.0):
    optimizer = js.sgd(0.0, momentum=0.9)  # its rate is replaced at every step
    p, state = params, optimizer.init(params)
    lrs, smoothed, best = [], [], np.inf
    for i in range(NUM_STEPS):
        lr = start * (end / start) ** (i / (NUM_STEPS - 1))
        state = js.set_hparams(state, learning_rate=lr)
        loss, grads = jax.value_and_grad(digits.loss)(p, data.train)
        s = (
            float(loss)
            if i == 0
            else smooth * float(loss) + (1 - smooth) * smoothed[-1]
        )
        best = min(best, s)
        lrs.append(lr)
        smoothed.append(s)
        if s > threshold * best:
            break
        updates, state = optimizer.update(grads, state, p)
        p = optax.apply_updates(p, updates)
    return np.asarray(lrs), np.asarray(smoothed)


lrs_by_hand, smoothed_by_hand = range_test_by_hand()

# %% [markdown]
# ## The same in one compiled call, with jaxsched's and optax's SGD


# %%
def sgd_momentum(lr):
    return js.sgd(lr, momentum=0.9)


result = js.lr_find(
    digits.loss,
    params,
    data.train,
    optimizer=sgd_momentum,
    start_lr=start,
    end_lr=end,
    num_steps=NUM_STEPS,
)
n = int(result.stop_step) + 1
assert n == len(lrs_by_hand)
np.testing.assert_allclose(result.lrs[:n], lrs_by_hand, rtol=1e-5)
np.testing.assert_allclose(result.smoothed[:n], smoothed_by_hand, rtol=1e-4)
with jax.numpy_dtype_promotion("standard"):
    with_optax = js.lr_find(
        digits.loss,
        params,
        data.train,
        optimizer=lambda lr: optax.sgd(lr, momentum=0.9),
        start_lr=start,
        end_lr=end,
        num_steps=NUM_STEPS,
    )
np.testing.assert_allclose(with_optax.smoothed[:n], result.smoothed[:n], rtol=1e-4)
print(f"stopped at step {n - 1}; suggestion {result.suggestion:.3g}")
print({k: f"{v:.3g}" for k, v in result.suggestions.items()})
result.plot()

# %% [markdown]
# ## One curve per seed with `jax.vmap` (minibatches)


# %%
def curve(key):
    return js.lr_find(
        digits.loss,
        params,
        data.train,
        optimizer=js.adam,
        start_lr=start,
        end_lr=end,
        num_steps=NUM_STEPS,
        batch_size=128,
        key=key,
    )


curves = jax.vmap(curve)(jax.random.split(jax.random.key(1), 3 if FAST else 8))
js.plot.lr_find(curves)
lr = float(np.median(curves.suggestion))

# %% [markdown]
# ## Training at the suggested rate

# %%
trained, losses = jax.jit(lambda p: digits.train(js.adam(lr), p, data, 200))(params)
accuracy = float(digits.accuracy(trained, data.val))
print(f"Adam at {lr:.3g}: validation accuracy {accuracy:.4f}")
assert accuracy > 0.9

# %% [markdown]
# ## Summary
# - The range test costs one short run and brackets the useful learning rates.
# - `js.lr_find` is one compiled program; its numbers equal the loop written by
#   hand, with jaxsched's or optax's optimizer.
# - Several seeds show how noisy the suggestion is.
#
# ## Exercises
# 1. Compare `suggestions["valley"]` and `["steepest"]`: which trains better?
# 2. Run the test in `mode="linear"` between 1e-4 and 1: what changes?
# 3. Turn smoothing off (`smooth=1.0`): how does the stop step move?
