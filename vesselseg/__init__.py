"""The library behind predict.py, measure.py and the training scripts.

`__version__` is the project's version, as pyproject.toml and CHANGELOG.md give it. The outputs
that a study keeps record it (an --images folder's settings.json and each manifest line, DRIVE
mode's metrics.json, a training run's config.json), so that every figure names the code that made
it.
"""

__version__ = "1.25.0"
