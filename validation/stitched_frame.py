"""Validation of the stitched score frame on the built-in catalog.

``--heldout``: hide 10% of the observed cells at random (5 folds over a random half of the
cells), refit the frame without them, predict them (the item's sigmoid at the model's own θ̂
from its other scores) with a 95% predictive interval (replicates + residual noise), and report
RMSE and interval coverage for the stitched frame and the one-capability uniform frame on the
SAME cells (the uniform frame's cells: MMLU, ARC-C, HellaSwag, Winogrande under the Open LLM
Leaderboard v1 harness); the stitched frame is also scored on all of its own cells.

``--alpha``: leave-the-largest-out choice of the reference law's exponent (weakly identified
in score mode): fit without the largest (then the two largest) reference members with α fixed
on a grid, predict their densities (should be 1) and print |ln ρ|.

``--loo``: leave-one-member-out: each reference member removed, the frame refitted with a warm
bootstrap, the member's density predicted: how many intervals contain 1.

    PYTHONPATH=src python validation/stitched_frame.py --heldout [--resamples 40] [--jobs 2]
    PYTHONPATH=src python validation/stitched_frame.py --alpha
    PYTHONPATH=src python validation/stitched_frame.py --loo [--resamples 40]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import pandas as pd

from densing.analysis import DEFAULT_FRAME, UNIFORM_FRAME, frame_inputs
from densing.analysis.run import fit_spec_tables
from densing.bootstrap import BootstrapSpec
from densing.catalog import load
from densing.scoreframe import item_id

UNIFORM_ITEMS = {f"{b}@openllm-v1": b for b in UNIFORM_FRAME.benchmarks or ()}


def _long_cells(catalog) -> pd.DataFrame:
    sc = catalog.scores.copy()
    sc["item"] = [
        item_id(*t)
        for t in zip(sc["benchmark"], sc["setting"], sc["shots"], sc["cot"], strict=True)
    ]
    return sc


def _fit(spec, models, scores, boot):
    return fit_spec_tables(models, scores, spec, bootstrap=boot)


def _predict(frame, cells: pd.DataFrame, col: str) -> pd.DataFrame:
    known = frame.models.set_index("id")
    ok = cells["model"].isin(known.index[known["theta"].notna()]) & cells[col].isin(
        frame.benchmarks
    )
    sub = cells.loc[ok, ["model", col, "score"]].rename(columns={col: "item"})
    return frame.predict_cells(sub[["model", "item"]]).assign(observed=sub["score"].to_numpy())


def heldout(resamples: int, jobs: int, seed: int) -> None:
    cat = load()
    models, _ = frame_inputs(cat, DEFAULT_FRAME)
    long = _long_cells(cat)
    uni = long[long["item"].isin(UNIFORM_ITEMS)].drop_duplicates(["id", "item"])
    rng = np.random.default_rng(seed)
    pool = uni.sample(frac=0.5, random_state=seed).index.to_numpy()
    folds = np.array_split(rng.permutation(pool), 5)
    boot = BootstrapSpec(resamples, seed=seed, warm_start=True, n_jobs=jobs)
    rows = []
    for k, fold in enumerate(folds):
        t0 = time.perf_counter()
        hide = uni.loc[fold, ["id", "item"]]
        key = set(map(tuple, hide.to_numpy()))
        keep = np.array(
            [(i, it) not in key for i, it in zip(long["id"], long["item"], strict=True)]
        )
        st = _fit(DEFAULT_FRAME, models, long[keep], boot)
        wide = cat.wide(
            list(UNIFORM_FRAME.benchmarks or ()), setting=list(UNIFORM_FRAME.settings or ())
        )
        for i, it in key:
            wide.loc[i, UNIFORM_ITEMS[it]] = np.nan
        un = _fit(UNIFORM_FRAME, models, wide, boot)
        cells = (
            uni.loc[fold]
            .rename(columns={"id": "model"})
            .assign(bench=lambda d: d["item"].map(UNIFORM_ITEMS))
        )
        for name, frame, col in (("stitched", st, "item"), ("uniform", un, "bench")):
            p = _predict(frame, cells, col).assign(frame=name, fold=k)
            if name == "uniform":  # back to the stitched item ids, to pair the same cells
                back = {b: it for it, b in UNIFORM_ITEMS.items()}
                p["item"] = p["item"].map(back)
            rows.append(p)
        print(f"fold {k}: {len(fold)} cells hidden, {time.perf_counter() - t0:.0f} s", flush=True)
    res = pd.concat(rows, ignore_index=True)
    both = res.groupby(["model", "item"]).filter(lambda g: g["frame"].nunique() == 2)
    _report(both, "same cells (uniform harness MMLU/ARC-C/HellaSwag/Winogrande)")
    _heldout_all_cells(models, long, boot, seed)


def _heldout_all_cells(models, long, boot, seed: int) -> None:
    """The stitched frame on all of its own cells: 5 folds of 10% of every observed cell."""
    cells = long.drop_duplicates(["id", "item"])
    rng = np.random.default_rng(seed + 1)
    pool = cells.sample(frac=0.5, random_state=seed + 1).index.to_numpy()
    rows = []
    for k, fold in enumerate(np.array_split(rng.permutation(pool), 5)):
        t0 = time.perf_counter()
        hide = pd.MultiIndex.from_frame(cells.loc[fold, ["id", "item"]])
        keep = ~pd.MultiIndex.from_frame(long[["id", "item"]]).isin(hide)
        st = _fit(DEFAULT_FRAME, models, long[keep], boot)
        hidden = cells.loc[fold].rename(columns={"id": "model"})
        p = _predict(st, hidden, "item").assign(frame="stitched", fold=k)
        rows.append(p)
        print(
            f"all-cells fold {k}: {len(fold)} hidden, {len(p)} predictable "
            f"(model placed, item kept), {time.perf_counter() - t0:.0f} s",
            flush=True,
        )
    _report(pd.concat(rows, ignore_index=True), "stitched frame, all of its own cells")


def _report(res: pd.DataFrame, title: str) -> None:
    print(f"\n== {title} ==")
    for name, g in res.groupby("frame"):
        err = g["predicted"] - g["observed"]
        cov = ((g["lo"] <= g["observed"]) & (g["observed"] <= g["hi"])).mean()
        print(
            f"{name:<10} cells {len(g):>4}  RMSE {np.sqrt(np.mean(err**2)):.4f}  "
            f"MAE {np.mean(np.abs(err)):.4f}  95% predictive-interval coverage {cov:.3f}"
        )


def alpha_choice(grid: list[float]) -> None:
    cat = load()
    models, long = frame_inputs(cat, DEFAULT_FRAME)
    ref = models[models["family"] == DEFAULT_FRAME.reference_family].sort_values("params")
    for held in ([ref["id"].iloc[-1]], list(ref["id"].iloc[-2:])):
        keep = ~models["id"].isin(held)
        for a in grid:
            spec = replace(DEFAULT_FRAME, alpha=a)
            fr = _fit(spec, models[keep].reset_index(drop=True), long[~long["id"].isin(held)], None)
            t = _long_cells(cat)
            t = t[t["id"].isin(held) & t["item"].isin(fr.benchmarks)].rename(
                columns={"id": "model"}
            )
            t = t.merge(models.rename(columns={"id": "model"})[["model", "params"]], on="model")
            d = fr.density(t[["model", "params", "benchmark", "setting", "shots", "cot", "score"]])
            err = np.abs(np.log(d["density_active"].to_numpy(float)))
            print(
                f"held {[h.split('/')[-1] for h in held]}  alpha {a:<5}  |ln rho| {np.round(err, 3)}  mean {err.mean():.3f}"
            )


def loo(resamples: int, jobs: int, seed: int) -> None:
    cat = load()
    models, long = frame_inputs(cat, DEFAULT_FRAME)
    members = models.loc[models["family"] == DEFAULT_FRAME.reference_family, "id"].tolist()
    boot = BootstrapSpec(resamples, seed=seed, warm_start=True, n_jobs=jobs)
    hits = 0
    for mid in members:
        fr = _fit(
            DEFAULT_FRAME,
            models[models["id"] != mid].reset_index(drop=True),
            long[long["id"] != mid],
            boot,
        )
        t = _long_cells(cat)
        t = t[(t["id"] == mid) & t["item"].isin(fr.benchmarks)].rename(columns={"id": "model"})
        t["params"] = float(models.loc[models["id"] == mid, "params"].iloc[0])
        r = fr.density(
            t[["model", "params", "benchmark", "setting", "shots", "cot", "score"]]
        ).iloc[0]
        inside = r["density_active_lo"] <= 1 <= r["density_active_hi"]
        hits += bool(inside)
        print(
            f"{mid:<24} rho {r['density_active']:.3f} [{r['density_active_lo']:.3f}, {r['density_active_hi']:.3f}] {r['status']}"
        )
    print(f"{hits}/{len(members)} held-out members' intervals contain 1")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--heldout", action="store_true")
    ap.add_argument("--alpha", action="store_true")
    ap.add_argument("--loo", action="store_true")
    ap.add_argument("--resamples", type=int, default=40)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.alpha:
        alpha_choice([0.03, 0.06, 0.1, 0.15, 0.2, 0.3, 0.45])
    if args.loo:
        loo(args.resamples, args.jobs, args.seed)
    if args.heldout:
        heldout(args.resamples, args.jobs, args.seed)


if __name__ == "__main__":
    main()
