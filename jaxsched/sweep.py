"""Many training runs in one compiled program: ``js.sweep`` and its result.

``train_fn(hparams, key) -> metrics`` is pure; ``sweep`` vmaps it over the
configurations and the seeds inside one ``jit`` per static combination, in chunks
of a fixed size (the last one padded, the padding dropped), optionally sharded
over a device mesh and checkpointed chunk by chunk.
"""

from __future__ import annotations

import contextlib
import dataclasses
import dis
import functools
import hashlib
import inspect
import itertools
import json
import math
import os
import pathlib
import time
import types
import zipfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxsched import _chunking
from jaxsched._checks import check_choice, check_count

MESH_AXIS = "configs"
#: How `best`, `table` and `js.plot.sweep` rank: by the smallest or largest mean.
MODES = ("min", "max")


_ARRAY_TYPES = (jax.Array, np.ndarray, np.generic, bool, int, float, complex)


def _flat_metrics(returned: Any) -> dict[str, Any]:
    """One run's metrics pytree as a flat dict named by key path: ``"extra/norm"``
    for a nested dict, ``"0"`` for a tuple's first entry, ``"metric"`` for a
    single array. Raises (while tracing) unless every leaf is an array."""
    leaves = jax.tree_util.tree_flatten_with_path(returned)[0]
    if not leaves:
        raise ValueError(
            f"`train_fn` returned no metrics ({returned!r}): return a dict (or "
            "pytree) of arrays, e.g. `{'loss': loss}`."
        )
    flat = {}
    for path, leaf in leaves:
        name = jax.tree_util.keystr(path, simple=True, separator="/") or "metric"
        if not isinstance(leaf, _ARRAY_TYPES):
            raise ValueError(
                f"`train_fn` must return a dict (or pytree) of arrays; metric "
                f"`{name}` is a {type(leaf).__name__}: {leaf!r}."
            )
        if name in flat:
            raise ValueError(
                f"`train_fn` returned two metrics named `{name}`: rename one."
            )
        flat[name] = leaf
    return flat


