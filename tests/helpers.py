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


def assert_close_f32(actual, expected):
    """Float32 equality up to rounding: a few ulps of the largest value."""
    import chex
    import numpy as np

    scale = float(np.max(np.abs(np.asarray(expected)), initial=1e-30))
    chex.assert_trees_all_close(actual, expected, rtol=1e-5, atol=4e-7 * scale)
