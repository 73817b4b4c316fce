"""Test-wide settings: strict dtype promotion (warnings are errors, see pyproject)."""

import jax

jax.config.update("jax_numpy_dtype_promotion", "strict")
