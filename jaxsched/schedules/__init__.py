"""Learning-rate schedules: ``js.schedules.NAME(**hparams) -> Schedule``.

Every schedule is a pytree whose leaves are its numeric hyperparameters and is
called as ``schedule(step) -> value`` (elementwise for an array of steps). Step
:math:`k` is the value used by update :math:`k + 1`. Every numeric argument may be
a Python number, an array or a tracer (inside ``jit``, ``vmap``, ``grad``,
``lax.scan``); concrete values are validated when the schedule is built, traced
values cannot be and are not.

Values are computed in JAX's default float type (float32, or float64 with x64) on
a float copy of the step: in float32, steps are exact integers up to
:math:`2^{24}` (16.7M); enable x64 for exact step arithmetic beyond.
"""

from jaxsched.schedules._core import Schedule as Schedule
from jaxsched.schedules.combine import as_schedule as as_schedule
from jaxsched.schedules.combine import join as join
from jaxsched.schedules.combine import warmup as warmup
from jaxsched.schedules.cosine import cosine_decay as cosine_decay
from jaxsched.schedules.cosine import cosine_warmup_restarts as cosine_warmup_restarts
from jaxsched.schedules.cosine import sgdr as sgdr
from jaxsched.schedules.cosine import warmup_cosine_decay as warmup_cosine_decay
from jaxsched.schedules.cyclical import cyclic as cyclic
from jaxsched.schedules.cyclical import one_cycle as one_cycle
from jaxsched.schedules.simple import constant as constant
from jaxsched.schedules.simple import exponential_decay as exponential_decay
from jaxsched.schedules.simple import inverse_time_decay as inverse_time_decay
from jaxsched.schedules.simple import linear as linear
from jaxsched.schedules.simple import lr_range as lr_range
from jaxsched.schedules.simple import multistep_decay as multistep_decay
from jaxsched.schedules.simple import polynomial_decay as polynomial_decay
from jaxsched.schedules.simple import step_decay as step_decay

__all__ = [
    "Schedule",
    "as_schedule",
    "constant",
    "cosine_decay",
    "cosine_warmup_restarts",
    "cyclic",
    "exponential_decay",
    "inverse_time_decay",
    "join",
    "linear",
    "lr_range",
    "multistep_decay",
    "one_cycle",
    "polynomial_decay",
    "sgdr",
    "step_decay",
    "warmup",
    "warmup_cosine_decay",
]
