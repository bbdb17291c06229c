"""The shared-coefficient driver: K GLMs whose coefficients are partly common (flexmix's
``FLXMRglmfix``, Stata's ``lcinvariant``).

The design holds every column once: those whose coefficients vary by component, the
*fixed* ones (one coefficient common to all components) and the *nested* ones (one
coefficient per group of components; a component outside a group has coefficient 0 on
that group's columns). Parameters are :class:`SharedParams`: the full coefficient matrix
(K, p), whose shared entries are equal, so every pass over the rows is the GLM driver's;
``group`` remembers each component's nested group through reorderings and drops.

The M-step is the weighted GLM on the stacked design (n K rows) that flexmix fits, solved
through its block structure: the kernels give every component's weighted Gram matrix and
right-hand side on the one design in one pass, and :meth:`SharedGLMComponents._solve`
adds them into the joint normal equations of the free coefficients. Step-halving on the
summed objective keeps the M-step monotone; without a dispersion the check of the last
step is the next E-step (the fused pass), as for the GLM driver. The steps read their sums
through a :class:`JointPasses` (the rows in memory, :class:`RowPasses`; partitions on a
cluster), so every data backend takes the same decisions.

Everything here works on NumPy arrays only.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

from emglm.components import irls, kernels
from emglm.components.base import NextEStep
from emglm.components.glm import GLMComponents, GLMParams
from emglm.data.arrays import MixtureData
from emglm.families import Family

Array = NDArray[np.float64]
Linearisation = tuple[Array, Array, Array]
#: What a fused check pass hands back beside the objective (the next E-step, in memory).
Fused = TypeVar("Fused", covariant=True)

# As the GLM driver's IRLS (emglm.components.irls).
_MAX_HALVINGS = 30
_ROUNDING = 1e-12
_COLD_ITER = 50
_FAR_GAIN = 1e-2


@dataclass(frozen=True)
class SharedParams(GLMParams):
    """Parameters of K GLMs with shared coefficients.

    Attributes
    ----------
    coef : (K, p) coefficients on the full design (shared entries equal).
    scale : (K,) dispersions (all equal with a common dispersion).
    group : (K,) nested group of each component (0 without nested groups).
    """

    group: NDArray[np.intp]


@dataclass(frozen=True)
class Sharing:
    """Which design columns are shared: ``varying`` (one coefficient per component),
    ``fixed`` (one for all), ``nested`` (for each group, the columns its components
    share), the nested group ``sizes`` (adding up to K) and ``equal_scale`` (one
    dispersion for all components)."""

    varying: tuple[int, ...]
    fixed: tuple[int, ...] = ()
    nested: tuple[tuple[int, ...], ...] = ()
    sizes: tuple[int, ...] = ()
    equal_scale: bool = False


class JointPasses(Protocol[Fused]):
    """The sums over rows that the joint IRLS steps ask for, each at candidate coefficients
    (K, p) with the M-step's weights and dispersions held fixed: from the kernels in
    memory (:class:`RowPasses`), from passes over partitions on a cluster
    (:mod:`emglm.cluster.shared_steps`). The steps' decisions
    (:meth:`SharedGLMComponents._coef_steps`) are the same for both."""

    def linearise(self, coef: Array) -> Linearisation:
        """Every component's IRLS Gram matrix (K, p, p), right-hand side (K, p) and
        weighted log-likelihood (K,) at ``coef``."""
        ...

    def objective(self, coef: Array) -> Array:
        """Every component's weighted log-likelihood (K,) at ``coef``."""
        ...

    def objective_and_e_step(self, coef: Array) -> tuple[Array, Fused]:
        """:meth:`objective` and, from the same pass, the next E-step at ``coef``."""
        ...


