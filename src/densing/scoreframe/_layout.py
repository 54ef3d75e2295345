"""Parameter vector of the joint score-frame problem: layout, packing and bounds.

Layout: ``θ_free (one per non-reference model) | α | (B, with tokens) | per item
l, log k, u, (d)`` where ``k = -γ > 0`` and ``c = u·(1 - d)``; ``d`` is absent for an item
whose floor is fixed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ALPHA_BOUNDS = (0.01, 3.0)
LOGK_BOUNDS = (-6.0, 8.0)


@dataclass(frozen=True)
class ParamLayout:
    """Where every parameter lives in the vector ``p`` (and how to read it back)."""

    n_free: int
    floors: np.ndarray  # (B,) fixed d, NaN = free
    with_tokens: bool
    item_idx: np.ndarray  # (B, 4) positions of l, logk, u, d (-1: d fixed)
    n_par: int

    @classmethod
    def build(cls, n_free: int, floors: np.ndarray, with_tokens: bool) -> ParamLayout:
        B = floors.size
        idx = np.full((B, 4), -1, dtype=int)
        pos = n_free + (2 if with_tokens else 1)
        for b in range(B):
            k = 3 if not np.isnan(floors[b]) else 4
            idx[b, :k] = np.arange(pos, pos + k)
            pos += k
        return cls(n_free=n_free, floors=floors, with_tokens=with_tokens, item_idx=idx, n_par=pos)

    @property
    def i_alpha(self) -> int:
        return self.n_free

    @property
    def i_tokens(self) -> int:
        return self.n_free + 1 if self.with_tokens else -1

    @property
    def fixed(self) -> np.ndarray:
        return ~np.isnan(self.floors)

    def sigmoids(self, p: np.ndarray) -> np.ndarray:
        """(B, 4) array of (l, logk, u, d) for every item."""
        sig = p[np.where(self.item_idx >= 0, self.item_idx, 0)]
        sig[:, 3] = np.where(self.fixed, self.floors, sig[:, 3])
        return sig

    def token_coef(self, p: np.ndarray) -> float:
        return float(p[self.i_tokens]) if self.with_tokens else 0.0

    def pack(
        self, theta_free: np.ndarray, alpha: float, bcoef: float, sig: np.ndarray
    ) -> np.ndarray:
        p = np.zeros(self.n_par)
        p[: self.n_free] = theta_free
        p[self.i_alpha] = alpha
        if self.with_tokens:
            p[self.i_tokens] = bcoef
        for j in range(4):
            use = self.item_idx[:, j] >= 0
            p[self.item_idx[use, j]] = sig[use, j]
        return p

    def bounds(
        self, theta_bounds: tuple[float, float], alpha0: float, fix_alpha: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        lb = np.full(self.n_par, -np.inf)
        ub = np.full(self.n_par, np.inf)
        lb[: self.n_free], ub[: self.n_free] = theta_bounds
        a_lo, a_hi = (alpha0 * (1 - 1e-7), alpha0 * (1 + 1e-7)) if fix_alpha else ALPHA_BOUNDS
        lb[self.i_alpha], ub[self.i_alpha] = a_lo, a_hi
        if self.with_tokens:
            lb[self.i_tokens], ub[self.i_tokens] = 0.0, np.inf
        lb[self.item_idx[:, 1]], ub[self.item_idx[:, 1]] = LOGK_BOUNDS
        lb[self.item_idx[:, 2]], ub[self.item_idx[:, 2]] = 1e-4, 1.0
        free_d = self.item_idx[:, 3][self.item_idx[:, 3] >= 0]
        lb[free_d], ub[free_d] = 0.0, 0.999
        return lb, ub
