"""Residuals and the analytic sparse Jacobian of the joint score-frame problem.

Every observed (model, item) cell gives one residual ``S(θ_m) − y``, with the sigmoid of
:mod:`densing.sigmoid` in the parametrisation ``γ = −exp(log k)``, ``c = u (1 − d)``; θ of a
reference member is its law value, θ of any other model is free. Missing cells are absent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from densing.scoreframe._layout import ParamLayout
from densing.sigmoid import sigmoid_partials, sigmoid_value


def law_theta(x: np.ndarray, z: np.ndarray, alpha: float, bcoef: float, beta: float, wt: bool):
    """θ = e^(−α x) (+ B e^(−β z)) with x = ln(N/1e9), z = ln(D/1e12)."""
    th = np.exp(-alpha * x)
    if wt:
        th = th + bcoef * np.exp(-beta * z)
    return th


def item_scores(theta: np.ndarray, sig: np.ndarray) -> np.ndarray:
    """Scores for θ (any shape) × items (last axis); ``sig`` rows (l, logk, u, d)."""
    mid, logk, u, d = sig[:, 0], sig[:, 1], sig[:, 2], sig[:, 3]
    return sigmoid_value(theta[..., None], u * (1.0 - d), d, -np.exp(logk), mid)


@dataclass(frozen=True)
class Cells:
    """The observed cells of a problem and the indexing the kernels need."""

    layout: ParamLayout
    rows: np.ndarray
    cols: np.ndarray
    y: np.ndarray
    is_ref: np.ndarray  # per cell: its row is a reference member
    free_pos: np.ndarray  # per cell: position of its θ among the free θ (-1: reference)
    x: np.ndarray  # per cell ln(N/1e9) of its row
    z: np.ndarray  # per cell ln(D/1e12) of its row
    beta: float

    @classmethod
    def build(
        cls,
        Y: np.ndarray,
        is_ref: np.ndarray,
        x: np.ndarray,
        z: np.ndarray,
        layout: ParamLayout,
        beta: float,
    ) -> Cells:
        free_rows = np.flatnonzero(~is_ref)
        pos = np.full(Y.shape[0], -1)
        pos[free_rows] = np.arange(free_rows.size)
        rows, cols = np.nonzero(~np.isnan(Y))
        return cls(
            layout, rows, cols, Y[rows, cols], is_ref[rows], pos[rows], x[rows], z[rows], beta
        )

    def theta(self, p: np.ndarray) -> np.ndarray:
        lay = self.layout
        th = np.empty(self.y.size)
        free = ~self.is_ref
        th[free] = p[self.free_pos[free]]
        th[self.is_ref] = law_theta(
            self.x[self.is_ref],
            self.z[self.is_ref],
            p[lay.i_alpha],
            lay.token_coef(p),
            self.beta,
            lay.with_tokens,
        )
        return th

    def _partials(self, p: np.ndarray):
        s = self.layout.sigmoids(p)[self.cols]
        k = np.exp(s[:, 1])
        th = self.theta(p)
        return s, k, sigmoid_partials(th, s[:, 2] * (1 - s[:, 3]), s[:, 3], -k, s[:, 0])

    def residuals(self, p: np.ndarray) -> np.ndarray:
        s = self.layout.sigmoids(p)[self.cols]
        th = self.theta(p)
        return (
            sigmoid_value(th, s[:, 2] * (1 - s[:, 3]), s[:, 3], -np.exp(s[:, 1]), s[:, 0]) - self.y
        )

    def sparsity(self) -> tuple[np.ndarray, np.ndarray]:
        """(row, column) of every Jacobian entry: θ (or α, B), then l, log k, u, d."""
        lay = self.layout
        ar = np.arange(self.y.size)
        jc = [np.where(self.is_ref, lay.i_alpha, self.free_pos)]
        if lay.with_tokens:  # duplicate entry for free rows: 0 data
            jc.append(np.where(self.is_ref, lay.i_tokens, self.free_pos))
        for j in range(4):
            idx = lay.item_idx[self.cols, j]
            jc.append(np.where(idx >= 0, idx, lay.item_idx[self.cols, 0]))
        return np.tile(ar, len(jc)), np.concatenate(jc)

    def jacobian(self, p: np.ndarray, pattern: tuple[np.ndarray, np.ndarray]) -> sparse.csr_matrix:
        lay = self.layout
        s, k, d = self._partials(p)
        a = p[lay.i_alpha]
        parts = [np.where(self.is_ref, d.dx * (-self.x * np.exp(-a * self.x)), d.dx)]
        if lay.with_tokens:
            parts.append(np.where(self.is_ref, d.dx * np.exp(-self.beta * self.z), 0.0))
        parts.append(d.dl)  # l
        parts.append(-d.dgamma * k)  # log k (γ = −e^{log k})
        parts.append((1 - s[:, 3]) * d.dc)  # u
        parts.append(np.where(lay.item_idx[self.cols, 3] >= 0, d.dd - s[:, 2] * d.dc, 0.0))  # d
        return sparse.csr_matrix((np.concatenate(parts), pattern), shape=(self.y.size, lay.n_par))
