"""Test-wide settings: strict dtype promotion (warnings are errors, see pyproject),
and no figure left open from one test to the next."""

import sys

import jax
import pytest

jax.config.update("jax_numpy_dtype_promotion", "strict")


@pytest.fixture(autouse=True)
def _close_figures():
    """Closes the figures a test drew: pyplot keeps them, and warns (an error
    here) past 20 open."""
    yield
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")
