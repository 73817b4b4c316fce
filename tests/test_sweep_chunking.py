"""``chunk_size="auto"``: the probe that sizes a sweep's chunks."""

import json
import os

import jax
import numpy as np
import pytest

import jaxsched as js
from jaxsched import _chunking
from tests import sweep_helpers
from tests.sweep_helpers import train_fn


@pytest.mark.parametrize(
    ("count", "most", "shards", "expected"),
    [
        (256, 64, 1, 64),  # 4 full chunks
        (100, 64, 1, 50),  # 2 chunks of 50, not 64 + 36 padded to 64
        (10, 3, 1, 3),  # 4 chunks: 3 + 3 + 3 + 1 (the least padding for 4)
        (12, 64, 1, 12),  # everything in one chunk
        (10, 64, 4, 12),  # a multiple of the mesh axis
        (5, 0, 1, 1),  # nothing fits: one configuration at a time
    ],
)
def test_even_chunks_use_as_few_chunks_as_fit_with_the_least_padding(
    count, most, shards, expected
):
    assert _chunking.even_chunks(count, most, shards) == expected


def test_last_level_cache_reads_the_largest_data_or_unified_cache(tmp_path):
    for name, kind, size in [
        ("index0", "Data", "32K"),
        ("index1", "Instruction", "64M"),  # ignored, however large
        ("index2", "Unified", "1024K"),
        ("index3", "Unified", "32768K"),
    ]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "type").write_text(kind + "\n")
        (tmp_path / name / "size").write_text(size + "\n")
    assert _chunking.last_level_cache(str(tmp_path)) == 32 * 2**20
    assert _chunking.last_level_cache(str(tmp_path / "missing")) is None


def _budget(monkeypatch, configs_per_chunk, count):
    """Makes the budget hold ``configs_per_chunk`` configurations of train_fn with
    2 seeds, as the probe of a sweep of ``count`` measures them."""
    grid = js.grid(learning_rate=np.linspace(0.01, 0.1, count).astype(np.float32))
    probe = js.sweep(train_fn, grid, seeds=2, progress=False)
    per_config = probe.stats["working_set_per_config"]
    assert per_config > 0  # the CPU backend reports its buffers
    budget = int(per_config * (configs_per_chunk + 0.5))
    monkeypatch.setattr(_chunking, "memory_budget", lambda device: budget)


def _parts(monkeypatch, parts):
    """Makes an unsharded chunk run in ``parts`` parts, whatever the cores."""
    monkeypatch.setattr(
        _chunking, "parts", lambda sharded, count: 1 if sharded else parts
    )


@pytest.mark.parametrize(
    ("parts", "size", "chunks"),
    [(1, 3, 4), (2, 2, 5)],  # 3 + 3 + 3 + 1; parts of 1 (two at once)
)
def test_auto_sizes_chunks_to_the_budget_and_equals_explicit_chunks(
    monkeypatch, parts, size, chunks
):
    _parts(monkeypatch, parts)
    _budget(monkeypatch, 3, 10)
    grid = js.grid(learning_rate=np.linspace(0.01, 0.1, 10).astype(np.float32))
    auto = js.sweep(train_fn, grid, seeds=2, progress=False)
    assert auto.stats["chunk_size"] == size and auto.stats["chunks_computed"] == chunks
    assert auto.stats["parts_per_chunk"] == parts
    explicit = js.sweep(train_fn, grid, seeds=2, chunk_size=5, progress=False)
    assert explicit.stats["parts_per_chunk"] == 1  # 5 has no equal parts
    np.testing.assert_allclose(
        auto.metrics["final_loss"], explicit.metrics["final_loss"], rtol=1e-6
    )

    _budget(monkeypatch, 1000, 10)  # room for everything: one chunk
    whole = js.sweep(train_fn, grid, seeds=2, progress=False)
    assert whole.stats["chunk_size"] == 10 and whole.stats["chunks_computed"] == 1
    assert whole.stats["parts_per_chunk"] == parts


