"""jaxsched: learning-rate schedules and optimizers written from scratch in JAX."""

from importlib.metadata import PackageNotFoundError, version

from jaxsched import plot as plot
from jaxsched import schedules as schedules
from jaxsched.schedules import Schedule as Schedule

try:
    __version__ = version("jaxsched")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = ["Schedule", "plot", "schedules"]
