"""Every numeric argument of every schedule builder survives jit, vmap, grad, scan."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxsched as js
from tests.helpers import assert_close_f32
from tests.schedule_cases import CASES, CONTINUOUS, build

STEPS = jnp.arange(0, 150)

SWEPT = [(name, arg) for name, (_, _, sweeps) in CASES.items() for arg in sweeps]
DIFFERENTIABLE = [(name, arg) for name, args in CONTINUOUS.items() for arg in args]


def test_schedule_table_covers_every_builder_and_argument():
    import inspect

    import jaxsched as js

    builders = set(js.schedules.__all__) - {"Schedule", "as_schedule"}
    assert set(CASES) == builders
    for name, (builder, _, sweeps) in CASES.items():
        numeric = {
            p.name
            for p in inspect.signature(builder).parameters.values()
            if p.name
            not in (
                "mode",
                "anneal",
                "three_phase",
                "staircase",
                "scale_fn",
                "scale_mode",
                "hparam_dtype",
                "schedule",
                "schedules",
            )
        }
        assert set(sweeps) == numeric, name


@pytest.mark.parametrize("name, arg", SWEPT)
def test_schedule_vmap_over_argument_equals_loop(name, arg):
    values = CASES[name][2][arg]
    batched = jax.vmap(lambda v: build(name, **{arg: v})(STEPS))(jnp.asarray(values))
    looped = jnp.stack([build(name, **{arg: v})(STEPS) for v in values])
    assert_close_f32(batched, looped)
    chex.assert_tree_all_finite(batched)


@pytest.mark.parametrize("name, arg", SWEPT)
def test_schedule_builds_under_jit_with_argument_traced(name, arg):
    value = CASES[name][2][arg][-1]
    jitted = jax.jit(lambda v: build(name, **{arg: v})(STEPS))(jnp.asarray(value))
    assert_close_f32(jitted, build(name, **{arg: value})(STEPS))


@pytest.mark.parametrize("name, arg", SWEPT)
def test_schedule_builds_inside_scan_with_argument_carried(name, arg):
    values = jnp.asarray(CASES[name][2][arg])

    def body(carry, v):
        return carry, build(name, **{arg: v})(STEPS)

    _, scanned = jax.lax.scan(body, None, values)
    looped = jnp.stack([build(name, **{arg: v})(STEPS) for v in CASES[name][2][arg]])
    assert_close_f32(scanned, looped)


@pytest.mark.parametrize("name, arg", DIFFERENTIABLE)
def test_schedule_grad_matches_finite_difference(name, arg):
    steps = jnp.asarray([0, 3, 17, 42, 77])
    with jax.enable_x64(True):
        # Away from 0, so that the central difference stays in the valid range.
        value = float(CASES[name][1][arg]) or 0.01

        def total(v):
            return build(name, **{arg: v})(steps).sum()

        grad = jax.grad(total)(jnp.float64(value))
        h = 1e-6 * abs(value)
        finite_difference = (total(value + h) - total(value - h)) / (2 * h)
        assert np.isfinite(grad)
        np.testing.assert_allclose(grad, finite_difference, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("name", sorted(CASES))
def test_schedule_grad_with_respect_to_whole_schedule_is_finite(name):
    grads = jax.grad(lambda s: s(STEPS).sum())(build(name))
    chex.assert_tree_all_finite(grads)


@pytest.mark.parametrize("name", sorted(CASES))
def test_schedule_jitted_once_for_all_hyperparameter_values(name):
    sweeps = CASES[name][2]
    chex.clear_trace_counter()

    @jax.jit
    @chex.assert_max_traces(n=1)
    def value(schedule, steps):
        return schedule(steps)

    for i in range(3):
        schedule = build(name, **{arg: values[i] for arg, values in sweeps.items()})
        assert_close_f32(value(schedule, STEPS), schedule(STEPS))


@pytest.mark.parametrize("name", sorted(CASES))
def test_schedule_vmap_over_stacked_schedules_equals_loop(name):
    sweeps = CASES[name][2]
    schedules = [
        build(name, **{arg: values[i] for arg, values in sweeps.items()})
        for i in range(3)
    ]
    stacked = jax.tree.map(lambda *leaves: jnp.stack(leaves), *schedules)
    batched = jax.vmap(lambda s: s(STEPS))(stacked)
    chex.assert_trees_all_close(
        batched, jnp.stack([s(STEPS) for s in schedules]), rtol=1e-6, atol=1e-9
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_schedule_step_as_int_float_array_or_scan_counter(name):
    schedule = build(name)
    elementwise = schedule(STEPS)
    assert elementwise.shape == STEPS.shape
    assert schedule(STEPS.reshape(10, 15)).shape == (10, 15)
    assert_close_f32(schedule(STEPS.astype(jnp.float32)), elementwise)
    assert_close_f32(schedule(17), elementwise[17])
    assert_close_f32(schedule(np.int64(17)), elementwise[17])

    def body(count, _):
        return count + 1, schedule(count)

    _, scanned = jax.lax.scan(body, jnp.int32(0), None, length=len(STEPS))
    assert_close_f32(scanned, elementwise)


def test_sgdr_grad_in_its_first_cycle_length_matches_finite_difference():
    # Cycle lengths floor(L * t_mult) are piecewise constant in t_0, but the cycle
    # starts and the first length move with it: 10.3, then 20 from 10.3, 40 from
    # 30.3 (t_mult 2).
    steps = jnp.asarray([3.0, 17.0, 42.0])
    with jax.enable_x64(True):

        def total(t_0):
            return js.schedules.sgdr(0.1, t_0=t_0, t_mult=2)(steps).sum()

        grad = jax.grad(total)(jnp.float64(10.3))
        h = 1e-6
        finite_difference = (total(10.3 + h) - total(10.3 - h)) / (2 * h)
    assert abs(float(grad)) > 1e-4
    np.testing.assert_allclose(grad, finite_difference, rtol=1e-5)


def test_restarts_grad_in_warmup_ignores_cycles_clamped_to_one_step():
    # Cycles of 10, 4 + W, 2 + W, 1 + W steps, then max(W, 1) = 1 forever (W < 1):
    # the clamped cycles do not move with W. Step 20 is in cycle 5 (from 18 + 3W),
    # steps 12 and 15.5 in the decays of cycles 1 and 2.
    steps = jnp.asarray([12.0, 15.5, 20.0])
    with jax.enable_x64(True):

        def total(w):
            schedule = js.schedules.cosine_warmup_restarts(
                10.0, cycle_mult=0.5, max_lr=0.1, min_lr=0.001, warmup_steps=w
            )
            return schedule(steps).sum()

        grad = jax.grad(total)(jnp.float64(0.375))
        h = 2.0**-20  # dyadic W and h: (L - W) * m hits its integers exactly
        finite_difference = (total(0.375 + h) - total(0.375 - h)) / (2 * h)
    assert abs(float(grad)) > 1e-4
    np.testing.assert_allclose(grad, finite_difference, rtol=1e-5)


@pytest.mark.parametrize("arg", ["first_cycle_steps", "warmup_steps"])
def test_restarts_grad_in_cycle_lengths_matches_finite_difference(arg):
    # Cycles of 50.3, 77.6 (floor(39.7 * 1.7) + 10.6), 123.6 steps; the steps sit in
    # the first cycle's warmup and decay and in the decays of the next two, away
    # from the kinks at the ends of the warmups.
    steps = jnp.asarray([7.0, 33.0, 61.0, 140.0])
    values = dict(first_cycle_steps=50.3, warmup_steps=10.6)
    with jax.enable_x64(True):

        def total(v):
            kwargs = values | {arg: v}
            schedule = js.schedules.cosine_warmup_restarts(
                cycle_mult=1.7, max_lr=0.1, min_lr=0.001, gamma=0.8, **kwargs
            )
            return schedule(steps).sum()

        grad = jax.grad(total)(jnp.float64(values[arg]))
        h = 1e-6
        finite_difference = (total(values[arg] + h) - total(values[arg] - h)) / (2 * h)
    assert abs(float(grad)) > 1e-4
    np.testing.assert_allclose(grad, finite_difference, rtol=1e-5)


@pytest.mark.parametrize("name", sorted(CASES))
def test_schedule_called_eagerly_compiles_nothing_after_its_first_call(name, caplog):
    # The restart schedules' cycle loop was traced and compiled at every eager
    # call (45 ms each) until its functions moved to module level.
    sweeps = CASES[name][2]
    schedules = [
        build(name, **{arg: values[i] for arg, values in sweeps.items()})
        for i in range(2)
    ]
    for schedule in schedules:
        schedule(1)
    with jax.log_compiles(), caplog.at_level("WARNING"):
        for step in (2, 37, 1000):
            for schedule in schedules:
                schedule(step)
    assert not [m for m in caplog.messages if "Finished XLA compilation" in m]
