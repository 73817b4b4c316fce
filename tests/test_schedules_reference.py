"""Schedules against PyTorch, the seed scheduler, keras and tf-yolov3.

The torch and katsura values were computed in float64; they are compared with x64
on to 1e-12. Keras ran in float32 and is compared in float32.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxsched as js
from tests.helpers import schedule_refs, seed_examples

S = js.schedules
STEPS = 301


def _torch_cases():
    """name -> (schedule builder, number of leading steps to compare)."""
    return {
        "steplr": (lambda: S.step_decay(0.1, step_size=30, gamma=0.1), STEPS),
        "multisteplr_dup": (
            lambda: S.multistep_decay(0.1, [50, 120, 120, 200], gamma=0.5),
            STEPS,
        ),
        "exponentiallr": (lambda: S.exponential_decay(0.1, gamma=0.99), STEPS),
        # Within decay_steps only: past it torch's cosine climbs back, we hold.
        "cosine_recursive": (lambda: S.cosine_decay(0.1, 100, end_value=0.001), 101),
        "cosine_closed_form_epoch_arg": (
            lambda: S.cosine_decay(0.1, 100, end_value=0.001),
            101,
        ),
        "cosine_recursive_Tmax7": (lambda: S.cosine_decay(0.1, 7), 8),
        "cawr_T10_mult2": (
            lambda: S.sgdr(0.1, t_0=10, t_mult=2, end_value=1e-4),
            STEPS,
        ),
        "cawr_T50_mult1": (lambda: S.sgdr(0.1, t_0=50), STEPS),
        "cyclic_triangular": (lambda: S.cyclic(0.001, 0.1, step_size_up=20), STEPS),
        "cyclic_triangular2_asym": (
            lambda: S.cyclic(0.001, 0.1, 15, 25, mode="triangular2"),
            STEPS,
        ),
        "cyclic_exp_range": (
            lambda: S.cyclic(0.001, 0.1, 20, mode="exp_range", gamma=0.99),
            STEPS,
        ),
        "cyclic_exp_range_scale_mode_ignored": (
            lambda: S.cyclic(0.001, 0.1, 20, mode="exp_range", gamma=0.99),
            STEPS,
        ),
        "cyclic_custom_fn_iterations": (
            lambda: S.cyclic(
                0.001,
                0.1,
                20,
                scale_fn=lambda x: 1.0 / (1.0 + 0.01 * x),
                scale_mode="iterations",
            ),
            STEPS,
        ),
        "cyclic_custom_fn_cycle_momentum": (
            lambda: S.cyclic(0.001, 0.1, 20, scale_fn=_halving, scale_mode="cycle"),
            STEPS,
        ),
        "onecycle_cos_default": (lambda: S.one_cycle(0.1, total_steps=301), 301),
        "onecycle_linear_three_phase": (
            lambda: S.one_cycle(
                0.1, 301, 0.25, 10.0, 100.0, anneal="linear", three_phase=True
            ),
            301,
        ),
        # total_steps=300: torch extrapolates at step 300, we hold from 299 on.
        "onecycle_cos_total300_adam_beta1": (lambda: S.one_cycle(0.1, 300), 300),
        "onecycle_linear_total300_negative_end": (
            lambda: S.one_cycle(0.1, 300, anneal="linear"),
            300,
        ),
        "linearlr_warmup": (lambda: S.linear(0.01, 0.1, transition_steps=20), STEPS),
        "linearlr_decay": (lambda: S.linear(0.1, 0.005, transition_steps=200), STEPS),
        "constantlr": (
            lambda: S.warmup(0.1, warmup_steps=40, init_value=0.025, mode="constant"),
            STEPS,
        ),
        "polynomiallr_p2": (
            lambda: S.polynomial_decay(0.1, 0.0, 200, power=2.0),
            STEPS,
        ),
        "polynomiallr_p05": (
            lambda: S.polynomial_decay(0.1, 0.0, 150, power=0.5),
            STEPS,
        ),
        "sequential_warmup_cosine": (
            lambda: S.join(
                [S.linear(0.001, 0.1, 10), S.cosine_decay(0.1, 290, 1e-5)], [10]
            ),
            STEPS,
        ),
        "sequential_const_exp_step": (
            lambda: S.join(
                [
                    S.warmup(0.1, 5, init_value=0.01, mode="constant"),
                    S.exponential_decay(0.1, gamma=0.98),
                    S.step_decay(0.1, step_size=50, gamma=0.5),
                ],
                [20, 150],
            ),
            STEPS,
        ),
        "sequential_warmup_cawr": (
            lambda: S.warmup(S.sgdr(0.1, t_0=40, t_mult=2), 15, init_value=0.01),
            STEPS,
        ),
    }


def _halving(cycle):
    return 0.5 ** (cycle - 1)


@pytest.mark.parametrize("name", sorted(_torch_cases()))
def test_schedule_matches_torch_float64(name):
    build, n = _torch_cases()[name]
    expected = np.asarray(schedule_refs()["torch"][name]["lr"][:n])
    with jax.enable_x64(True):
        got = np.asarray(build()(jnp.arange(n)))
        assert got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


def test_schedule_cyclic_momentum_matches_torch_cycle_momentum():
    # torch cycles momentum inversely: max_momentum at the base of the lr cycle.
    expected = np.asarray(
        schedule_refs()["torch"]["cyclic_custom_fn_cycle_momentum"]["momentum"]
    )
    with jax.enable_x64(True):
        momentum = S.cyclic(0.9, 0.8, 20, scale_fn=_halving, scale_mode="cycle")
        got = np.asarray(momentum(jnp.arange(STEPS)))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", sorted(_torch_cases()))
def test_schedule_matches_torch_float32(name):
    build, n = _torch_cases()[name]
    expected = np.asarray(schedule_refs()["torch"][name]["lr"][:n])
    got = np.asarray(build()(jnp.arange(n)))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=2e-6, atol=1e-8)


def test_schedule_torch_cases_cover_every_torch_reference_we_claim():
    # Only schedulers jaxsched has no counterpart for are left out.
    left_out = set(schedule_refs()["torch"]) - set(_torch_cases())
    assert left_out == {"chained_cosine_exp", "lambdalr_warmup_invsqrt"}


@pytest.mark.parametrize("run", range(4))
def test_cosine_warmup_restarts_matches_seed_scheduler(run):
    ref = schedule_refs()["katsura"][run]
    config = ref["config"]
    expected = np.asarray(ref["lr"])
    with jax.enable_x64(True):
        got = np.asarray(S.cosine_warmup_restarts(**config)(jnp.arange(len(expected))))
    if config["warmup_steps"] == 0:
        # The seed class returns min_lr at step 0 (a quirk we do not copy).
        assert got[0] == config["max_lr"] and expected[0] == config["min_lr"]
        got, expected = got[1:], expected[1:]
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


def _keras_schedule(name, kwargs):
    lr = kwargs["initial_learning_rate"] if "initial_learning_rate" in kwargs else None
    if name == "ExponentialDecay":
        return S.exponential_decay(
            lr,
            kwargs["decay_rate"],
            decay_steps=kwargs["decay_steps"],
            staircase=kwargs.get("staircase", False),
        )
    if name == "PiecewiseConstantDecay":
        # keras switches after the boundary step (k > b), torch and optax at it.
        values = [S.constant(v) for v in kwargs["values"]]
        return S.join(values, [b + 1 for b in kwargs["boundaries"]])
    if name == "PolynomialDecay" and not kwargs.get("cycle", False):
        return S.polynomial_decay(
            lr, kwargs["end_learning_rate"], kwargs["decay_steps"], kwargs["power"]
        )
    if name == "InverseTimeDecay":
        return S.inverse_time_decay(
            lr,
            kwargs["decay_rate"],
            kwargs["decay_steps"],
            staircase=kwargs.get("staircase", False),
        )
    if name == "CosineDecay" and "warmup_steps" not in kwargs:
        return S.cosine_decay(lr, kwargs["decay_steps"], kwargs["alpha"] * lr)
    if name == "CosineDecay":
        # keras' decay_steps exclude the warmup, optax's and ours include it.
        peak, warm = kwargs["warmup_target"], kwargs["warmup_steps"]
        return S.warmup_cosine_decay(
            lr, peak, warm, warm + kwargs["decay_steps"], kwargs["alpha"] * peak
        )
    if name == "CosineDecayRestarts" and kwargs["alpha"] == 0.0:
        return S.cosine_warmup_restarts(
            kwargs["first_decay_steps"],
            cycle_mult=kwargs["t_mul"],
            max_lr=lr,
            min_lr=0.0,
            gamma=kwargs["m_mul"],
        )
    return None  # cycle=True polynomial and restarts with alpha > 0: not ours


def test_schedule_matches_keras():
    compared = 0
    for ref in schedule_refs()["keras"]:
        schedule = _keras_schedule(ref["schedule"], ref["kwargs"])
        if schedule is None:
            continue
        expected = np.asarray(ref["lr"])
        got = np.asarray(schedule(jnp.arange(len(expected))))
        np.testing.assert_allclose(
            got, expected, rtol=2e-6, atol=1e-8, err_msg=str(ref["kwargs"])
        )
        compared += 1
    assert compared == 11


def test_warmup_cosine_decay_reproduces_tf_yolov3():
    ref = schedule_refs()["tf_yolov3"]
    c = ref["config"]
    expected = np.asarray(ref["lr_of_global_step"])[: c["total_steps"] + 1]
    with jax.enable_x64(True):
        schedule = S.warmup_cosine_decay(
            0.0, c["lr_init"], c["warmup_steps"], c["total_steps"], c["lr_end"]
        )
        got = np.asarray(schedule(jnp.arange(len(expected))))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-18)


@pytest.mark.parametrize(
    "name, schedule",
    [
        ("StepLR step_size=50 gamma=0.5", S.step_decay(0.1, 50, 0.5)),
        (
            "MultiStepLR milestones=[50, 125, 160] gamma=0.5",
            S.multistep_decay(0.1, [50, 125, 160], 0.5),
        ),
        ("ExponentialLR gamma=0.95", S.exponential_decay(0.1, 0.95)),
    ],
)
def test_schedule_matches_seed_200_epoch_demo(name, schedule):
    demo = seed_examples()["scheduler_demo_200_epochs"]
    key = next(k for k in demo if k.startswith(name.split()[0] + " "))
    expected = np.asarray(demo[key])
    got = np.asarray(schedule(jnp.arange(len(expected))))
    np.testing.assert_allclose(got, expected, rtol=2e-6, atol=1e-10)
