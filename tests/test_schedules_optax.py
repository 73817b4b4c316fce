"""Schedules equal optax's where optax has them, and plug into optax anywhere."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxsched as js
from tests.helpers import assert_close_f32

S = js.schedules
N = 120
STEPS = jnp.arange(0, 3 * N)  # the schedule, and well past its end


def _pairs():
    """name -> (ours, optax's), built now (in float64 under x64)."""
    return {
        "constant": (S.constant(0.05), optax.constant_schedule(0.05)),
        "linear": (
            S.linear(0.1, 0.002, transition_steps=N, transition_begin=15),
            optax.linear_schedule(0.1, 0.002, transition_steps=N, transition_begin=15),
        ),
        "polynomial_decay": (
            S.polynomial_decay(0.1, 0.001, decay_steps=N, power=2.5),
            optax.polynomial_schedule(0.1, 0.001, power=2.5, transition_steps=N),
        ),
        "exponential_decay": (
            S.exponential_decay(0.1, gamma=0.9, decay_steps=7),
            optax.exponential_decay(0.1, transition_steps=7, decay_rate=0.9),
        ),
        "exponential_decay_staircase": (
            S.exponential_decay(0.1, gamma=0.9, decay_steps=7, staircase=True),
            optax.exponential_decay(
                0.1, transition_steps=7, decay_rate=0.9, staircase=True
            ),
        ),
        "step_decay": (
            S.step_decay(0.1, step_size=30, gamma=0.5),
            optax.exponential_decay(
                0.1, transition_steps=30, decay_rate=0.5, staircase=True
            ),
        ),
        "multistep_decay": (
            S.multistep_decay(0.1, [30, 70, 100], gamma=0.3),
            optax.piecewise_constant_schedule(0.1, {30: 0.3, 70: 0.3, 100: 0.3}),
        ),
        "cosine_decay": (
            S.cosine_decay(0.1, decay_steps=N, end_value=0.002),
            optax.cosine_decay_schedule(0.1, decay_steps=N, alpha=0.002 / 0.1),
        ),
        "warmup_cosine_decay": (
            S.warmup_cosine_decay(
                0.001, 0.1, warmup_steps=20, decay_steps=N, end_value=1e-4
            ),
            optax.warmup_cosine_decay_schedule(0.001, 0.1, 20, N, end_value=1e-4),
        ),
        "sgdr": (
            S.sgdr(0.1, t_0=20, t_mult=2, end_value=0.001),
            optax.sgdr_schedule(
                [
                    dict(
                        init_value=0.1,
                        peak_value=0.1,
                        warmup_steps=0,
                        decay_steps=20 * 2**c,
                        end_value=0.001,
                    )
                    for c in range(6)
                ]
            ),
        ),
        "join": (
            S.join(
                [S.linear(0.0, 0.1, 25), S.constant(0.1), S.cosine_decay(0.1, 50)],
                [25, 60],
            ),
            optax.join_schedules(
                [
                    optax.linear_schedule(0.0, 0.1, 25),
                    optax.constant_schedule(0.1),
                    optax.cosine_decay_schedule(0.1, 50),
                ],
                [25, 60],
            ),
        ),
        "warmup": (
            S.warmup(S.exponential_decay(0.1, 0.98), warmup_steps=25, init_value=0.01),
            optax.join_schedules(
                [
                    optax.linear_schedule(0.01, 0.1, 25),
                    optax.exponential_decay(0.1, 1, 0.98),
                ],
                [25],
            ),
        ),
    }


NAMES = sorted(_pairs())


@pytest.mark.parametrize("name", NAMES)
def test_schedule_equals_optax(name):
    ours, theirs = _pairs()[name]
    with jax.numpy_dtype_promotion("standard"):
        expected = jnp.asarray(theirs(STEPS), jnp.float32)
    assert_close_f32(ours(STEPS), expected)


@pytest.mark.parametrize("name", NAMES)
def test_schedule_equals_optax_float64(name):
    with jax.enable_x64(True), jax.numpy_dtype_promotion("standard"):
        ours, theirs = _pairs()[name]
        got = ours(STEPS)
        expected = theirs(STEPS.astype(jnp.float64))
    assert got.dtype == jnp.float64
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


def _train(optimizer, steps=30):
    params = {"w": jnp.array([1.0, -2.0, 3.0])}

    def step(carry, _):
        params, state = carry
        grads = jax.tree.map(lambda w: 2 * w, params)
        updates, state = optimizer.update(grads, state, params)
        return (optax.apply_updates(params, updates), state), params["w"]

    with jax.numpy_dtype_promotion("standard"):
        state = optimizer.init(params)
        _, path = jax.lax.scan(step, (params, state), None, length=steps)
    return path


@pytest.mark.parametrize(
    "make",
    [
        lambda lr: optax.sgd(learning_rate=lr, momentum=0.9),
        lambda lr: optax.adam(learning_rate=lr),
        lambda lr: optax.inject_hyperparams(optax.sgd)(learning_rate=lr),
        lambda lr: optax.chain(
            optax.scale_by_adam(), optax.scale_by_schedule(lr), optax.scale(-1.0)
        ),
    ],
)
def test_schedule_drives_optax_optimizers_like_optax_schedules(make):
    ours = S.warmup_cosine_decay(0.0, 0.1, warmup_steps=5, decay_steps=30)
    theirs = optax.warmup_cosine_decay_schedule(0.0, 0.1, 5, 30)
    assert_close_f32(_train(make(ours)), _train(make(theirs)))


def test_inject_hyperparams_reports_scheduled_value():
    schedule = S.step_decay(0.1, step_size=2, gamma=0.5)
    optimizer = optax.inject_hyperparams(optax.sgd)(learning_rate=schedule)
    params = jnp.zeros(2)
    with jax.numpy_dtype_promotion("standard"):
        state = optimizer.init(params)
        for _ in range(5):
            _, state = optimizer.update(jnp.ones(2), state, params)
    # The fifth update used step 4: 0.1 * 0.5 ** (4 // 2).
    assert float(state.hyperparams["learning_rate"]) == pytest.approx(0.025)
