"""jaxsched: learning-rate schedules and optimizers written from scratch in JAX."""

from importlib.metadata import PackageNotFoundError, version

from jaxsched import plot as plot
from jaxsched import schedules as schedules
from jaxsched.hparams import get_hparams as get_hparams
from jaxsched.hparams import set_hparams as set_hparams
from jaxsched.lr_finder import LRFinderResult as LRFinderResult
from jaxsched.lr_finder import lr_find as lr_find
from jaxsched.optimizers import adagrad as adagrad
from jaxsched.optimizers import adam as adam
from jaxsched.optimizers import adamw as adamw
from jaxsched.optimizers import rmsprop as rmsprop
from jaxsched.optimizers import sgd as sgd
from jaxsched.schedules import Schedule as Schedule
from jaxsched.search import choice as choice
from jaxsched.search import grid as grid
from jaxsched.search import int_uniform as int_uniform
from jaxsched.search import log_uniform as log_uniform
from jaxsched.search import random_search as random_search
from jaxsched.search import uniform as uniform
from jaxsched.sweep import SweepResult as SweepResult
from jaxsched.sweep import sweep as sweep
from jaxsched.transforms import AddWeightDecayState as AddWeightDecayState
from jaxsched.transforms import ScaleByAdagradState as ScaleByAdagradState
from jaxsched.transforms import ScaleByAdamState as ScaleByAdamState
from jaxsched.transforms import ScaleByLearningRateState as ScaleByLearningRateState
from jaxsched.transforms import ScaleByMomentumState as ScaleByMomentumState
from jaxsched.transforms import ScaleByRmspropState as ScaleByRmspropState
from jaxsched.transforms import add_weight_decay as add_weight_decay
from jaxsched.transforms import scale_by_adagrad as scale_by_adagrad
from jaxsched.transforms import scale_by_adam as scale_by_adam
from jaxsched.transforms import scale_by_learning_rate as scale_by_learning_rate
from jaxsched.transforms import scale_by_momentum as scale_by_momentum
from jaxsched.transforms import scale_by_rmsprop as scale_by_rmsprop

try:
    __version__ = version("jaxsched")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = [
    "AddWeightDecayState",
    "LRFinderResult",
    "Schedule",
    "ScaleByAdagradState",
    "ScaleByAdamState",
    "ScaleByLearningRateState",
    "ScaleByMomentumState",
    "ScaleByRmspropState",
    "SweepResult",
    "adagrad",
    "adam",
    "adamw",
    "choice",
    "add_weight_decay",
    "get_hparams",
    "grid",
    "int_uniform",
    "log_uniform",
    "lr_find",
    "plot",
    "random_search",
    "rmsprop",
    "scale_by_adagrad",
    "scale_by_adam",
    "scale_by_learning_rate",
    "scale_by_momentum",
    "scale_by_rmsprop",
    "schedules",
    "set_hparams",
    "sgd",
    "sweep",
    "uniform",
]
