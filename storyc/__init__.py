"""storyc: a sprint and its tasks.json into a doit task graph and an orchestration plan."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("storyc")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
