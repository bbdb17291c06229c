"""What a results object knows of its fit: a small, explicit record.

The results read the fit through :class:`FitRecord` only (never through the model
object that produced it): the data handle, the fitted mixture model (component driver and
mixing model), the design (names, and how to rebuild it on new data), the fitted rows'
index and the number of components asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from emglm.data.arrays import MixtureData
from emglm.data.formula import Design
from emglm.engine.em import MixtureModel
from emglm.families import Family


@dataclass(frozen=True, eq=False)
class FitRecord:
    """The inputs of one fit.

    Attributes
    ----------
    data : the solver inputs (:class:`~emglm.data.arrays.MixtureData`).
    mixture : the component and mixing models (:class:`~emglm.engine.em.MixtureModel`).
    design : the formula's design, to name parameters and rebuild the design on new data.
    row_index : index of the fitted rows in the caller's data.
    n_dropped : rows dropped because a used variable was missing.
    n_requested : components asked for (the fit may have fewer after drops).
    """

    data: MixtureData
    mixture: MixtureModel
    design: Design
    row_index: pd.Index
    n_dropped: int
    n_requested: int

    @property
    def family(self) -> Family:
        """The components' family."""
        family: Family = getattr(self.mixture.components, "family")  # noqa: B009
        return family

    @property
    def x_names(self) -> list[str]:
        """Names of the design columns."""
        return self.design.x_names

    @property
    def z_names(self) -> list[str]:
        """Names of the concomitant design columns."""
        return self.design.z_names
