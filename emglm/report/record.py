"""What a results object knows of its fit: a small, explicit record.

The results read the fit through :class:`FitRecord` only (never through the model
object that produced it): the data handle, the fitted mixture model (component driver and
mixing model), the design (names, and how to rebuild it on new data), the fitted rows'
index and the number of components asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from emglm.components.glm import GLMComponents, GLMParams
from emglm.components.multi import MultiResponseComponents
from emglm.components.zero_inflated import ZeroInflatedComponents
from emglm.data.arrays import MixtureData
from emglm.data.formula import Design
from emglm.engine.em import EMOptions, MixtureModel
from emglm.families import Family


@dataclass(frozen=True)
class ResponseView:
    """One response of a fit: its name, the prefix of its parameter labels (empty for a
    single response), family, design, data, GLM driver and fitted GLM parameters."""

    name: str
    prefix: str
    family: Family
    design: Design
    data: MixtureData
    glm: GLMComponents
    params: GLMParams


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
    designs : the design of every response (one unless several share the latent class).
    em_options : the settings of the fit's long EM run (bootstrap replicates rerun it).
    """

    data: MixtureData
    mixture: MixtureModel
    design: Design
    row_index: pd.Index
    n_dropped: int
    n_requested: int
    designs: tuple[Design, ...] = ()
    em_options: EMOptions | None = None

    @property
    def several(self) -> bool:
        """Whether several responses share the latent class."""
        return isinstance(self.mixture.components, MultiResponseComponents)

    def views(self, params: Any) -> list[ResponseView]:
        """Every response of the fit with its part of the component parameters."""
        comps = self.mixture.components
        if isinstance(comps, MultiResponseComponents):
            return [
                ResponseView(name, f"{name}:", glm.family, design, self.data.response(r), glm,
                             params.parts[r])
                for r, (name, glm, design) in enumerate(
                    zip(comps.names, comps.parts, self.designs, strict=True)
                )
            ]  # fmt: skip
        if isinstance(comps, ZeroInflatedComponents):  # the GLM components beside the point mass
            comps, params = comps.glm, params.glm
        assert isinstance(comps, GLMComponents)
        return [
            ResponseView(self.design.response_name, "", comps.family, self.design, self.data,
                         comps, params)
        ]  # fmt: skip

    @property
    def family(self) -> Family:
        """The components' family (the first response's, with several)."""
        comps = self.mixture.components
        if isinstance(comps, MultiResponseComponents):
            return comps.parts[0].family
        assert isinstance(comps, (GLMComponents, ZeroInflatedComponents))
        return comps.family

    @property
    def x_names(self) -> list[str]:
        """Names of the design columns."""
        return self.design.x_names

    @property
    def z_names(self) -> list[str]:
        """Names of the concomitant design columns."""
        return self.design.z_names
