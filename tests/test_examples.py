"""Every example runs (quick settings) and shows what it claims."""

import importlib.util
import pathlib

import jax
import pytest

EXAMPLES = pathlib.Path(__file__).parents[1] / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_example_is_tested():
    tested = {
        "flax_nnx_digits",
        "flax_linen_train_state",
        "sweep_digits",
        "lr_find_digits",
        "hypergradient",
    }
    assert {p.stem for p in EXAMPLES.glob("*.py")} == tested


@pytest.mark.parametrize("name", ["flax_nnx_digits", "flax_linen_train_state"])
def test_flax_examples_reach_95_percent(name):
    with jax.numpy_dtype_promotion("standard"):  # flax mixes dtypes internally
        assert _load(name).main() >= 0.95


def test_sweep_example_saves_heatmap(tmp_path):
    best = _load("sweep_digits").main(steps=150, seeds=1, out=str(tmp_path / "h.png"))
    assert best["val_accuracy"] >= 0.9 and (tmp_path / "h.png").stat().st_size > 10_000


def test_lr_find_example_trains_at_the_suggestion(tmp_path):
    accuracy = _load("lr_find_digits").main(seeds=2, out=str(tmp_path / "lr.png"))
    assert accuracy >= 0.9 and (tmp_path / "lr.png").exists()


def test_hypergradient_example_lowers_the_validation_loss():
    with jax.numpy_dtype_promotion("standard"):  # its tuner is optax.adam
        first, last = _load("hypergradient").main(steps=60, updates=10)
    assert last < 0.5 * first
