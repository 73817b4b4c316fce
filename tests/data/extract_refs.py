"""Copies the reference values the tests use out of ../shared/reference.

Run from the repository root: ``python tests/data/extract_refs.py``. The tests
read only the files this writes (users who clone the project have no
``../shared``).
"""

import json
import pathlib

SHARED = pathlib.Path(__file__).resolve().parents[3] / "shared" / "reference"
HERE = pathlib.Path(__file__).resolve().parent


def main() -> None:
    refs = json.loads((SHARED / "torch_refs.json").read_text())
    schedules = {
        "meta": {
            "source": "shared/reference/torch_refs.json",
            "torch": refs["meta"]["torch"],
            "keras": refs["keras"]["keras_version"],
            "convention": "lr[k] is the value used by update k+1",
        },
        "torch": {
            c["name"]: {k: c[k] for k in ("spec", "base_lr", "lr")}
            | ({"momentum": c["momentum_or_beta1"]} if "momentum_or_beta1" in c else {})
            for c in refs["schedulers"]
            if c["spec"]["type"] != "ReduceLROnPlateau"
        },
        "katsura": [
            {"config": r["config"], "lr": r["lr_step"]} for r in refs["katsura"]["runs"]
        ],
        "keras": [
            {"schedule": s["schedule"], "kwargs": s["kwargs"], "lr": s["lr"]}
            for s in refs["keras"]["schedules"]
        ],
        "tf_yolov3": refs["keras"]["tf_yolov3_formula"],
    }
    (HERE / "schedule_refs.json").write_text(json.dumps(schedules, indent=1))
    optimizers = {
        "meta": {
            "source": "shared/reference/torch_refs.json",
            "torch": refs["meta"]["torch"],
            "convention": "params[t] after step t; lr_used[t] used by step t+1",
        },
        "problem": refs["problem"],
        "torch": [
            {k: c[k] for k in ("name", "optimizer", "kwargs", "lr_schedule", "params")}
            for c in refs["optimizers"]
        ],
        "ema_momentum": refs["ema_momentum"],
    }
    (HERE / "optimizer_refs.json").write_text(json.dumps(optimizers, indent=1))
    lr_finder = {"source": "shared/reference/torch_refs.json"} | refs["lr_finder"]
    (HERE / "lr_finder_refs.json").write_text(json.dumps(lr_finder, indent=1))
    seeds = json.loads((SHARED / "seed_examples.json").read_text())
    (HERE / "seed_examples.json").write_text(json.dumps(seeds, indent=1))


if __name__ == "__main__":
    main()
