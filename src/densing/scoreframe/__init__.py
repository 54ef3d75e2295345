"""Score-mode reference frames: effective parameters from published scores alone.

No conditional losses are known in score mode, so the frame is a small latent-variable model
fitted jointly on every observed (model, item) score:

* every model ``m`` has one latent, loss-like capability ``θ_m`` (lower is better), shared by
  all items (benchmarks, or benchmark × setting items);
* every item ``b`` maps capability to score with a sigmoid
  ``S_mb = d_b + c_b / (1 + exp(-γ_b (θ_m - l_b)))`` with ``γ_b < 0``, ``d_b ≥ 0`` (optionally
  fixed at the chance level) and ``c_b + d_b ≤ 1``;
* the members of the *reference family* do not get free capabilities: theirs are tied to a
  power law in parameters, ``θ = E + A·N^(-α)`` (one token budget), or
  ``θ = E + A·N^(-α) + B·D^(-β)`` when the family's budget varies with size.

The latent scale is identified only up to an affine map, so the gauge is fixed at ``E = 0``
and ``A = 1`` with ``N`` in billions: on the reference family ``θ = (N / 1e9)^(-α)``. Effective
parameters do not depend on that choice. Missing scores are absent cells (never imputed); the
loss is ``soft_l1`` (robust) on score residuals.

A model's effective parameter count ``N̂`` is the reference law inverted at the model's *own*
capability ``θ̂`` (fitted from its own scores under the fitted sigmoids; for reference members
this is not the law-tied value, which makes ``ρ ≈ 1`` for them a real check).

Modules: ``_inputs`` (validated inputs), ``_law`` (the reference law and its inversion),
``_layout`` / ``_kernels`` / ``_solver`` (parameter vector, residuals and Jacobian, global
search), ``frame`` (the results object), ``_bootstrap`` (replicates), ``_persist`` (files).
"""

from densing.scoreframe._bootstrap import ReplicateFit, ScoreReplicates, bootstrap_score_frame
from densing.scoreframe._fit import DEFAULT_F_SCALE, fit_score_frame
from densing.scoreframe._inputs import DEFAULT_FLOORS
from densing.scoreframe._law import DEFAULT_BETA, PARAM_UNIT, TOKEN_UNIT, ReferenceLaw
from densing.scoreframe.frame import FORMAT_VERSION, KIND, ScoreFrame
from densing.scoreframe.items import build_items, item_id
from densing.scoreframe.stitched import StitchedFrame, fit_stitched_frame

__all__ = [
    "DEFAULT_BETA",
    "DEFAULT_FLOORS",
    "DEFAULT_F_SCALE",
    "FORMAT_VERSION",
    "KIND",
    "PARAM_UNIT",
    "TOKEN_UNIT",
    "ReferenceLaw",
    "ReplicateFit",
    "ScoreFrame",
    "ScoreReplicates",
    "StitchedFrame",
    "bootstrap_score_frame",
    "build_items",
    "fit_score_frame",
    "fit_stitched_frame",
    "item_id",
]