def test_a_chunk_runs_in_parts_at_once_on_a_cpu_without_a_mesh():
    assert _chunking.parts(True, 64) == 1
    assert _chunking.parts(False, 64) == min(2, os.cpu_count() or 1)
    assert _chunking.parts(False, 1) == 1  # no padded twin for a single run
    one = js.sweep(train_fn, {"learning_rate": [0.1]}, progress=False)
    assert one.stats["chunk_size"] == 1 and one.stats["parts_per_chunk"] == 1


def test_chunk_parts_fit_the_budget_together_or_there_is_one(monkeypatch):
    monkeypatch.setattr(_chunking, "memory_budget", lambda device: 64_000)
    assert _chunking.chunk_size(256, 1, 1000.0, parts=2) == 64  # two parts of 32
    # 42 configurations fit: seven chunks, of 38 (even, the least padding)
    assert _chunking.chunk_size(256, 1, 1500.0, parts=2) == 38
    assert _chunking.chunk_size(256, 1, 40_000.0, parts=2) == 1  # one part of 1


def test_cpu_devices_of_one_process_share_the_cache(monkeypatch):
    assert jax.devices()[0].platform == "cpu"
    monkeypatch.setattr(_chunking, "memory_budget", lambda device: 64_000)
    assert _chunking.chunk_size(256, 1, 1000.0) == 64
    assert _chunking.chunk_size(256, 2, 1000.0, host_devices=2) == 64  # 32 each
    # two processes with one device each: each has the whole cache
    assert _chunking.chunk_size(256, 2, 1000.0, host_devices=1) == 128


def test_a_second_auto_sweep_of_the_same_shapes_traces_nothing():
    grid = js.grid(learning_rate=np.linspace(0.01, 0.1, 6).astype(np.float32))
    first = js.sweep(train_fn, grid, seeds=1, progress=False)
    traces = len(sweep_helpers.TRACES)
    second = js.sweep(
        train_fn, {"learning_rate": grid["learning_rate"] * 2}, seeds=1, progress=False
    )
    assert len(sweep_helpers.TRACES) == traces and second.stats["compiles"] == 0
    assert second.stats["chunk_size"] == first.stats["chunk_size"]


def test_the_probes_program_runs_the_chunks(caplog):
    def train(hparams, key):  # a function of its own: nothing cached for it yet
        return sweep_helpers.train_fn(hparams, key)

    grid = js.grid(learning_rate=np.linspace(0.01, 0.1, 6).astype(np.float32))
    with jax.log_compiles(), caplog.at_level("WARNING"):
        result = js.sweep(train, grid, seeds=2, progress=False)
    xla_compiles = [
        r for r in caplog.messages if "Finished XLA compilation of jit(runs)" in r
    ]
    assert result.stats["chunk_size"] == 6  # the probe's first size
    assert result.stats["compiles"] == 1 and len(xla_compiles) == 1


def test_a_checkpointed_auto_sweep_resumes_with_the_chunk_size_it_started_with(
    monkeypatch, tmp_path
):
    _budget(monkeypatch, 2, 5)
    grid = js.grid(learning_rate=np.linspace(0.01, 0.1, 5).astype(np.float32))
    first = js.sweep(train_fn, grid, seeds=2, progress=False, checkpoint_dir=tmp_path)
    manifest = json.loads((tmp_path / "sweep.json").read_text())
    assert first.stats["chunk_size"] == manifest["chunk_size"] == 2

    _budget(monkeypatch, 1000, 5)  # another machine: the probe would pick more
    again = js.sweep(train_fn, grid, seeds=2, progress=False, checkpoint_dir=tmp_path)
    assert again.stats["chunk_size"] == 2
    assert again.stats["chunks_loaded"] == 3 and again.stats["chunks_computed"] == 0
    np.testing.assert_array_equal(
        again.metrics["final_loss"], first.metrics["final_loss"]
    )


def test_working_set_is_zero_when_the_backend_does_not_report_it():
    class Silent:
        def memory_analysis(self):
            return None

    assert _chunking.working_set(Silent()) == 0
    compiled = jax.jit(lambda x: x * 2).lower(np.ones(1024, np.float32)).compile()
    assert _chunking.working_set(compiled) >= 2 * 4096  # argument + output