@dataclass(frozen=True)
class RowPasses:
    """:class:`JointPasses` over the rows in memory (``next_estep``: the E-step a fused
    check computes)."""

    cd: irls.ComponentData
    family: Family
    wtau: Array
    scale: Array
    next_estep: NextEStep | None = None

    def linearise(self, coef: Array) -> Linearisation:
        cd = self.cd
        return kernels.irls_normal_equations(
            cd.X, cd.y, cd.pass_offset, cd.pass_trials, cd.loglik_constant(self.family),
            self.family, self.wtau, coef, self.scale, ones_col=cd.ones_col,
        )  # fmt: skip

    def objective(self, coef: Array) -> Array:
        cd = self.cd
        return kernels.weighted_loglik(
            cd.X, cd.y, cd.pass_offset, cd.pass_trials, cd.loglik_constant(self.family),
            self.family, self.wtau, coef, self.scale,
        )  # fmt: skip

    def objective_and_e_step(self, coef: Array) -> tuple[Array, kernels.EStepPass]:
        cd, fuse = self.cd, self.next_estep
        assert fuse is not None
        fused = kernels.e_step_pass(
            cd.X, cd.y, cd.pass_offset, cd.pass_trials, cd.loglik_constant(self.family),
            fuse.weights, self.family, coef, self.scale, fuse.log_prior,
            check_weights=self.wtau, linearise=fuse.linearise, ones_col=cd.ones_col,
        )  # fmt: skip
        assert fused.check is not None
        return fused.check, fused


