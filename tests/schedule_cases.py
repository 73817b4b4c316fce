"""One table of every schedule builder, its arguments, and values to sweep.

``CASES[name]`` is ``(builder, kwargs, sweeps)``: ``kwargs`` builds a valid
schedule and ``sweeps[arg]`` lists valid values of each numeric argument (every
one of them), used by the vmap/jit/no-recompile tests. ``CONTINUOUS[name]`` lists
the arguments the value is differentiable in.
"""

import jaxsched as js

S = js.schedules

CASES = {
    "constant": (S.constant, dict(value=0.1), {"value": [0.0, 0.05, 0.3]}),
    "linear": (
        S.linear,
        dict(init_value=0.01, end_value=0.1, transition_steps=40, transition_begin=5),
        {
            "init_value": [0.0, 0.01, 0.2],
            "end_value": [0.0, 0.1, 0.5],
            "transition_steps": [1, 40, 90],
            "transition_begin": [0, 5, 30],
        },
    ),
    "polynomial_decay": (
        S.polynomial_decay,
        dict(init_value=0.1, end_value=0.001, decay_steps=80, power=2.0),
        {
            "init_value": [0.05, 0.1, 1.0],
            "end_value": [0.0, 0.001, 0.02],
            "decay_steps": [1, 50, 80],
            "power": [0.5, 1.0, 3.0],
        },
    ),
    "step_decay": (
        S.step_decay,
        dict(init_value=0.1, step_size=30, gamma=0.5),
        {
            "init_value": [0.01, 0.1, 1.0],
            "step_size": [1, 7, 30],
            "gamma": [0.1, 0.5, 2.0],
        },
    ),
    "multistep_decay": (
        S.multistep_decay,
        dict(init_value=0.1, milestones=[30, 60, 60], gamma=0.5),
        {
            "init_value": [0.01, 0.1, 1.0],
            "milestones": [[30, 60, 60], [0, 10, 90], [5, 5, 5]],
            "gamma": [0.1, 0.5, 0.9],
        },
    ),
    "exponential_decay": (
        S.exponential_decay,
        dict(init_value=0.1, gamma=0.97, decay_steps=3),
        {
            "init_value": [0.01, 0.1, 1.0],
            "gamma": [0.5, 0.97, 1.05],
            "decay_steps": [1, 3, 10],
        },
    ),
    "inverse_time_decay": (
        S.inverse_time_decay,
        dict(init_value=0.1, decay_rate=0.5, decay_steps=10),
        {
            "init_value": [0.01, 0.1, 1.0],
            "decay_rate": [0.0, 0.5, 2.0],
            "decay_steps": [1, 10, 25],
        },
    ),
    "cosine_decay": (
        S.cosine_decay,
        dict(init_value=0.1, decay_steps=70, end_value=0.001),
        {
            "init_value": [0.01, 0.1, 1.0],
            "decay_steps": [1, 30, 70],
            "end_value": [0.0, 0.001, 0.05],
        },
    ),
    "warmup_cosine_decay": (
        S.warmup_cosine_decay,
        dict(
            init_value=0.0,
            peak_value=0.1,
            warmup_steps=10,
            decay_steps=80,
            end_value=0.001,
        ),
        {
            "init_value": [0.0, 0.01, 0.05],
            "peak_value": [0.0, 0.1, 1.0],
            "warmup_steps": [0, 10, 40],
            "decay_steps": [50, 80, 100],
            "end_value": [0.0, 0.001, 0.01],
        },
    ),
    "cosine_warmup_restarts": (
        S.cosine_warmup_restarts,
        dict(
            first_cycle_steps=30,
            cycle_mult=1.5,
            max_lr=0.1,
            min_lr=0.001,
            warmup_steps=5,
            gamma=0.8,
        ),
        {
            "first_cycle_steps": [6, 30, 50],
            "cycle_mult": [0.8, 1.0, 2.0],
            "max_lr": [0.01, 0.1, 1.0],
            "min_lr": [0.0, 0.001, 0.005],
            "warmup_steps": [0, 3, 5],
            "gamma": [0.5, 0.8, 1.0],
        },
    ),
    "sgdr": (
        S.sgdr,
        dict(init_value=0.1, t_0=10, t_mult=2, end_value=0.001),
        {
            "init_value": [0.01, 0.1, 1.0],
            "t_0": [1, 10, 25],
            "t_mult": [1, 2, 3],
            "end_value": [0.0, 0.001, 0.005],
        },
    ),
    "cyclic": (
        S.cyclic,
        dict(
            base_value=0.001,
            max_value=0.1,
            step_size_up=12,
            step_size_down=20,
            mode="exp_range",
            gamma=0.99,
        ),
        {
            "base_value": [0.0, 0.001, 0.01],
            "max_value": [0.05, 0.1, 1.0],
            "step_size_up": [1, 12, 30],
            "step_size_down": [3, 20, 40],
            "gamma": [0.9, 0.99, 1.0],
        },
    ),
    "one_cycle": (
        S.one_cycle,
        dict(
            max_value=0.1,
            total_steps=100,
            pct_start=0.25,
            div_factor=25.0,
            final_div_factor=1e4,
            three_phase=True,
        ),
        {
            "max_value": [0.01, 0.1, 1.0],
            "total_steps": [10, 60, 100],
            "pct_start": [0.1, 0.25, 0.4],
            "div_factor": [5.0, 25.0, 100.0],
            "final_div_factor": [10.0, 1e3, 1e4],
        },
    ),
    "warmup": (
        S.warmup,
        dict(schedule=S.cosine_decay(0.1, 60), warmup_steps=10, init_value=0.001),
        {"warmup_steps": [0, 10, 35], "init_value": [0.0, 0.001, 0.05]},
    ),
    "join": (
        S.join,
        dict(
            schedules=[
                S.constant(0.01),
                S.linear(0.05, 0.1, 20),
                S.cosine_decay(0.1, 50),
            ],
            boundaries=[10, 40],
        ),
        {"boundaries": [[10, 40], [0, 25], [30, 30]]},
    ),
    "lr_range": (
        S.lr_range,
        dict(start_value=1e-5, end_value=1.0, num_steps=90),
        {
            "start_value": [1e-6, 1e-5, 0.01],
            "end_value": [0.1, 1.0, 10.0],
            "num_steps": [2, 50, 90],
        },
    ),
}

CONTINUOUS = {
    "constant": ["value"],
    "linear": ["init_value", "end_value"],
    "polynomial_decay": ["init_value", "end_value", "power", "decay_steps"],
    "step_decay": ["init_value", "gamma"],
    "multistep_decay": ["init_value", "gamma"],
    "exponential_decay": ["init_value", "gamma", "decay_steps"],
    "inverse_time_decay": ["init_value", "decay_rate", "decay_steps"],
    "cosine_decay": ["init_value", "end_value", "decay_steps"],
    "warmup_cosine_decay": ["init_value", "peak_value", "end_value"],
    "cosine_warmup_restarts": ["max_lr", "min_lr", "gamma"],
    "sgdr": ["init_value", "end_value"],
    "cyclic": ["base_value", "max_value", "gamma"],
    "one_cycle": ["max_value", "pct_start", "div_factor", "final_div_factor"],
    "warmup": ["init_value"],
    "join": [],
    "lr_range": ["start_value", "end_value"],
}


def build(name, **overrides):
    builder, kwargs, _ = CASES[name]
    return builder(**{**kwargs, **overrides})
