"""The README's quickstart runs as written."""

import pathlib
import re

import matplotlib

matplotlib.use("Agg")

README = pathlib.Path(__file__).parents[1] / "README.md"


def test_readme_quickstart_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})


def test_readme_lists_every_schedule():
    import jaxsched as js

    text = README.read_text()
    for name in set(js.schedules.__all__) - {"Schedule"}:
        assert f"`{name}(" in text or f"`js.schedules.{name}(" in text, name