@dataclasses.dataclass
class SweepResult:
    """The outcome of a sweep.

    Attributes:
      hparams: each axis (swept and static), a 1-D array with one entry per
        configuration; a static axis whose values are not numbers or strings of one
        type (tuples, functions, ``None``, ``[1, True]``) is an object array of them.
      metrics: flat dict of arrays with leading axes (configs, seeds), named by
        their key path in what ``train_fn`` returns (``"extra/norm"``, ``"0"``).
      diverged: bool (configs, seeds): any metric of that run is not finite.
      stats: how the sweep ran (runs, seconds from the start of the ``"auto"``
        probe, compiles, chunks computed/loaded, chunk size, parts per chunk,
        working set).
    """

    hparams: dict[str, np.ndarray]
    metrics: dict[str, np.ndarray]
    diverged: np.ndarray
    stats: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def num_configs(self) -> int:
        return len(self.diverged)

    def scores(self, metric: str) -> np.ndarray:
        """(configs, seeds) scores: the metric, or the last value of a curve."""
        if metric not in self.metrics:
            raise ValueError(
                f"Unknown metric {metric!r}; the sweep recorded {sorted(self.metrics)}."
            )
        values = np.asarray(self.metrics[metric], np.float64)
        # A curve (e.g. the loss of every step) is scored by its last value.
        return values.reshape(values.shape[:2] + (-1,))[..., -1]

    def best(
        self, metric: str, mode: str = "min", *, where: np.ndarray | None = None
    ) -> dict[str, Any]:
        """The best configuration by its mean ``metric`` over seeds.

        Configurations with a diverged seed never win; ``where`` (a bool mask over
        configurations) restricts the candidates. Returns the hyperparameters, the
        metric's mean (under the metric's name) and the configuration's ``index``.
        """
        check_choice("mode", mode, MODES)
        if metric == "index" or metric in self.hparams:
            raise ValueError(
                f"`{metric}` names both a metric and a key `best` returns (an axis, or "
                f"the configuration's `index`): rank by `scores({metric!r})` instead."
            )
        mean = self.scores(metric).mean(axis=1)
        ok = ~self.diverged.any(axis=1)
        if where is not None:
            where = np.asarray(where)
            if where.dtype != bool or where.shape != ok.shape:
                raise ValueError(
                    f"`where` must be a bool mask over the {len(ok)} "
                    f"configurations, got {where.dtype} of shape {where.shape}."
                )
            ok &= where
        if not ok.any():
            raise ValueError("No candidate configuration without a diverged seed.")
        ranked = np.where(ok, mean if mode == "min" else -mean, np.inf)
        index = int(np.argmin(ranked))
        return {
            name: _python(values[index]) for name, values in self.hparams.items()
        } | {
            metric: float(mean[index]),
            "index": index,
        }

    def table(
        self,
        metric: str,
        top: int = 10,
        mode: str = "min",
        also: str | Sequence[str] = (),
    ) -> str:
        """A Markdown leaderboard of the ``top`` configurations by their mean
        ``metric`` (``mode``: "min" or "max"): mean and std over seeds (the
        population std, ``ddof=0``), the means of the metrics named in ``also``
        (one name or several; a curve by its last value), diverged runs marked
        and ranked last."""
        check_choice("mode", mode, MODES)
        check_count("top", top)
        if isinstance(also, str):
            also = (also,)
        others = {name: self.scores(name).mean(axis=1) for name in also}
        scores = self.scores(metric)
        mean, std = scores.mean(axis=1), scores.std(axis=1)
        bad = self.diverged.any(axis=1)
        key = np.where(bad, np.inf, mean if mode == "min" else -mean)
        order = np.argsort(key, kind="stable")[:top]
        names = list(self.hparams)
        lines = [
            "| rank | "
            + " | ".join(names)
            + f" | {metric} mean | std | "
            + "".join(f"{name} mean | " for name in others)
            + "diverged |",
            "|---" * (len(names) + len(others) + 4) + "|",
        ]
        for rank, i in enumerate(order, 1):
            cells = " | ".join(_fmt(self.hparams[n][i]) for n in names)
            extra = "".join(f"{values[i]:.4g} | " for values in others.values())
            lines.append(
                f"| {rank} | {cells} | {mean[i]:.4g} | {std[i]:.2g} | {extra}"
                f"{int(self.diverged[i].sum())}/{self.diverged.shape[1]} |"
            )
        return "\n".join(lines)

    def save(self, path: str | pathlib.Path) -> None:
        """Writes ``path`` + ``.npz`` (the arrays) and ``path`` + ``.json`` (their
        layout); a ``path`` that ends in one of these is taken without it.

        Dtypes are kept (bfloat16 included); static values are kept if JSON holds
        them (``None``, bools, numbers, strings, tuples of these), otherwise
        (functions) saved as their ``str``.
        """
        npz, layout_json = _result_files(path)
        arrays = {f"hparams/{k}": v for k, v in self.hparams.items()}
        arrays |= {f"metrics/{k}": v for k, v in self.metrics.items()}
        arrays["diverged"] = self.diverged
        _save_arrays(npz, arrays)
        layout = {
            "hparams": list(self.hparams),
            "metrics": list(self.metrics),
            "stats": self.stats,
        }
        layout_json.write_text(json.dumps(layout, indent=1, default=str))

    @classmethod
    def load(cls, path: str | pathlib.Path) -> SweepResult:
        """Reads what :meth:`save` wrote (no pickle); raises ``ValueError`` if the
        files do not hold a sweep's result."""
        npz, layout_json = _result_files(path)
        try:
            layout = json.loads(layout_json.read_text())
            arrays = _load_arrays(npz)
            result = cls(
                {k: arrays[f"hparams/{k}"] for k in layout["hparams"]},
                {k: arrays[f"metrics/{k}"] for k in layout["metrics"]},
                arrays["diverged"],
                layout["stats"],
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(
                f"{str(npz)!r} and {str(layout_json)!r} do not hold a sweep's result "
                f"written by SweepResult.save: {error!r}"
            ) from error
        runs = result.diverged.shape
        columns = [v.shape[:1] for v in result.hparams.values()]
        rows = [v.shape[:2] for v in result.metrics.values()]
        if len(runs) != 2 or {*columns} != {runs[:1]} or {*rows} != {runs}:
            raise ValueError(
                f"{str(npz)!r} is inconsistent: `diverged` is {runs}, the axes have "
                f"lengths {columns}, the metrics lead with {rows}."
            )
        return result


def _result_files(path: str | pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    """The .npz and .json files of ``SweepResult.save(path)``: ``path`` plus
    each suffix (not ``with_suffix``: ``run_lr0.1`` and ``run_lr0.01`` differ)."""
    path = pathlib.Path(path)
    if path.suffix in (".npz", ".json"):
        path = path.with_suffix("")
    return (path.parent / f"{path.name}.npz", path.parent / f"{path.name}.json")


_DTYPES = "__dtypes__"
_JSON = "json"  # the dtype name of static values saved as JSON texts


def _save_arrays(path: pathlib.Path, arrays: Mapping[str, Any]) -> None:
    """``np.savez`` without pickle. NumPy has no format for ml_dtypes (bfloat16,
    float8): such arrays are written as raw unsigned integers and their dtype names
    alongside. Object arrays (static values) are written as one JSON text per
    value (``None``, bools, numbers, strings, tuples), a value JSON cannot hold (a
    function) as the JSON text of its ``str``."""
    stored, dtypes = {}, {}
    for name, array in arrays.items():
        array = np.asarray(array)
        if array.dtype == object:
            texts = [_json_or_str(v) for v in array.flat]
            dtypes[name] = _JSON
            array = np.array(texts, dtype=str).reshape(array.shape)
        elif array.dtype.kind == "V":  # the ml_dtypes
            dtypes[name] = array.dtype.name
            array = array.view(f"u{array.dtype.itemsize}")
        stored[name] = array
    with open(path, "wb") as f:
        np.savez(f, **stored, **{_DTYPES: np.asarray(json.dumps(dtypes))})


def _load_arrays(path: pathlib.Path) -> dict[str, np.ndarray]:
    """What :func:`_save_arrays` wrote, with the dtypes it wrote."""
    # the file opened here: np.load leaves its own open when it raises
    with open(path, "rb") as file, np.load(file, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    dtypes = json.loads(arrays.pop(_DTYPES, np.asarray("{}")).item())
    return arrays | {
        name: _from_json(arrays[name])
        if d == _JSON
        else arrays[name].view(jnp.dtype(d))
        for name, d in dtypes.items()
    }


def _json_or_str(value: Any) -> str:
    """``value`` as a JSON text, or its ``str`` as one if JSON cannot hold it."""
    try:
        return json.dumps(value, default=_python_or_fail)
    except (TypeError, ValueError):
        return json.dumps(str(value))


def _python_or_fail(value: Any) -> Any:
    """JSON's fallback: a NumPy scalar as a Python number; nothing else."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{value!r} is not JSON")


def _from_json(texts: np.ndarray) -> np.ndarray:
    """The object array of the values :func:`_save_arrays` wrote as JSON (lists
    back to tuples: static values are hashable)."""

    def tuples(value: Any) -> Any:
        return tuple(map(tuples, value)) if isinstance(value, list) else value

    values = np.empty(texts.shape, dtype=object)
    for index, text in np.ndenumerate(texts):
        values[index] = tuples(json.loads(text))
    return values


def _python(value: Any) -> Any:
    """A NumPy scalar as the Python number it holds; any other value unchanged."""
    return value.item() if isinstance(value, np.generic) else value


def _fmt(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, (float, np.floating)) else str(value)


def _axes(hparams: Mapping[str, Any]) -> tuple[dict[str, np.ndarray], int]:
    if not isinstance(hparams, Mapping):
        raise ValueError(
            f"`hparams` must be a dict of axes (see js.grid), got {hparams!r}."
        )
    if not hparams:
        raise ValueError("`hparams` is empty: give at least one axis (see js.grid).")
    axes = {name: np.asarray(values) for name, values in hparams.items()}
    for name, values in axes.items():
        _check_jax_takes(name, values)
    lengths = {name: a.shape[0] if a.ndim == 1 else a.shape for name, a in axes.items()}
    if any(a.ndim != 1 for a in axes.values()) or len(set(lengths.values())) != 1:
        raise ValueError(
            f"Every axis of `hparams` must be 1-D with one value per configuration; "
            f"got lengths {lengths}."
        )
    (count,) = set(lengths.values())
    if count == 0:
        raise ValueError("`hparams` has no configurations (its axes are empty).")
    return axes, count


def _check_jax_takes(name: str, values: np.ndarray) -> None:
    """Raises unless JAX can take a swept axis as it is: numbers, within the dtype
    JAX gives them (without x64, 64-bit values are narrowed to 32 bits)."""
    if values.dtype.kind in "OSU":
        raise ValueError(
            f"Axis `{name}` holds strings or objects ({values.dtype}), which JAX "
            f"cannot trace: pass it as a static axis, `static={{{name!r}: [...]}}` "
            "(one compilation per value)."
        )
    dtype = jax.dtypes.canonicalize_dtype(values.dtype)
    if dtype == values.dtype or dtype.kind not in "iuf":
        return
    info = np.iinfo(dtype) if dtype.kind in "iu" else np.finfo(dtype)
    outside = np.isfinite(values) & ((values < info.min) | (values > info.max))
    if dtype.kind == "f":  # nonzero values that would become 0
        with np.errstate(over="ignore"):
            outside |= (values != 0) & (values.astype(dtype) == 0)
    if outside.any():
        raise ValueError(
            f"Axis `{name}` holds {values[outside][0].item()!r}, outside {dtype} "
            f"(or 0 in it), the type JAX gives {values.dtype} values without 64-bit "
            "mode: use other values, or enable `jax_enable_x64`."
        )


def _static_axes(
    static: Mapping[str, Any] | None, axes: Mapping[str, np.ndarray]
) -> dict[str, list]:
    """The static axes as lists of Python values, checked: the compile cache is
    keyed on them, so they must be hashable."""
    if static is not None and not isinstance(static, Mapping):
        raise ValueError(
            f"`static` must be a dict of axes, e.g. `{{'optimizer': ['adam', "
            f"'sgd']}}`, got {static!r}."
        )
    checked = {}
    for name, values in (static or {}).items():
        if isinstance(values, (str, bytes)):
            raise ValueError(
                f"Static axis `{name}` is a string: pass a list of its values, "
                f"`static={{{name!r}: [{values!r}]}}`."
            )
        try:
            values = [_python(value) for value in values]
        except TypeError as error:
            raise ValueError(
                f"Static axis `{name}` must be a list of values, got {values!r}."
            ) from error
        if not values:
            raise ValueError(f"Static axis `{name}` is empty.")
        if name in axes:
            raise ValueError(f"`{name}` is both a swept and a static axis.")
        for value in values:
            try:
                hash(value)
            except TypeError as error:
                raise ValueError(
                    f"Static axis `{name}` holds {value!r}, which is not hashable "
                    "(each value keys a compiled program): use a tuple instead of a "
                    "list, or another hashable value."
                ) from error
        checked[name] = values
    return checked


def _column(values: list) -> np.ndarray:
    """A static axis as a 1-D array: a NumPy array when its values are numbers or
    strings of one type, else an object array holding the values themselves."""
    if len({type(v) for v in values}) == 1 and isinstance(
        values[0], (bool, int, float, complex, str)
    ):
        return np.asarray(values)
    column = np.empty(len(values), object)
    column[:] = values
    return column


def _cache_key(fixed: Mapping[str, Any]) -> tuple:
    """A static combination as ``(name, typed value, value)`` triples: the key of
    its compiled program, under which equal values of different types (``1``,
    ``1.0``, ``True``) do not meet."""
    return tuple((name, _typed(value), value) for name, value in fixed.items())


def _typed(value: Any) -> Any:
    """``value`` with its type, through tuples; a float as its ``repr`` (``0.0``
    and ``-0.0`` are equal, and are not the same program)."""
    if isinstance(value, tuple):
        return tuple, tuple(_typed(v) for v in value)
    if isinstance(value, (float, complex)):
        return type(value), repr(value)
    return type(value), value


def _fingerprint(train_fn, axes, static, seeds, chunk_size) -> str:
    """A hash of what a sweep computes, the same in every process."""
    digest = hashlib.sha256()
    _digest(digest, train_fn)
    for name, values in axes.items():
        digest.update(name.encode() + np.ascontiguousarray(values).tobytes())
    _digest(digest, list(static.items()))  # their order is the chunks' order
    digest.update(f"{seeds}/{chunk_size}".encode())
    return digest.hexdigest()


def _digest(digest, value: Any, memo: dict[int, bytes] | None = None) -> None:
    """Feeds ``digest`` with ``value``: a function as its source, the values it
    closes over and defaults to, and the globals it loads (so ``make_train(2.0)``
    differs from ``make_train(5.0)`` and a changed ``STEPS = 300`` is seen; an
    installed library's function by its name and closure); a module as its name, a
    class as its name and the methods of it and its bases that are not installed;
    a jitted or wrapped function as the one inside, a method as its function and
    object, a partial as its function and arguments; an array (a PRNG key
    included) as its bytes; containers item by item; an object as its class and
    attributes, or its ``repr`` where it has none and that names no memory
    address, else its type alone. Each function and class is digested once
    (``memo``)."""
    memo = {} if memo is None else memo
    feed = functools.partial(_digest, digest, memo=memo)
    text = f"{type(value).__module__}.{type(value).__qualname__}:"
    if isinstance(value, (jax.Array, np.ndarray, np.generic)):
        if jax.dtypes.issubdtype(value.dtype, jax.dtypes.prng_key):
            value = jax.random.key_data(value)
        array = np.asarray(value)
        digest.update(f"{array.dtype}{array.shape}".encode() + array.tobytes())
    elif isinstance(value, (type(None), bool, int, float, complex, str, bytes)):
        digest.update(f"{text}{value!r}".encode())
    elif id(value) in memo:  # a function or class met before (or being walked)
        digest.update(memo[id(value)])
    elif isinstance(value, (types.ModuleType, type)):
        module = getattr(value, "__module__", None) or ""
        name = getattr(value, "__qualname__", value.__name__)
        memo[id(value)] = f"{text}{module}.{name}".encode()
        if isinstance(value, type):  # and the methods of it and its bases, by name
            sub = hashlib.sha256(memo[id(value)])
            methods = [
                (attr, getattr(method, "__func__", method))
                for klass in value.__mro__
                if not _installed(klass)
                for attr, method in sorted(vars(klass).items())
            ]
            _digest(sub, [(a, m) for a, m in methods if inspect.isfunction(m)], memo)
            memo[id(value)] = sub.digest()
        digest.update(memo[id(value)])
    elif inspect.isfunction(value):
        memo[id(value)] = f"<function {value.__qualname__}>".encode()  # cycles
        sub = hashlib.sha256()
        library = _installed(value)
        try:
            if library:  # its name; the values it closes over still count
                raise TypeError
            sub.update(inspect.getsource(value).encode())
        except (OSError, TypeError):
            sub.update(f"{value.__module__}.{value.__qualname__}".encode())
        cells = [cell.cell_contents for cell in value.__closure__ or ()]
        names = sorted(set(_global_names(value.__code__)) & set(value.__globals__))
        used = [] if library else [(name, value.__globals__[name]) for name in names]
        _digest(sub, (cells, value.__defaults__, value.__kwdefaults__, used), memo)
        memo[id(value)] = sub.digest()
        digest.update(memo[id(value)])
    elif isinstance(value, functools.partial):
        feed((value.func, value.args, sorted(value.keywords.items())))
    elif inspect.ismethod(value):
        feed((value.__func__, value.__self__))
    elif callable(value) and hasattr(value, "__wrapped__"):  # jax.jit, wraps
        feed(value.__wrapped__)
    elif isinstance(value, (list, tuple)):
        digest.update(f"{text}{len(value)}".encode())
        for item in value:
            feed(item)
    elif isinstance(value, dict):
        feed(sorted(value.items(), key=repr))
    elif isinstance(value, (set, frozenset)):  # their order varies by process
        feed(sorted(value, key=repr))
    elif hasattr(value, "__dict__"):
        memo[id(value)] = text.encode()  # cycles through attributes
        digest.update(text.encode())
        mro = type(value).__mro__
        call = next(
            (k.__dict__["__call__"] for k in mro if "__call__" in k.__dict__), None
        )
        feed((type(value), call, vars(value)))
    elif " at 0x" not in repr(value):
        digest.update(f"{text}{value!r}".encode())
    else:  # nothing else to tell it by
        digest.update(text.encode())


def _installed(function: types.FunctionType | type) -> bool:
    """A function or class of an installed library (site-packages), or built in:
    its source and globals are not walked (they do not change between runs of a
    sweep)."""
    try:
        path = inspect.getfile(function)
    except (OSError, TypeError):  # built in, or a class of a module with no file
        return not isinstance(function, type) or function.__module__ == "builtins"
    return "site-packages" in path or "dist-packages" in path


def _global_names(code: types.CodeType) -> list[str]:
    """The globals a function's code (and the code of the functions it defines)
    loads (``co_names`` also holds attribute names: ``digits.loss`` is no global
    ``loss``)."""
    names = [
        ins.argval
        for ins in dis.get_instructions(code)
        if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME")
    ]
    for const in code.co_consts:
        if inspect.iscode(const):
            names += _global_names(const)
    return names


def sweep(
    train_fn: Callable[[dict[str, Any], jax.Array], Any],
    hparams: Mapping[str, Sequence[Any]],
    *,
    seeds: int = 1,
    chunk_size: int | str = "auto",
    mesh: jax.sharding.Mesh | None = None,
    static: Mapping[str, Sequence[Any]] | None = None,
    progress: bool = True,
    checkpoint_dir: str | pathlib.Path | None = None,
) -> SweepResult:
    """Trains every configuration x seed, vmapped in one compiled program.

    Args:
      train_fn: ``train_fn(hparams, key) -> metrics``: a pure function of one
        configuration (a dict of scalars, static axes as Python values) and a PRNG
        key, returning a pytree of arrays (a nested dict, a tuple, a NamedTuple;
        metrics are named by their key path joined with "/", a single array is
        ``"metric"``). Errors raised inside ``train_fn`` come through unchanged.
        Its programs are compiled once per function object (as ``jax.jit``
        caches them): a global it reads that changes later is not seen by the
        next sweep in this process, with or without a ``checkpoint_dir`` (whose
        fingerprint does see it); define the function again, or pass the value
        in an axis or a closure.
      hparams: swept axes, equal-length 1-D arrays of numbers (``js.grid``,
        ``js.random_search``; strings go in ``static``). Without x64, 64-bit
        values must fit the 32-bit type JAX narrows them to.
      seeds: runs per configuration, keys ``jax.random.split(key(0), seeds)``.
      chunk_size: configurations per compiled call, at most the number of
        configurations (the last chunk is padded; rounded up to a multiple of the
        mesh's ``configs`` axis). ``"auto"``: a probe compiles
        a first chunk of up to 64 (of each static combination), reads its working
        set from the compiled program and sizes the chunks so that the largest
        fits 3/4 of the last-level cache (CPU,
        shared by the mesh's CPU devices in this process) or half the device
        memory, in as few chunks as possible with the least padding; ``stats``
        reports the size and the bytes per configuration (per device). A
        checkpointed sweep reuses the size it started with. On a CPU without a
        mesh, a chunk of even size runs as two halves at once, each from a host
        thread (``stats["parts_per_chunk"]``; "auto" sizes are even, so an odd
        number of configurations gets one padded run): one program's small
        kernels leave a core idle, which the other fills. Not under
        ``jax.debug_nans``, ``debug_infs`` or ``disable_jit``.
      mesh: a ``jax.sharding.Mesh`` with an axis named ``"configs"``: each
        chunk's configurations are sharded over it (results are the same as
        unsharded; ``Explicit`` axes are used as ``Auto`` ones, and the mesh
        replaces any the caller has set). On a CPU, one device per core
        (``jax.config.update("jax_num_cpu_devices", os.cpu_count())`` before JAX
        starts) and ``jax.make_mesh((os.cpu_count(),), ("configs",))`` run a
        shard on each core at once: the digits MLP's sweep is 1.3-2x faster
        on 2 cores than on one device (README, Performance).
      static: axes that change the program (an optimizer kind, a flag), each a
        list of hashable values (a tuple, not a list; NumPy scalars become Python
        ones): one compilation per combination (equal values of different types,
        ``1`` and ``True``, compile apart), values passed as Python objects; every
        combination runs every configuration of ``hparams``.
      progress: a tqdm bar advanced per chunk, with configs/s.
      checkpoint_dir: each finished chunk is written there; a rerun skips
        finished chunks. A different grid, static axes, seeds, chunk size or
        train function (its source, the values it closes over, the globals it
        names, a partial's arguments, a method's object) is refused with an
        error, in any process; a directory whose sweep never finished a chunk is
        taken over. An object with no attributes whose repr is a memory address
        counts by its type alone, an installed library's function by its name.

    Returns:
      A :class:`SweepResult` with one row per (static combination, configuration).

    Example:
      >>> import jax, jax.numpy as jnp, jaxsched as js
      >>> def train(hparams, key):
      ...     w = jax.random.normal(key, (3,))
      ...     for _ in range(10):
      ...         w = w - hparams["learning_rate"] * 2 * w  # gradient of |w|^2
      ...     return {"loss": jnp.sum(w**2)}
      >>> result = js.sweep(train, js.grid(learning_rate=[0.01, 0.1, 0.4]), seeds=2,
      ...                   progress=False)
      >>> print(result.metrics["loss"].shape, result.best("loss")["learning_rate"])
      (3, 2) 0.4
    """
    axes, count = _axes(hparams)
    static = _static_axes(static, axes)
    if "index" in axes or "index" in static:
        raise ValueError(
            "An axis is named `index`, the name `SweepResult.best` gives the "
            "configuration's position: rename the axis."
        )
    check_count("seeds", seeds)
    if mesh is not None and not isinstance(mesh, jax.sharding.Mesh):
        raise ValueError(f"`mesh` must be a jax.sharding.Mesh or None, got {mesh!r}.")
    if mesh is not None and MESH_AXIS not in mesh.axis_names:
        raise ValueError(
            f"`mesh` has axes {mesh.axis_names}; it needs one named "
            f"{MESH_AXIS!r} to shard the configurations over."
        )
    if mesh is not None:
        mesh = _auto(mesh)
    shards = _shards(mesh)
    if not (isinstance(chunk_size, str) and chunk_size == "auto"):
        check_count("chunk_size", chunk_size, " or 'auto'")
    with _current(mesh):  # not the mesh the caller may have set
        keys = _seed_keys(seeds)
    combos = [
        dict(zip(static, values, strict=True))
        for values in itertools.product(*static.values())
    ]
    start = time.perf_counter()  # the probe's compiles count
    per_config = None
    parts = _chunking.parts(mesh is not None, count)
    if chunk_size != "auto":  # no more than the configurations, a multiple of shards
        chunk_size = math.ceil(min(chunk_size, count) / shards) * shards
    else:  # the size a checkpointed sweep started with, or the probe's
        chunk_size = _ChunkStore.chunk_size_in(checkpoint_dir)
        if chunk_size is not None and chunk_size % shards:
            raise ValueError(
                f"`checkpoint_dir` holds chunks of {chunk_size} configurations, "
                f"which the mesh's {shards} devices cannot share equally: resume "
                f"without a mesh, or with a {MESH_AXIS!r} axis that divides "
                f"{chunk_size}."
            )
    if chunk_size is None:
        signature = tuple((name, values.dtype) for name, values in axes.items())
        per_config = max(  # the largest program sets the size of every chunk
            _working_set_per_config(
                train_fn, _cache_key(fixed), signature, count, seeds, mesh, parts
            )
            for fixed in combos
        )
        chunk_size = _same_on_every_process(
            _chunking.chunk_size(count, shards, per_config, _host_devices(mesh), parts)
        )
    if chunk_size % parts:  # (a size given as an argument) runs in one part
        parts = 1

    if len(combos) > 1:  # before any work: every program returns the same metrics
        (example, *_) = _chunk(axes, 0, chunk_size, count, mesh, parts)
        _same_metrics(train_fn, combos, example, keys, mesh)

    store = None
    if checkpoint_dir is not None:
        fingerprint = _fingerprint(train_fn, axes, static, seeds, chunk_size)
        store = _ChunkStore(checkpoint_dir, fingerprint, chunk_size)
    num_chunks = math.ceil(count / chunk_size)
    bar = _bar(progress, len(combos) * count)
    compiles = computed = 0
    rows = []
    for c, fixed in enumerate(combos):
        jitted = _jitted(train_fn, _cache_key(fixed))
        chunks = []
        for i in range(num_chunks):
            saved = store.load(c, i) if store else None
            if saved is None:
                before = jitted._cache_size()
                saved = _run_chunk(
                    jitted, _chunk(axes, i, chunk_size, count, mesh, parts), keys, mesh
                )
                compiles += jitted._cache_size() - before
                if store:
                    store.save(c, i, saved)
                computed += 1
            valid = min(chunk_size, count - i * chunk_size)
            chunks.append({k: v[:valid] for k, v in saved.items()})
            if bar:
                bar.update(valid)
                bar.set_postfix(
                    configs_per_s=f"{bar.n / (time.perf_counter() - start):.1f}"
                )
        rows.append({k: np.concatenate([ch[k] for ch in chunks]) for k in chunks[0]})
    if bar:
        bar.close()

    hp = {name: np.concatenate([values] * len(combos)) for name, values in axes.items()}
    for name in static:
        hp[name] = _column([fixed[name] for fixed in combos for _ in range(count)])
    metrics = {k: np.concatenate([m[k] for m in rows]) for k in rows[0]}
    diverged = np.zeros(next(iter(metrics.values())).shape[:2], bool)
    for values in metrics.values():
        finite = np.isfinite(values.reshape(values.shape[:2] + (-1,))).all(axis=-1)
        diverged |= ~finite
    seconds = time.perf_counter() - start
    stats = {
        "runs": int(diverged.size),
        "seconds": seconds,
        "compiles": compiles,
        "chunks_computed": computed,
        "chunks_loaded": len(combos) * num_chunks - computed,
        "chunk_size": chunk_size,
        "parts_per_chunk": parts,
        "working_set_per_config": per_config,
    }
    return SweepResult(hp, metrics, diverged, stats)


def _same_metrics(train_fn, combos, chunk, keys, mesh) -> None:
    """Raises ``ValueError`` unless every static combination's program returns
    metrics of the same names and shapes (their rows are stacked; dtypes
    promote)."""
    first = None
    for fixed in combos:
        with _current(mesh):
            shapes = jax.eval_shape(_jitted(train_fn, _cache_key(fixed)), chunk, keys)
        metrics = {k: v.shape[2:] for k, v in shapes.items()}
        first = metrics if first is None else first
        for name in sorted(first.keys() | metrics.keys()):
            if first.get(name) != metrics.get(name):
                raise ValueError(
                    "Every static combination must return the same metrics: "
                    f"`{name}` is {_metric_kind(first, name)} with {combos[0]} and "
                    f"{_metric_kind(metrics, name)} with {fixed}."
                )


def _metric_kind(metrics: dict[str, tuple], name: str) -> str:
    return f"of shape {metrics[name]} per run" if name in metrics else "missing"


def _same_on_every_process(value: int) -> int:
    """Process 0's ``value`` on every process: the processes of one sweep must run
    the same chunks, even on hosts whose caches differ."""
    if jax.process_count() == 1:
        return value
    from jax.experimental import multihost_utils

    return int(multihost_utils.broadcast_one_to_all(np.int32(value)))


def _seed_keys(seeds: int) -> jax.Array:
    return jax.random.split(jax.random.key(0), seeds)


def _shards(mesh: jax.sharding.Mesh | None) -> int:
    return 1 if mesh is None else mesh.shape[MESH_AXIS]


def _host_devices(mesh: jax.sharding.Mesh | None) -> int:
    """The mesh's devices in this process (they run their shards at once)."""
    if mesh is None:
        return 1
    return sum(d.process_index == jax.process_index() for d in mesh.devices.flat)


def _bar(progress: bool, total: int):
    if not progress:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError as error:  # tqdm comes with the `examples` and `test` extras
        raise ImportError(
            "`progress=True` needs tqdm: `pip install tqdm`, or pass `progress=False`."
        ) from error
    return tqdm(total=total, desc="sweep", unit="config")


def _chunk(axes, index, chunk_size, count, mesh, parts=1):
    """Chunk ``index`` of every axis, padded by repeating the last configuration,
    as ``parts`` equal parts (a list of dicts)."""
    rows = np.minimum(
        np.arange(index * chunk_size, (index + 1) * chunk_size), count - 1
    )
    chunks = [
        {name: jnp.asarray(values[part]) for name, values in axes.items()}
        for part in np.split(rows, parts)
    ]
    if mesh is not None:
        sharding = jax.sharding.NamedSharding(
            mesh, jax.sharding.PartitionSpec(MESH_AXIS)
        )
        chunks = [jax.device_put(chunk, sharding) for chunk in chunks]
    return chunks


@functools.lru_cache(maxsize=64)
def _jitted(train_fn, fixed_items):
    """The compiled sweep of one (train_fn, static combination): vmap over the
    configurations of a chunk, then over the seeds. Cached (``fixed_items``:
    ``(name, typed value, value)`` triples), so a second sweep of the same shapes
    compiles nothing."""
    fixed = {name: value for name, _, value in fixed_items}

    def runs(chunk, keys):
        def one(hparams, key):
            return _flat_metrics(train_fn(hparams | fixed, key))

        return jax.vmap(lambda hp: jax.vmap(lambda k: one(hp, k))(keys))(chunk)

    return jax.jit(runs)


@functools.lru_cache(maxsize=64)
def _working_set_per_config(
    train_fn, fixed_items, signature, count, seeds, mesh, parts
):
    """The probe of ``chunk_size="auto"`` (see :mod:`jaxsched._chunking`) for one
    program and sweep shape (``signature``: the axes' names and dtypes),
    remembered, so that a second sweep of the same shapes traces nothing."""
    jitted = _jitted(train_fn, fixed_items)
    axes = {name: np.zeros(count, dtype) for name, dtype in signature}

    def compile_chunk(size):
        (chunk,) = _chunk(axes, 0, size, count, mesh)
        with _current(mesh):
            return jitted.lower(chunk, _seed_keys(seeds)).compile()

    return _chunking.working_set_per_config(compile_chunk, count, _shards(mesh), parts)


def _run_chunk(jitted, parts, keys, mesh):
    """The metrics of a chunk's ``parts``, run at once, on the host.

    The program is compiled here, under the caller's JAX settings (x64), and the
    parts after the first start in threads of their own through it (a thread
    does not see those settings, so it must not trace); then the first runs
    from this thread through ``jitted``, which counts it in its cache. (Several
    parts run only without a mesh.)
    """
    if len(parts) == 1:
        with _current(mesh):
            return _metrics_to_host(jitted(parts[0], keys))
    compiled = jitted.lower(parts[0], keys).compile()  # jitted's, compiled once

    def run(part):
        return _metrics_to_host(compiled(part, keys))

    with ThreadPoolExecutor(len(parts) - 1) as pool:
        running = [pool.submit(run, part) for part in parts[1:]]  # first: they
        results = [_metrics_to_host(jitted(parts[0], keys))]  # run with this one
        results += [r.result() for r in running]
    return {k: np.concatenate([r[k] for r in results]) for k in results[0]}


def _metrics_to_host(metrics: dict[str, jax.Array]) -> dict[str, np.ndarray]:
    return {k: _to_host(v) for k, v in metrics.items()}


def _current(mesh: jax.sharding.Mesh | None):
    """``mesh`` as the current mesh while a chunk is traced and run, whatever
    mesh the caller has set."""
    return contextlib.nullcontext() if mesh is None else jax.set_mesh(mesh)


def _auto(mesh: jax.sharding.Mesh) -> jax.sharding.Mesh:
    """The mesh with ``Auto`` axes. Under ``Explicit`` ones (``jax.make_mesh``'s
    default) JAX cannot vmap a ``scan`` whose carry starts the same for every
    configuration (a loss accumulator at 0): "Resource axis: configs ... is not
    found in mesh"."""
    auto = (jax.sharding.AxisType.Auto,) * len(mesh.axis_names)
    return jax.sharding.Mesh(mesh.devices, mesh.axis_names, axis_types=auto)


def _to_host(array: jax.Array) -> np.ndarray:
    """The whole array on this host, gathered from the other processes if sharded
    over several (after ``jax.distributed.initialize``)."""
    if array.is_fully_addressable:
        return np.asarray(array)
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(array, tiled=True))


class _ChunkStore:
    """Finished chunks on disk, guarded by a fingerprint of the sweep."""

    MANIFEST = "sweep.json"
    FINGERPRINT = "fingerprint"  # in each chunk too: a lost manifest mixes nothing

    def __init__(self, directory, fingerprint, chunk_size):
        self.fingerprint = fingerprint
        self.dir = pathlib.Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        manifest = self.dir / self.MANIFEST
        chunks = _finished_chunks(self.dir)
        if chunks:  # the manifest's fingerprint, or a chunk's if it was lost
            if manifest.exists():
                found = _read_manifest(manifest).get("fingerprint")
            else:
                found = _read_chunk(chunks[0]).get(self.FINGERPRINT)
            if found != fingerprint:
                raise ValueError(
                    f"`checkpoint_dir={str(directory)!r}` holds chunks of a different "
                    "sweep (another grid, static axes, seeds, chunk size or train "
                    "function): use a new directory, or delete this one to start over."
                )
        if not chunks or not manifest.exists():  # new, or no chunk finished
            content = {"fingerprint": fingerprint, "chunk_size": int(chunk_size)}
            tmp = _own_tmp(manifest)
            tmp.write_text(json.dumps(content))
            tmp.replace(manifest)

    @classmethod
    def chunk_size_in(cls, directory) -> int | None:
        """The chunk size a checkpointed sweep started with, if it finished a
        chunk (a directory whose sweep never did is taken over)."""
        if directory is None:
            return None
        directory = pathlib.Path(directory)
        manifest = directory / cls.MANIFEST
        if not manifest.exists() or not _finished_chunks(directory):
            return None
        return _read_manifest(manifest).get("chunk_size")

    def _path(self, combo, index):
        return self.dir / f"chunk-{combo:03d}-{index:05d}.npz"

    def load(self, combo, index):
        path = self._path(combo, index)
        if not path.exists():
            return None
        arrays = _read_chunk(path)
        if arrays.pop(self.FINGERPRINT, None) != self.fingerprint:
            raise ValueError(
                f"{str(path)!r} is a chunk of a different sweep than the one its "
                f"directory's {self.MANIFEST} names: use a new directory, or "
                "delete this one to start over."
            )
        return {k.removeprefix("metrics/"): v for k, v in arrays.items()}

    def save(self, combo, index, metrics):
        path = self._path(combo, index)
        tmp = _own_tmp(path)
        # prefixed: a metric named `file` or `allow_pickle` is not np.savez's
        arrays = {f"metrics/{k}": v for k, v in metrics.items()}
        _save_arrays(tmp, arrays | {self.FINGERPRINT: np.asarray(self.fingerprint)})
        tmp.replace(path)  # atomic: a killed sweep never leaves half a chunk


def _finished_chunks(directory: pathlib.Path) -> list[pathlib.Path]:
    """The chunk files in ``directory``, not the temporary ones of a save."""
    return sorted(p for p in directory.glob("chunk-*.npz") if ".tmp" not in p.name)


def _own_tmp(path: pathlib.Path) -> pathlib.Path:
    """A temporary name for ``path`` that no other process of the sweep writes:
    each process of a multi-host sweep writes the same file, and renames its own
    copy over it."""
    tmp = f"{path.stem}.tmp-{jax.process_index()}-{os.getpid()}{path.suffix}"
    return path.with_name(tmp)


def _read_manifest(path: pathlib.Path) -> dict[str, Any]:
    try:
        content = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise _unreadable(path, error) from error
    if not isinstance(content, dict):
        raise _unreadable(path, TypeError("not a JSON object"))
    return content


def _read_chunk(path: pathlib.Path) -> dict[str, np.ndarray]:
    try:
        return _load_arrays(path)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise _unreadable(path, error) from error


def _unreadable(path: pathlib.Path, error: Exception) -> ValueError:
    return ValueError(
        f"{str(path)!r} cannot be read ({error!r}): delete it to compute its "
        "chunks again, or use a new `checkpoint_dir`."
    )
