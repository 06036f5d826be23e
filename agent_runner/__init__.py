"""agent-runner: a sandboxed runtime for AI agents on Temporal (the Stigmer runner)."""

__version__ = "0.1.0"

__all__ = ["__version__"]
