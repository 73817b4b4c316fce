"""Concrete invalid hyperparameters raise a ValueError naming the argument."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxsched as js
from tests.schedule_cases import build

S = js.schedules

# (builder, overrides of its valid kwargs in schedule_cases, the argument named)
INVALID = [
    ("constant", dict(value=-0.1), "value"),
    ("constant", dict(value=float("nan")), "value"),
    ("constant", dict(value=float("inf")), "value"),
    ("step_decay", dict(step_size=float("inf")), "step_size"),
    ("linear", dict(init_value=-1.0), "init_value"),
    ("linear", dict(end_value=-0.01), "end_value"),
    ("linear", dict(transition_steps=0), "transition_steps"),
    ("linear", dict(transition_steps=-5), "transition_steps"),
    ("linear", dict(transition_begin=-1), "transition_begin"),
    ("polynomial_decay", dict(init_value=-0.1), "init_value"),
    ("polynomial_decay", dict(end_value=-0.1), "end_value"),
    ("polynomial_decay", dict(decay_steps=0), "decay_steps"),
    ("polynomial_decay", dict(power=0.0), "power"),
    ("polynomial_decay", dict(power=-1.0), "power"),
    ("step_decay", dict(init_value=-0.1), "init_value"),
    ("step_decay", dict(step_size=0), "step_size"),
    ("step_decay", dict(step_size=-3), "step_size"),
    ("step_decay", dict(gamma=0.0), "gamma"),
    ("step_decay", dict(gamma=-0.5), "gamma"),
    ("multistep_decay", dict(init_value=-1.0), "init_value"),
    ("multistep_decay", dict(milestones=[60, 30]), "milestones"),
    ("multistep_decay", dict(milestones=[-5, 30]), "milestones"),
    ("multistep_decay", dict(milestones=[[10, 20]]), "milestones"),
    ("multistep_decay", dict(gamma=0.0), "gamma"),
    ("exponential_decay", dict(init_value=-0.1), "init_value"),
    ("exponential_decay", dict(gamma=0.0), "gamma"),
    ("exponential_decay", dict(gamma=-0.9), "gamma"),
    ("exponential_decay", dict(decay_steps=0), "decay_steps"),
    ("inverse_time_decay", dict(init_value=-0.1), "init_value"),
    ("inverse_time_decay", dict(decay_rate=-0.5), "decay_rate"),
    ("inverse_time_decay", dict(decay_steps=0), "decay_steps"),
    ("cosine_decay", dict(init_value=-0.1), "init_value"),
    ("cosine_decay", dict(decay_steps=0), "decay_steps"),
    ("cosine_decay", dict(decay_steps=-100), "decay_steps"),
    ("cosine_decay", dict(end_value=-0.001), "end_value"),
    ("warmup_cosine_decay", dict(init_value=-0.1), "init_value"),
    ("warmup_cosine_decay", dict(peak_value=-0.1), "peak_value"),
    ("warmup_cosine_decay", dict(end_value=-0.1), "end_value"),
    ("warmup_cosine_decay", dict(warmup_steps=-1), "warmup_steps"),
    ("warmup_cosine_decay", dict(warmup_steps=80), "warmup_steps"),
    ("warmup_cosine_decay", dict(warmup_steps=600, decay_steps=500), "warmup_steps"),
    ("warmup_cosine_decay", dict(decay_steps=0, warmup_steps=0), "decay_steps"),
    ("cosine_warmup_restarts", dict(first_cycle_steps=0), "first_cycle_steps"),
    ("cosine_warmup_restarts", dict(warmup_steps=30), "warmup_steps"),
    (
        "cosine_warmup_restarts",
        dict(warmup_steps=600, first_cycle_steps=500),
        "warmup_steps",
    ),
    ("cosine_warmup_restarts", dict(warmup_steps=-2), "warmup_steps"),
    ("cosine_warmup_restarts", dict(cycle_mult=0.0), "cycle_mult"),
    ("cosine_warmup_restarts", dict(cycle_mult=-1.5), "cycle_mult"),
    ("cosine_warmup_restarts", dict(gamma=0.0), "gamma"),
    ("cosine_warmup_restarts", dict(max_lr=-0.1), "max_lr"),
    ("cosine_warmup_restarts", dict(min_lr=-0.1), "min_lr"),
    ("sgdr", dict(init_value=-0.1), "init_value"),
    ("sgdr", dict(t_0=0), "t_0"),
    ("sgdr", dict(t_mult=0), "t_mult"),
    ("sgdr", dict(t_mult=1.5), "t_mult"),
    ("sgdr", dict(end_value=-0.1), "end_value"),
    ("cyclic", dict(base_value=-0.1), "base_value"),
    ("cyclic", dict(max_value=-0.1), "max_value"),
    ("cyclic", dict(step_size_up=0), "step_size_up"),
    ("cyclic", dict(step_size_down=0), "step_size_down"),
    ("cyclic", dict(gamma=0.0), "gamma"),
    ("cyclic", dict(mode="triangle"), "mode"),
    ("cyclic", dict(scale_mode="epochs"), "scale_mode"),
    ("cyclic", dict(scale_fn=3.0), "scale_fn"),
    ("one_cycle", dict(max_value=-0.1), "max_value"),
    ("one_cycle", dict(total_steps=0), "total_steps"),
    ("one_cycle", dict(pct_start=0.0, three_phase=False), "pct_start"),
    ("one_cycle", dict(pct_start=1.0, three_phase=False), "pct_start"),
    ("one_cycle", dict(pct_start=1.5, three_phase=False), "pct_start"),
    ("one_cycle", dict(pct_start=0.6), "pct_start"),  # three_phase needs < 0.5
    ("one_cycle", dict(div_factor=0.0), "div_factor"),
    ("one_cycle", dict(final_div_factor=-1.0), "final_div_factor"),
    ("one_cycle", dict(anneal="cosine"), "anneal"),
    ("warmup", dict(warmup_steps=-1), "warmup_steps"),
    ("warmup", dict(init_value=-0.01), "init_value"),
    ("warmup", dict(mode="exp"), "mode"),
    ("join", dict(boundaries=[40, 10]), "boundaries"),
    ("join", dict(boundaries=[-1, 10]), "boundaries"),
    ("join", dict(boundaries=[10]), "boundaries"),
    ("join", dict(boundaries=[10, 20, 30]), "boundaries"),
    ("join", dict(schedules=[], boundaries=[]), "schedules"),
    ("lr_range", dict(start_value=0.0), "start_value"),
    ("lr_range", dict(start_value=-1e-5), "start_value"),
    ("lr_range", dict(start_value=10.0, end_value=1.0), "start_value"),
    ("lr_range", dict(start_value=1.0, end_value=1.0), "end_value"),
    ("lr_range", dict(num_steps=1), "num_steps"),
    ("lr_range", dict(num_steps=0), "num_steps"),
    ("lr_range", dict(mode="log"), "mode"),
    ("lr_range", dict(start_value=-1.0, mode="linear"), "start_value"),
    ("step_decay", dict(gamma=np.array([0.5, -0.5])), "gamma"),
    ("cosine_decay", dict(hparam_dtype=jnp.int32), "hparam_dtype"),
]


def test_validation_table_has_at_least_60_cases():
    assert len(INVALID) >= 60


@pytest.mark.parametrize("name, overrides, arg", INVALID)
def test_schedule_invalid_concrete_input_raises_naming_argument(name, overrides, arg):
    with pytest.raises(ValueError, match=f"`{arg}") as error:
        build(name, **overrides)
    message = str(error.value)
    assert message.endswith(".") and len(message) > 20


def test_schedule_error_names_value_and_range():
    with pytest.raises(ValueError) as error:
        S.cosine_warmup_restarts(first_cycle_steps=500, warmup_steps=600)
    assert str(error.value) == "`warmup_steps=600` must be < `first_cycle_steps=500`."
    with pytest.raises(
        ValueError, match=r"`gamma=-0.5` is out of range: `gamma` must be > 0"
    ):
        S.step_decay(0.1, 10, gamma=-0.5)
    with pytest.raises(ValueError, match=r"`pct_start=1.5` .* in \(0, 1\)"):
        S.one_cycle(0.1, 100, pct_start=1.5)
    with pytest.raises(ValueError, match=r"`mode='log'` is not one of 'exp', 'linear'"):
        S.lr_range(1e-5, 1.0, 100, mode="log")


def test_schedule_non_numeric_argument_is_a_type_error_naming_it():
    with pytest.raises(TypeError, match="`gamma` must be a number .*, got 'fast'"):
        S.step_decay(0.1, 10, gamma="fast")
    with pytest.raises(TypeError, match="`init_value` must be a number"):
        S.step_decay(S.constant(0.1), 10)
    with pytest.raises(TypeError, match="`peak_value` must be a number"):
        jax.jit(lambda: S.warmup_cosine_decay(0.0, lambda k: k, 10, 100))()


def test_schedule_traced_values_are_not_checked_at_build_time():
    # Documented: a traced value cannot be validated; building still works.
    value = jax.jit(lambda g: S.step_decay(0.1, 10, gamma=g)(25))(jnp.float32(-0.5))
    assert float(value) == pytest.approx(0.1 * 0.25)


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: js.schedules.lr_range(1e-5, np.inf, 10), "end_value"),
        (lambda: js.schedules.lr_range(1e-5, 1.0, np.inf), "num_steps"),
        (lambda: js.schedules.sgdr(0.1, 10, t_mult=np.inf), "t_mult"),
    ],
)
def test_infinite_values_are_refused(make, name):
    with pytest.raises(ValueError, match=f"`{name}=inf`"):
        make()


def test_numbers_given_as_strings_or_complex_inside_arrays_are_refused():
    # NumPy would parse "30" and drop the imaginary part (with a ComplexWarning)
    with pytest.raises(TypeError, match="`milestones` must be a number"):
        S.multistep_decay(0.1, ["30", 60])
    with pytest.raises(TypeError, match="`gamma` must be a number"):
        S.step_decay(0.1, 10, gamma=np.array([0.5 + 1j, 0.5]))
    with pytest.raises(TypeError, match="`learning_rate` must be a number"):
        js.adam(np.array([1e-3 + 0j]))


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_schedule_values_that_overflow_the_float_dtype_are_refused(dtype):
    with pytest.raises(ValueError, match=r"`value=1e\+39` becomes inf in"):
        S.constant(1e39, hparam_dtype=dtype)
    with pytest.raises(ValueError, match="`decay_steps=.*` becomes inf in"):
        S.cosine_decay(0.1, 1e300, hparam_dtype=dtype)
    assert float(S.constant(3e38)(0)) > 0  # float32's largest values stay


def test_a_number_given_for_a_schedule_is_checked_under_its_own_name():
    with pytest.raises(ValueError, match="`schedule=-1` is out of range"):
        S.warmup(-1.0, 5)
    with pytest.raises(ValueError, match=r"`schedules\[1\]=-0.5` is out of range"):
        S.join([0.1, -0.5], [10])


def test_python_ints_beyond_int64_are_numbers():
    assert float(S.cosine_decay(0.1, 2**64)(0)) == pytest.approx(0.1)
    with pytest.raises(ValueError, match=r"`value=1e\+40` becomes inf"):
        S.constant(10**40)


def test_values_that_overflow_the_dtype_are_refused_inside_jit_too():
    with pytest.raises(ValueError, match=r"`value=1e\+39` becomes inf"):
        jax.jit(lambda: S.constant(1e39)(3))()
    with pytest.raises(ValueError, match="`b2=0.999` becomes 1 in bfloat16"):
        jax.jit(lambda: js.adam(1e-3, b2=0.999, hparam_dtype=jnp.bfloat16))()


def test_a_number_for_a_schedule_that_overflows_is_named_as_given():
    with pytest.raises(ValueError, match=r"`schedule=1e\+06` becomes inf in float16"):
        S.warmup(1e6, 5, hparam_dtype=jnp.float16)
    with pytest.raises(ValueError, match=r"`schedules\[1\]=1e\+39` becomes inf"):
        S.join([0.1, 1e39], [10])


@pytest.mark.parametrize(
    "make, flag",
    [
        (lambda v: S.one_cycle(0.1, total_steps=100, three_phase=v), "three_phase"),
        (
            lambda v: S.exponential_decay(0.1, 0.5, decay_steps=10, staircase=v),
            "staircase",
        ),
        (
            lambda v: S.inverse_time_decay(0.1, 0.5, decay_steps=10, staircase=v),
            "staircase",
        ),
    ],
)
def test_flag_that_is_not_a_bool_is_a_clear_error(make, flag):
    """A string such as "false" is truthy: it silently meant True."""
    for value in ("false", "no", 0, None):
        with pytest.raises(ValueError, match=f"`{flag}=.*must be True or False"):
            make(value)
    assert make(np.bool_(True)).static[flag] is True
