"""Edge cases: step 0, the last step, past the end, huge steps and lengths, dtypes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxsched as js
from tests.schedule_cases import CASES, build

S = js.schedules
MAX_STEP = 2**31 - 1


@pytest.mark.parametrize("name", sorted(CASES))
def test_schedule_finite_and_non_negative_from_step_0_to_int32_max(name):
    steps = jnp.asarray(
        [0, 1, 999, 10**6, 2**24 + 1, MAX_STEP - 1, MAX_STEP], jnp.int32
    )
    values = build(name)(steps)
    assert values.dtype == jnp.float32
    assert np.all(np.isfinite(values)) and np.all(values >= 0)
    assert np.isfinite(jax.jit(build(name))(jnp.int32(MAX_STEP)))


@pytest.mark.parametrize("name", sorted(CASES))
def test_schedule_float64_under_x64(name):
    with jax.enable_x64(True):
        schedule = build(name)
        values = schedule(jnp.arange(200))
        assert values.dtype == jnp.float64
        assert schedule.dtype == np.float64
    np.testing.assert_allclose(
        values, build(name)(jnp.arange(200)), rtol=2e-5, atol=1e-9
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_schedule_hparam_dtype_overrides_default(name):
    if name in ("join",):
        schedule = S.join(
            [S.constant(0.1, hparam_dtype=jnp.bfloat16)], [], hparam_dtype=jnp.bfloat16
        )
    else:
        schedule = build(name, hparam_dtype=jnp.bfloat16)
    assert schedule(jnp.arange(5)).dtype == jnp.bfloat16


def test_schedule_accepts_python_ints_beyond_int32():
    schedule = S.cosine_decay(0.1, decay_steps=10**10)
    assert float(schedule(10**10)) == 0.0
    assert float(schedule(5 * 10**9)) == pytest.approx(0.05, rel=1e-6)


def test_schedule_negative_steps_count_as_step_0():
    schedule = S.warmup_cosine_decay(0.01, 0.1, 10, 100)
    assert float(schedule(-5)) == float(schedule(0))


@pytest.mark.parametrize(
    "schedule, last, final",
    [
        (S.linear(0.1, 0.01, 100), 100, 0.01),
        (S.polynomial_decay(0.1, 0.01, 100, 2.0), 100, 0.01),
        (S.cosine_decay(0.1, 100, 0.01), 100, 0.01),
        (S.warmup_cosine_decay(0.0, 0.1, 10, 100, 0.01), 100, 0.01),
        (S.lr_range(1e-5, 1.0, 100), 99, 1.0),
        (S.one_cycle(0.1, 100), 99, 0.1 / 25 / 1e4),
    ],
)
def test_schedule_holds_final_value_past_the_end(schedule, last, final):
    steps = jnp.asarray([last, last + 1, 10 * last, MAX_STEP])
    np.testing.assert_allclose(schedule(steps), final, rtol=1e-6)
    assert float(schedule(last - 1)) != pytest.approx(final, rel=1e-9)


@pytest.mark.parametrize(
    "schedule",
    [
        S.cosine_decay(0.1, 10**10),
        S.warmup_cosine_decay(0.0, 0.1, 10**6, 10**10),
        S.polynomial_decay(0.1, 0.0, 10**10),
        S.linear(0.1, 0.0, 10**10),
        S.step_decay(0.1, 10**10),
        S.sgdr(0.1, 10**10),
        S.cosine_warmup_restarts(10**10, warmup_steps=10**6),
        S.cyclic(0.001, 0.1, 10**10),
        S.one_cycle(0.1, 10**10),
        S.inverse_time_decay(0.1, 0.5, 10**10),
        S.lr_range(1e-7, 10.0, 10**10),
    ],
    ids=lambda s: s.name,
)
def test_schedule_with_ten_billion_steps_does_not_overflow(schedule):
    values = schedule(jnp.asarray([0, 1000, MAX_STEP]))
    assert np.all(np.isfinite(values))
    assert float(values[0]) == pytest.approx(float(schedule(0)))
    # 2**31 steps into 10**10 is early in the schedule: nothing wrapped around.
    assert 0 < float(values[2]) <= 10.0


def test_restarts_shrinking_cycles_become_all_warmup_as_seed_scheduler():
    # cycle_mult < 1: decay lengths 25, 20, 16, 12, ... 0; then cycles of W steps.
    schedule = S.cosine_warmup_restarts(30, 0.8, max_lr=0.1, min_lr=0.0, warmup_steps=5)
    late = schedule(jnp.arange(1000, 1010))
    expected = np.tile(0.1 * np.arange(5) / 5, 2)
    cycle_start = int(np.argmin(np.asarray(late)))
    np.testing.assert_allclose(np.roll(late, -cycle_start), expected, atol=1e-7)


def test_restarts_without_warmup_never_get_shorter_than_one_step():
    schedule = S.cosine_warmup_restarts(8, 0.5, max_lr=0.1, min_lr=0.0, gamma=1.0)
    np.testing.assert_allclose(schedule(jnp.arange(20, 30)), 0.1)


def test_restarts_terminate_when_cycles_grow_slowly_up_to_int32_max():
    # Decay lengths grow by one a cycle: about 65k cycles before 2**31.
    schedule = S.cosine_warmup_restarts(1000, 1.001, warmup_steps=10)
    assert np.isfinite(float(schedule(MAX_STEP)))
    with jax.enable_x64(True):
        # Exact integer step arithmetic: step 2**31-1 is in the middle of a cycle.
        schedule = S.cosine_warmup_restarts(100, 1.0, max_lr=1.0, min_lr=0.0)
        assert float(schedule(MAX_STEP)) == pytest.approx(
            0.5 * (1 + np.cos(np.pi * (MAX_STEP % 100) / 100))
        )


def test_sgdr_huge_t_mult_restarts_exactly_at_cycle_starts():
    # The log formula misses these restarts (torch's step(epoch) path).
    schedule = S.sgdr(1.0, t_0=1, t_mult=10)
    starts = jnp.asarray([0, 1, 11, 111, 1111, 11111])
    np.testing.assert_allclose(schedule(starts), 1.0)
    np.testing.assert_allclose(
        schedule(starts[1:] - 1),
        0.5 * (1 + np.cos(np.pi * (1 - 10.0 ** -np.arange(0, 5)))),
        rtol=1e-5,
        atol=1e-7,
    )


STAIRCASES = {
    "step_decay": (
        lambda d: S.step_decay(0.1, step_size=d, gamma=0.5),
        lambda q: 0.1 * 0.5**q,
    ),
    "exponential_decay": (
        lambda d: S.exponential_decay(0.1, 0.5, decay_steps=d, staircase=True),
        lambda q: 0.1 * 0.5**q,
    ),
    "inverse_time_decay": (
        lambda d: S.inverse_time_decay(0.1, 0.5, decay_steps=d, staircase=True),
        lambda q: 0.1 / (1 + 0.5 * q),
    ),
    "sgdr": (lambda d: S.sgdr(0.1, t_0=d), lambda q: 0.1 + 0 * q),
    "cosine_warmup_restarts": (
        lambda d: S.cosine_warmup_restarts(d, max_lr=0.1, min_lr=0.0, gamma=0.5),
        lambda q: 0.1 * 0.5**q,
    ),
}


@pytest.mark.parametrize("x64", [False, True])
@pytest.mark.parametrize("name", sorted(STAIRCASES))
def test_staircases_step_exactly_at_multiples_of_their_length(name, x64):
    # XLA may divide by a shared divisor through its reciprocal: 49 / 49 can come
    # out as 0.99999...; the floor must still see 1 (torch's StepLR uses k // d).
    make, value_at_multiple = STAIRCASES[name]
    q = np.arange(5)
    with jax.enable_x64(x64):
        jitted = jax.jit(lambda schedule, steps: schedule(steps))  # one compile
        for d in range(1, 301):
            values = jitted(make(d), jnp.asarray(q * d))
            np.testing.assert_allclose(
                values, value_at_multiple(q), rtol=1e-6, err_msg=f"{d=}"
            )


def test_step_decay_on_an_array_of_steps_steps_at_49_as_torch():
    # torch StepLR(step_size=49, gamma=0.5) from 0.1: 0.05 at step 49, 0.025 at 98.
    values = S.step_decay(0.1, step_size=49, gamma=0.5)(jnp.arange(100))
    np.testing.assert_allclose(
        np.asarray(values)[[48, 49, 97, 98]], [0.1, 0.05, 0.05, 0.025]
    )


def test_cyclic_exp_range_growing_past_float_range_is_base_at_cycle_ends():
    # gamma > 1 grows the cycles; once gamma**k overflows, the value is inf, but
    # at a cycle's end (height 0) it is the base value, not 0 * inf = NaN
    s = js.schedules.cyclic(0.1, 1.0, 10, mode="exp_range", gamma=1.5)
    assert float(s(20_000)) == pytest.approx(0.1)
    assert float(s(20_005)) == float("inf")
    assert float(s(20)) == pytest.approx(0.1)

    def at_end(gamma):
        return js.schedules.cyclic(0.1, 1.0, 10, mode="exp_range", gamma=gamma)(2e4)

    grads = jax.grad(at_end)(1.5)
    assert float(grads) == 0.0


# XLA divides an array of steps by a scalar through the scalar's reciprocal
# (49 * (1/49) = 0.99999994 in float32), so under jit a decay missed its end
# value, and a power below 1 magnified the leftover ulp (polynomial_decay with
# power 0.5 held 1.5e-5 instead of 0).
END_CASES = {
    "polynomial_decay power 0.5": (lambda T: S.polynomial_decay(0.1, 0.0, T, 0.5), 0.0),
    "cosine_decay": (lambda T: S.cosine_decay(0.1, T, 0.0), 0.0),
    "linear": (lambda T: S.linear(0.1, 0.0, T), 0.0),
    "linear to 0.00283823": (lambda T: S.linear(0.1, 0.00283823, T), 0.00283823),
    "lr_range": (lambda T: S.lr_range(1e-4, 1.0, T + 1), 1.0),
}


@pytest.mark.parametrize("name", sorted(END_CASES))
@pytest.mark.parametrize("total", [49, 100, 997])
def test_decays_end_exactly_at_their_length_under_jit(name, total):
    make, end = END_CASES[name]
    steps = jnp.arange(total + 5)
    closed = jax.jit(lambda k: make(total)(k))(steps)  # the length a constant
    traced = jax.jit(lambda t, k: make(t)(k))(jnp.float32(total), steps)
    for values in (closed, traced):
        np.testing.assert_array_equal(values[total:], np.float32(end))


def test_div_rounds_as_ieee_division_where_xla_uses_the_reciprocal():
    from jaxsched.schedules._math import div

    steps = jnp.arange(200, dtype=jnp.float32)
    for total in (49.0, 97.0, 1000.0 / 3):
        expected = np.asarray(steps) / np.float32(total)
        plain = jax.jit(lambda n, d: n / d)(steps, jnp.float32(total))
        assert (np.asarray(plain) != expected).any()  # XLA's reciprocal
        got = jax.jit(div)(steps, jnp.float32(total))
        np.testing.assert_array_equal(got, expected)
    # an infinite quotient or denominator stays what division gives (the
    # remainder would be inf - inf or 0 * inf)
    big, tiny = jnp.float32(1e30), jnp.float32(1e-10)
    np.testing.assert_array_equal(jax.jit(div)(big, tiny), np.inf)
    np.testing.assert_array_equal(jax.jit(div)(big, jnp.float32(np.inf)), 0.0)


@pytest.mark.parametrize("total_steps, pct_start", [(100, 0.01), (25, 0.04)])
def test_one_cycle_first_phase_of_one_step_is_the_same_under_jit(
    total_steps, pct_start
):
    """pct_start * total_steps == 1: the first phase ends at step 0. Under jit XLA
    fused its end, p * T - 1, into a multiply-add (-5e-17), and step 0 got the
    peak, 25x the initial value it gets eagerly."""

    def at_zero(pct_start):
        return S.one_cycle(0.1, total_steps=total_steps, pct_start=pct_start)(0)

    eager = at_zero(pct_start)
    assert float(eager) == pytest.approx(0.004)
    assert float(jax.jit(at_zero)(pct_start)) == float(eager)
