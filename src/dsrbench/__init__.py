"""dsrbench: a reproducibility suite for learning chaotic dynamics."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "simulate"]


def __getattr__(name: str):
    # Lazy so that `import dsrbench` stays cheap (no numba compilation on import).
    if name == "simulate":
        from dsrbench.integration import simulate

        return simulate
    raise AttributeError(name)
