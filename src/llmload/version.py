"""The version of llmload (the package exposes it as llmload.__version__)."""

__version__ = "0.1.0"
