"""Extrapolation of the 10 strongest Fourier components of each coordinate.

Gilpin 2023 grid: none (no hyperparameters tuned). Citation: darts' FFT forecaster (Herzen
et al., JMLR 2022).
"""

from __future__ import annotations

from typing import Any, ClassVar

from dsrbench.methods._darts import PerCoordinateDarts


class FFT(PerCoordinateDarts):
    """Extrapolation of the 10 strongest Fourier components of each coordinate."""

    name = "fft"
    label = "FFT"
    color = "#525252"
    darts_class = "FFT"
    citation = "darts' FFT forecaster (Herzen et al., JMLR 2022)"
    hyperparameters: ClassVar[dict[str, Any]] = {"nr_freqs_to_keep": 10, "trend": None}
    quick_hyperparameters: ClassVar[dict[str, Any]] = {}
    grid: ClassVar[dict[str, list[Any]]] = {}
