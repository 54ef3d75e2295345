"""A fresh out-of-sample check of the Gadre-ladder protocol: the seven validation losses other
than C4.

``gadre_ladder.py`` predicts the C4 validation loss of two large runs per corpus; those six
targets have been seen. Every run of the ladder also carries seven other validation losses
(OpenLM's own validation shard, Paloma's C4-en, code, RefinedWeb, PTB and RedPajama splits, and
a German-English set) that no densing setting was ever chosen or checked on. This script applies
the C4 protocol unchanged to each of them, as a check the C4 figures cannot give: 7 sets x 3
corpora x 2 targets = 42 held-out losses.

Protocol, written down before any of these 42 losses was predicted (2026-12-01), nothing else:

* For every corpus and validation set, the law's setting is chosen exactly as for C4 by
  ``gadre_ladder.choose_law`` (form x objective x smallest multiplier, by leave-one-size-out on
  the small runs: fit on the three smaller sizes, predict the 411M runs with M >= 20), the frame
  is fitted on the small runs (200 run-resampling replicates, predictive error model by
  leave-one-size-out), and it predicts the same two large runs as for C4.
* The published recipe (``gadre_ladder.published_pipeline``: their law on their 5 runs) is re-run
  on the same loss.
* Reported: per validation set and corpus both relative errors; over all 42 targets the mean
  relative error of each, how often densing's error is the smaller, and the coverage of
  densing's 95% bootstrap and predictive loss intervals. (Added after the first run, as a
  reading of the same numbers: a 95% interval of the mean difference, resampling the 21
  corpus x set pairs.)

    PYTHONPATH=src python validation/gadre_other_losses.py [--bootstrap 200] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from densing.bootstrap import BootstrapSpec
from densing.lossframe import DensingWarning, fit_loss_frame
from gadre_ladder import (
    AVG,
    ROOT,
    SMALL,
    TARGETS,
    calibration_table,
    choose_law,
    frame_runs,
    law_table,
    load_runs,
    published_pipeline,
)

C4_SET = "val:c4_val"  # the loss gadre_ladder.py predicts: not part of this check


def other_sets(runs: pd.DataFrame) -> list[str]:
    return sorted(c for c in runs.columns if c.startswith("val:") and c != C4_SET)


def _frame(corpus_runs: pd.DataFrame, law: dict[str, Any], spec: BootstrapSpec):
    """The frame of ``gadre_ladder.fit_frame`` for the loss alone (one benchmark: the average
    accuracy, whose sigmoid does not enter the loss or its intervals)."""
    ref, cal = frame_runs(corpus_runs, law)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DensingWarning)
        return fit_loss_frame(
            law_table(ref, [AVG]), calibration_table(cal, [AVG]),
            form=law["form"], objective=law["objective"], bootstrap=spec,
        )  # fmt: skip


def check(runs: pd.DataFrame, corpus: str, vset: str, spec: BootstrapSpec) -> dict[str, Any]:
    """Choose, fit and predict one (corpus, validation set); the C4 column stands for the set."""
    c = runs[runs["corpus"] == corpus].assign(c4=lambda d: d[vset])
    law, _ = choose_law(c[c["params"] < SMALL])
    frame = _frame(c, law, spec)
    targets = TARGETS[corpus]
    tg = c.set_index("run").loc[list(targets)]
    pred = frame.predict(tg["params"].to_numpy(), tg["tokens"].to_numpy(), names=list(targets))
    pred = pred.set_index("name").loc[list(targets)]
    actual = tg["c4"].to_numpy()
    pub = published_pipeline(c, targets)["loss_pct"]
    return {
        "corpus": corpus,
        "set": vset.removeprefix("val:"),
        "law": f"{law['form']}/{law['objective']}/M>={20 * law['min_mult']:g}",
        "densing_pct": list(100 * np.abs(pred["loss"].to_numpy() / actual - 1)),
        "published_pct": [float(v) for v in pub],
        "boot_hit": list((pred["loss_lo"] <= actual) & (actual <= pred["loss_hi"])),
        "pred_hit": list((pred["loss_pred_lo"] <= actual) & (actual <= pred["loss_pred_hi"])),
    }


def paired_interval(rows: list[dict[str, Any]], level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the mean error difference (densing - published, points),
    resampling the (corpus, set) pairs: a pair's two targets share a fit, so they move together."""
    diff = np.array([np.subtract(r["densing_pct"], r["published_pct"]) for r in rows])
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(rows), size=(10_000, len(rows)))
    means = diff[idx].mean(axis=(1, 2))
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def report(rows: list[dict[str, Any]]) -> None:
    print(f"\n{'set':<40} {'corpus':<12} {'law chosen by LOSO':<34} "
          f"{'densing 1.4B 6.9B':>18} {'published 1.4B 6.9B':>20}  pred. interval")  # fmt: skip
    for r in rows:
        d, p = r["densing_pct"], r["published_pct"]
        hits = "".join("y" if h else "n" for h in r["pred_hit"])
        print(f"{r['set']:<40} {r['corpus']:<12} {r['law']:<34} {d[0]:>9.2f} {d[1]:>6.2f}"
              f" {p[0]:>12.2f} {p[1]:>6.2f}  {hits}")  # fmt: skip
    dens = np.concatenate([r["densing_pct"] for r in rows])
    pub = np.concatenate([r["published_pct"] for r in rows])
    boot = np.concatenate([r["boot_hit"] for r in rows])
    pred = np.concatenate([r["pred_hit"] for r in rows])
    print(
        f"\nover {dens.size} held-out losses: mean relative error densing {dens.mean():.2f}% "
        f"(median {np.median(dens):.2f}%), published recipe {pub.mean():.2f}% "
        f"(median {np.median(pub):.2f}%); densing's error smaller in {(dens < pub).sum()} of "
        f"{dens.size}; 95% intervals hold the actual loss: bootstrap {boot.mean():.3f}, "
        f"predictive {pred.mean():.3f}"
    )
    lo, hi = paired_interval(rows)
    print(f"  mean difference densing - published {dens.mean() - pub.mean():+.2f} points, 95% "
          f"interval [{lo:+.2f}, {hi:+.2f}] (bootstrap over the {len(rows)} corpus x set pairs)")  # fmt: skip
    for corpus in TARGETS:
        sub = [r for r in rows if r["corpus"] == corpus]
        d = np.concatenate([r["densing_pct"] for r in sub])
        p = np.concatenate([r["published_pct"] for r in sub])
        print(f"  {corpus:<12} densing {d.mean():.2f}%, published {p.mean():.2f}% "
              f"({len(d)} losses)")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bootstrap", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, help="also write every number to this JSON file")
    args = ap.parse_args()
    if not ROOT.is_dir():
        raise SystemExit(f"data not found: {ROOT} (see shared/data/README.md)")
    runs = load_runs()
    spec = BootstrapSpec(n_resamples=args.bootstrap, seed=args.seed)
    t0 = time.time()
    rows = [check(runs, c, v, spec) for c in TARGETS for v in other_sets(runs)]
    report(rows)
    print(f"({time.time() - t0:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=float))


if __name__ == "__main__":
    main()
