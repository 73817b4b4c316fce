"""Shared test helpers: reference data and tolerances."""

from __future__ import annotations

import functools
import json
import pathlib

DATA = pathlib.Path(__file__).parent / "data"


@functools.cache
def schedule_refs() -> dict:
    """Torch, katsura, keras and tf-yolov3 schedule values (data/extract_refs.py)."""
    return json.loads((DATA / "schedule_refs.json").read_text())


@functools.cache
def seed_examples() -> dict:
    """The classic tutorial cases from PyTorch (float32)."""
    return json.loads((DATA / "seed_examples.json").read_text())


def assert_close_f32(actual, expected, rtol=1e-5, atol=4e-7):
    """Float32 equality up to rounding: ``atol`` is relative to each leaf's largest
    value (4e-7: a few ulps)."""
    import chex
    import jax
    import numpy as np

    for a, e in zip(jax.tree.leaves(actual), jax.tree.leaves(expected), strict=True):
        scale = float(np.max(np.abs(np.asarray(e, np.float64)), initial=1e-30))
        chex.assert_trees_all_close(a, e, rtol=rtol, atol=atol * scale)


@functools.cache
def optimizer_refs() -> dict:
    """Torch optimizer trajectories on the quadratic problem (float64)."""
    return json.loads((DATA / "optimizer_refs.json").read_text())


@functools.cache
def lr_finder_refs() -> dict:
    """torch-lr-finder histories and fastai suggestions."""
    return json.loads((DATA / "lr_finder_refs.json").read_text())