@dataclass(frozen=True)
class SharedGLMComponents(GLMComponents):
    """K GLMs of one ``family`` on the design ``x_names`` with the coefficients that
    ``sharing`` names shared.

    Examples
    --------
    >>> from emglm.families import get_family
    >>> drv = SharedGLMComponents(get_family("poisson"), ["Intercept", "x", "z"],
    ...                           Sharing(varying=(0, 1), fixed=(2,)))
    >>> drv.n_params(3), drv.param_names(2)[-1]
    (7, ('shared', 'z'))
    """

    sharing: Sharing = Sharing(varying=())

    def check_n_components(self, n_comp: int) -> str | None:
        """Why ``n_comp`` components do not fit the nested groups, or ``None``."""
        sizes = self.sharing.sizes
        if sizes and sum(sizes) != n_comp:
            text = " + ".join(map(str, sizes))
            return (
                f"the nested group sizes {text} = {sum(sizes)} do not add up to K={n_comp}; "
                "every component belongs to exactly one nested group"
            )
        return None

    # --- layout of the free parameters -----------------------------------------------------
    def default_groups(self, n_comp: int) -> NDArray[np.intp]:
        """Nested group of each component in the given order (0 without groups)."""
        if not self.sharing.sizes:
            return np.zeros(n_comp, dtype=np.intp)
        return np.repeat(np.arange(len(self.sharing.sizes)), self.sharing.sizes)[:n_comp]

    @property
    def own_scale(self) -> bool:
        """Whether every component has a dispersion of its own."""
        return self.family.has_scale and not self.sharing.equal_scale

    def _shared_offsets(self, n_comp: int) -> tuple[int, list[int], int]:
        """Where the fixed coefficients, each nested group's and the common dispersion
        start in :meth:`pack`'s vector, and its length."""
        sh = self.sharing
        start = n_comp * (len(sh.varying) + (1 if self.own_scale else 0))
        at = start + len(sh.fixed)
        groups = []
        for cols in sh.nested:
            groups.append(at)
            at += len(cols)
        total = at + (1 if self.family.has_scale and sh.equal_scale else 0)
        return start, groups, total

    def positions(self, n_comp: int, group: NDArray[np.intp]) -> tuple[NDArray[np.intp], ...]:
        """Where each entry of the (K, p) coefficients and each component's free
        dispersion sit in :meth:`pack`'s vector: ``(coef_pos (K, p), scale_pos (K,))``, -1
        for a structural zero (a nested column outside the component's group) or no
        dispersion."""
        sh, p = self.sharing, len(self.x_names)
        fixed_at, group_at, total = self._shared_offsets(n_comp)
        per = len(sh.varying) + (1 if self.own_scale else 0)
        coef_pos = np.full((n_comp, p), -1, dtype=np.intp)
        scale_pos = np.full(n_comp, -1, dtype=np.intp)
        for k in range(n_comp):
            coef_pos[k, list(sh.varying)] = k * per + np.arange(len(sh.varying))
            coef_pos[k, list(sh.fixed)] = fixed_at + np.arange(len(sh.fixed))
            if sh.nested:
                g = int(group[k])
                coef_pos[k, list(sh.nested[g])] = group_at[g] + np.arange(len(sh.nested[g]))
            if self.own_scale:
                scale_pos[k] = k * per + len(sh.varying)
            elif self.family.has_scale:
                scale_pos[k] = total - 1
        return coef_pos, scale_pos

    def n_params(self, n_comp: int) -> int:
        """Each shared parameter counted once (flexmix's ``df``)."""
        return self._shared_offsets(n_comp)[2]

    def min_weight(self, data: MixtureData) -> float:
        """A component needs as much weight as it has parameters of its own (at least 1)."""
        return self.needed_weight()

    def needed_weight(self) -> float:
        """:meth:`min_weight`, which depends on no data."""
        return float(max(1, len(self.sharing.varying) + (1 if self.own_scale else 0)))

    def param_names(self, n_comp: int) -> list[tuple[str, str]]:
        """Per component its varying coefficients and dispersion; then ``("shared",
        term)`` for the fixed terms, ``("group<g>", term)`` for nested group g's, and
        ``("shared", <free dispersion>)`` for a common dispersion."""
        sh, names = self.sharing, list(self.x_names)
        free = self.family.free_dispersion_name
        out: list[tuple[str, str]] = []
        for k in range(n_comp):
            out += [(f"comp{k + 1}", names[j]) for j in sh.varying]
            if self.own_scale:
                out.append((f"comp{k + 1}", free))
        out += [("shared", names[j]) for j in sh.fixed]
        for g, cols in enumerate(sh.nested):
            out += [(f"group{g + 1}", names[j]) for j in cols]
        if self.family.has_scale and sh.equal_scale:
            out.append(("shared", free))
        return out

    def pack(self, params: GLMParams) -> Array:
        """Varying coefficients and own dispersion of each component, then the fixed
        coefficients, each nested group's, and the common dispersion."""
        n_comp = self.n_components(params)
        coef_pos, scale_pos = self.positions(n_comp, self.groups_of(params))
        vec = np.zeros(self.n_params(n_comp))
        used = coef_pos >= 0
        vec[coef_pos[used]] = params.coef[used]
        if self.family.has_scale:
            vec[scale_pos] = self.family.free_dispersion(params.scale)
        return vec

    def unpack(self, data: MixtureData, vec: Array, like: GLMParams) -> SharedParams:
        """Inverse of :meth:`pack`; dispersions at least :meth:`scale_floor`."""
        return self.unpack_above(vec, like, self.scale_floor(data))

    def unpack_above(self, vec: Array, like: GLMParams, floor: float) -> SharedParams:
        """:meth:`unpack` with dispersions at least ``floor`` (no data needed)."""
        vec = np.asarray(vec, dtype=float)
        n_comp = self.n_components(like)
        group = self.groups_of(like)
        coef_pos, scale_pos = self.positions(n_comp, group)
        coef = np.where(coef_pos >= 0, vec[np.maximum(coef_pos, 0)], 0.0)
        scale = np.ones(n_comp)
        if self.family.has_scale:
            free = vec[scale_pos]
            scale = np.maximum(self.family.dispersion_from_free(free), floor)
        return SharedParams(coef, np.asarray(scale, dtype=float), group)

    def groups_of(self, params: GLMParams) -> NDArray[np.intp]:
        """The nested group of each component of ``params``."""
        if isinstance(params, SharedParams):
            return params.group
        return self.default_groups(self.n_components(params))

    def take(self, params: GLMParams, keep: NDArray[np.bool_] | NDArray[np.intp]) -> SharedParams:
        """The kept (boolean mask) or reordered (indices) components, with their groups."""
        return SharedParams(params.coef[keep], params.scale[keep], self.groups_of(params)[keep])

    def _jacobian(self, params: GLMParams) -> Array:
        """d (GLM driver's packed parameters) / d (:meth:`pack`'s): a 0/1 matrix."""
        n_comp, p = params.coef.shape
        coef_pos, scale_pos = self.positions(n_comp, self.groups_of(params))
        per = self.per_component(p)
        jac = np.zeros((n_comp * per, self.n_params(n_comp)))
        for k in range(n_comp):
            cols = np.flatnonzero(coef_pos[k] >= 0)
            jac[k * per + cols, coef_pos[k, cols]] = 1.0
            if self.family.has_scale:
                jac[k * per + p, scale_pos[k]] = 1.0
        return jac

    def louis_pieces(self, data: MixtureData, params: GLMParams, tau: Array) -> tuple[Array, Array]:
        """The GLM driver's complete-data scores and Hessian, carried to the shared
        parameters by the chain rule (the map is linear, so this is exact)."""
        scores, neg_hess = super().louis_pieces(data, GLMParams(params.coef, params.scale), tau)
        jac = self._jacobian(params)
        return scores @ jac, jac.T @ neg_hess @ jac

    # --- starts ----------------------------------------------------------------------------
    def project(
        self, coef: Array, scale: Array, weight: Array, group: NDArray[np.intp]
    ) -> SharedParams:
        """The nearest parameters that obey the sharing: each shared coefficient the mean
        of the components' values weighted by ``weight`` (K,), structural zeros set, a
        common dispersion the weighted mean."""
        n_comp = coef.shape[0]
        coef_pos, _ = self.positions(n_comp, group)
        size = self.n_params(n_comp)
        w = np.broadcast_to(np.maximum(weight, 1e-12)[:, None], coef.shape)
        used = coef_pos >= 0
        num = np.bincount(coef_pos[used], weights=(w * coef)[used], minlength=size)
        den = np.bincount(coef_pos[used], weights=w[used], minlength=size)
        mean = num / np.where(den > 0, den, 1.0)
        new = np.where(used, mean[np.maximum(coef_pos, 0)], 0.0)
        scale = np.asarray(scale, dtype=float)
        if self.family.has_scale and self.sharing.equal_scale:
            scale = np.full(n_comp, float(np.average(scale, weights=w[:, 0])))
        return SharedParams(new, scale.copy(), group)

    def from_coef(self, data: MixtureData, coef: Array) -> SharedParams:
        """Bare coefficients (K, p) made to obey the sharing (equal weights), with the GLM
        driver's starting dispersions."""
        start = super().from_coef(data, coef)
        n_comp = coef.shape[0]
        return self.project(start.coef, start.scale, np.ones(n_comp), self.default_groups(n_comp))

    def random_start(
        self, method: str, data: MixtureData, n_comp: int, rng: np.random.Generator
    ) -> SharedParams | Array:
        """The GLM driver's starts, made to obey the sharing."""
        start = super().random_start(method, data, n_comp, rng)
        return self.from_coef(data, start.coef) if isinstance(start, GLMParams) else start

    def check_params(self, params: GLMParams, n_comp: int, p: int) -> str | None:
        """What is wrong with user-given parameters, or ``None``."""
        if not isinstance(params, SharedParams):
            return "start holds parameters of a mixture without shared coefficients"
        problem = super().check_params(params, n_comp, p)
        if problem is None:
            ok = self.project(params.coef, params.scale, np.ones(n_comp), params.group)
            if not np.allclose(ok.coef, params.coef) or not np.allclose(ok.scale, params.scale):
                problem = "start.coef does not obey the shared coefficients"
        return problem

    # --- M-steps ---------------------------------------------------------------------------
    def m_step_cold(self, data: MixtureData, wtau: Array) -> SharedParams:
        """Each component's GLM fitted alone, made to obey the sharing (weighted by the
        components' weights), then joint IRLS steps to convergence."""
        free = super().m_step_cold(data, wtau)
        n_comp = wtau.shape[1]
        start = self.project(
            free.coef, free.scale, kernels.column_sums(wtau), self.default_groups(n_comp)
        )
        params, _ = self._m_step(data, wtau, start, None, None, _COLD_ITER)
        return params

    def m_step(
        self,
        data: MixtureData,
        wtau: Array,
        params: GLMParams,
        next_estep: NextEStep | None,
        first: object,
        m_step_iter: int,
    ) -> tuple[SharedParams, kernels.EStepPass | None]:
        """``m_step_iter`` joint IRLS steps (more while far from the optimum), then the
        dispersions; the E-step at the new coefficients comes back when the last step's
        check was a full E-step pass."""
        lin = getattr(first, "linearisation", None)
        shared = (
            params
            if isinstance(params, SharedParams)
            else SharedParams(params.coef, params.scale, self.groups_of(params))
        )
        return self._m_step(data, wtau, shared, next_estep, lin, m_step_iter)

    def _m_step(
        self,
        data: MixtureData,
        wtau: Array,
        params: SharedParams,
        next_estep: NextEStep | None,
        lin: Linearisation | None,
        m_step_iter: int,
    ) -> tuple[SharedParams, kernels.EStepPass | None]:
        cd, fam = self.component_data(data), self.family
        active = kernels.column_sums(wtau) > 0
        fuse = next_estep is not None and irls.shares_passes(fam) and bool(active.all())
        fused: kernels.EStepPass | None = None
        if fam.least_squares:  # closed form (Gaussian with the identity link)
            grams, rhs = kernels.least_squares_equations(
                cd.X, cd.y, cd.pass_offset, cd.pass_trials, wtau, cd.ones_col
            )
            coef = self._solve(grams, rhs, params, active)
        else:
            passes = RowPasses(cd, fam, wtau, params.scale, next_estep if fuse else None)
            coef, fused = self._coef_steps(passes, params, active, m_step_iter, fuse, lin)
        scale = params.scale
        if self.family.has_scale:
            scale = self._update_scale(data, wtau, coef, params.scale, active)
        scale = np.maximum(scale, self.scale_floor(data))
        return SharedParams(coef, np.asarray(scale, dtype=float), params.group), fused

    @cached_property
    def _scale_free_factors(self) -> bool:
        """Whether the family's IRLS factors leave out the dispersion (exponential
        dispersion families: the log-likelihood's coefficient terms are divided by it)."""
        fam = self.family
        if not fam.has_scale:
            return False
        eta = np.array([0.3, 0.7])
        mu = fam.linkinv(eta)
        a1, _ = fam.irls_factors(eta, mu, 1.0)
        a2, _ = fam.irls_factors(eta, mu, 2.0)
        return bool(np.allclose(a1, a2))

    def _solve(
        self, grams: Array, rhs: Array, params: SharedParams, active: NDArray[np.bool_]
    ) -> Array:
        """The joint normal equations of the free coefficients from each component's
        ``grams`` (K, p, p) and ``rhs`` (K, p), solved; coefficients no active component
        informs keep their values. Returns the new (K, p) coefficients."""
        n_comp = grams.shape[0]
        coef_pos, _ = self.positions(n_comp, params.group)
        size = self.n_params(n_comp)
        G = np.zeros((size, size))
        r = np.zeros(size)
        if self._scale_free_factors:  # component k's terms carry 1 / dispersion_k
            prec = 1.0 / params.scale
            grams, rhs = grams * prec[:, None, None], rhs * prec[:, None]
        for k in np.flatnonzero(active):
            cols = np.flatnonzero(coef_pos[k] >= 0)
            pos = coef_pos[k, cols]
            G[np.ix_(pos, pos)] += grams[k][np.ix_(cols, cols)]
            r[pos] += rhs[k][cols]
        current = np.zeros(size)
        used = coef_pos >= 0
        current[coef_pos[used]] = params.coef[used]
        free = np.unique(coef_pos[active][coef_pos[active] >= 0])
        current[free] = irls.solve_normal(G[np.ix_(free, free)], r[free])
        return np.where(used, current[np.maximum(coef_pos, 0)], 0.0)

    def _coef_steps(
        self,
        passes: JointPasses[Fused],
        params: SharedParams,
        active: NDArray[np.bool_],
        m_step_iter: int,
        fuse: bool,
        lin: Linearisation | None,
    ) -> tuple[Array, Fused | None]:
        """Monotone joint IRLS steps from ``params`` on the sums ``passes`` gives; with
        ``fuse``, a step that may be the last checks its proposal with the next E-step's
        pass, which comes back when it was the last step and its full step was taken.
        ``lin`` is the linearisation at ``params`` when it is already known."""
        coef, scale = np.array(params.coef, dtype=float), params.scale
        fused: Fused | None = None
        for step in range(1, max(m_step_iter, _COLD_ITER) + 1):
            if lin is None:
                lin = passes.linearise(coef)
            grams, rhs, objective = lin
            total = float(objective.sum())
            proposal = self._solve(grams, rhs, SharedParams(coef, scale, params.group), active)
            last = fuse and step >= m_step_iter
            ahead = not last and step < m_step_iter
            delta = proposal - coef
            # The gain the joint quadratic model predicts (as in the GLM driver's IRLS).
            per_comp = np.einsum("ki,kij,kj->k", delta, grams, delta)
            if self._scale_free_factors:
                per_comp = per_comp / scale
            predicted = 0.5 * float(per_comp.sum())
            settled = predicted <= _ROUNDING * (abs(total) + 1.0)
            coef, gained, fused, lin = self._halve(
                passes, coef, proposal, total, last, ahead, settled
            )
            size = abs(total) + 1.0
            if gained <= (1e-10 if step < m_step_iter else _FAR_GAIN) * size:
                break
            fused = None  # another step follows: this E-step is stale
        return coef, fused

    def _halve(
        self,
        passes: JointPasses[Fused],
        coef: Array,
        proposal: Array,
        total: float,
        fuse: bool,
        ahead: bool,
        settled: bool,
    ) -> tuple[Array, float, Fused | None, Linearisation | None]:
        """Step-halving on the summed objective: the first of proposal, half-step, ...
        that does not lower it, or stay put. The full step's check is the E-step pass
        (``fuse``) or the next linearisation (``ahead``) when asked; they come back when
        the full step is taken."""
        step = proposal - coef
        for halving in range(_MAX_HALVINGS):
            cand = coef + step
            fused: Fused | None = None
            lin: Linearisation | None = None
            if halving == 0 and fuse:
                check, fused = passes.objective_and_e_step(cand)
                obj = float(check.sum())
            elif halving == 0 and ahead:
                lin = passes.linearise(cand)
                obj = float(lin[2].sum())
            else:
                obj = float(passes.objective(cand).sum())
            if np.isfinite(obj) and obj >= total:
                return cand, obj - total, fused, lin
            if halving == 0 and settled:
                break
            step *= 0.5
        return coef, 0.0, None, None

    def _update_scale(
        self, data: MixtureData, wtau: Array, coef: Array, scale: Array, active: NDArray[np.bool_]
    ) -> Array:
        """Each component's dispersion (the GLM driver's update), or the common one: the
        ML value over all components' weighted rows."""
        cd, fam = self.component_data(data), self.family
        if fam.dispersion_is_mean_square:
            rss = kernels.weighted_rss(cd.X, cd.y, cd.pass_offset, cd.pass_trials, fam, wtau, coef)
            return self.mean_square_scale(
                rss, kernels.column_sums(wtau), float(wtau.sum()), scale, active
            )
        if not self.sharing.equal_scale:
            return irls._update_scale(cd, fam, wtau, coef, scale, active)
        n_comp = coef.shape[0]
        mu = fam.linkinv(data.linear_predictor(coef))
        value = fam.update_dispersion(
            np.tile(cd.y, n_comp),
            mu.ravel(order="F"),
            np.asarray(wtau).ravel(order="F"),
            np.tile(cd.trials, n_comp),
            float(scale[0]),
        )
        return np.full(n_comp, value)

    def mean_square_scale(
        self, rss: Array, mass: Array, total: float, scale: Array, active: NDArray[np.bool_]
    ) -> Array:
        """The dispersions of a mean-square family (the Gaussian variance) from every
        component's weighted residual sum of squares ``rss`` and weight ``mass``: each
        component's ``rss_k / mass_k`` (kept where it has no weight), or with a common
        dispersion ``sum_k rss_k / total`` (the total weight)."""
        if self.sharing.equal_scale:
            return np.full(rss.shape[0], float(rss.sum() / total))
        return np.where(active, rss / np.where(active, mass, 1.0), scale)

    # --- what the report shows -------------------------------------------------------------
    def shared_blocks(self, params: GLMParams) -> list[tuple[str, tuple[int, ...], int]]:
        """The summary's tables of shared terms: ``(title, design columns, a component
        that has them)`` for the fixed terms and each nested group with terms."""
        out: list[tuple[str, tuple[int, ...], int]] = []
        if self.sharing.fixed:
            out.append(("Shared by all components", self.sharing.fixed, 0))
        group = self.groups_of(params)
        for g, cols in enumerate(self.sharing.nested):
            members = np.flatnonzero(group == g)
            if cols and members.size:
                names = ", ".join(f"comp{k + 1}" for k in members)
                out.append((f"Shared by nested group {g + 1} ({names})", cols, int(members[0])))
        return out
