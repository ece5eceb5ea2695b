"""storyc: a sprint and its tasks.json into a doit task graph and an orchestration plan."""

# The one place the version is written: pyproject.toml reads it from here
# (importlib.metadata would cost every `storyc` start 20 ms).
__version__ = "0.2.0"

__all__ = ["__version__"]
