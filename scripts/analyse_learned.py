"""Which geometric checks and which score transfer, with whole scenes held out (after ``measure_learned.py collect``).

    python scripts/analyse_learned.py --cache /tmp/learned_cache [--data ../shared/data]

Every candidate rule is fitted leave-one-scene-out: for each scene, the
threshold is placed on the pairs that touch no image of that scene and
applied to the scene's pairs; the rates are over those held-out verdicts.
Scenes: the image folder, Oxford's sequences by name, ImageNet samples by
the pair's coarse kind (so the same-kind negatives are always unseen).
"""

from __future__ import annotations

import argparse
import csv
import math
import pickle
import re
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vision.matchers.geometry import _anisotropy  # noqa: E402
from vision.matchers.xfeat_geometry import learned_geometry  # noqa: E402
from vision.rules.learned_score import fit_threshold, learned_score  # noqa: E402


def image_group(path: str, source: str) -> str:
    folder = str(Path(path).parent)
    if folder.endswith("oxford"):
        return folder + "/" + re.sub(r"\d+$", "", Path(path).stem)
    if folder.endswith("imagenet_samples"):
        return folder + "/" + source
    return folder


def geometry_table(cache: Path) -> dict:
    path = cache / "geometry.pkl"
    out = pickle.loads(path.read_bytes()) if path.exists() else {}
    matches = pickle.loads((cache / "matches.pkl").read_bytes())
    tilts = cache / "tilts.pkl"
    if tilts.exists():  # simulated oblique views of the reference (measure_learned.py tilts)
        for key, entry in pickle.loads(tilts.read_bytes()).items():
            matches.setdefault(key, {}).update(entry)
    for key, entry in matches.items():
        row = out.setdefault(key, {})
        for v, m in entry.items():
            if v in row:
                continue
            g = learned_geometry(
                m["src"].astype(np.float32),
                m["dst"].astype(np.float32),
                m["ref_size"],
                m["query_size"],
                max_anisotropy=1e9,
            )
            row[v] = {
                "matches": g.n_matches,
                "inliers": g.n_inliers,
                "f_inliers": g.f_inliers,
                "coverage": g.coverage,
                "topology": not [
                    p for p in g.problems if "convex" in p or "mirrored" in p or "infinity" in p or "finite" in p
                ],
                "stretch": _anisotropy(g.H, (m["ref_size"][0] / 2.0, m["ref_size"][1] / 2.0))
                if g.H is not None
                else math.inf,
                "fitted": g.H is not None,
            }
    path.write_bytes(pickle.dumps(out))
    return out


def xfeat_evidence(g: dict | None, mode: str, stretch: float = 8.0, min_cov: float = 0.0) -> float:
    if g is None or not g["fitted"]:
        return 0.0
    if mode == "raw":
        return g["inliers"]
    if mode == "fund":
        return g["f_inliers"]
    ok = g["topology"] and g["stretch"] <= stretch and g["coverage"] >= min_cov
    if mode == "plaus":
        return g["inliers"] if ok else 0.0
    if mode == "plaus_min_f":
        return min(g["inliers"], g["f_inliers"]) if ok else 0.0
    raise ValueError(mode)


def loso(rows, x, w, kmin, target=0.01, robust_or=False):
    """Held-out accepts (bool per row) and per-fold thresholds."""
    akaze = np.array([r["akaze"] for r in rows], float)
    sim = np.array([r["similarity"] or 0.0 for r in rows], float)
    lab = np.array([r["label"] for r in rows])
    e = np.maximum(akaze, x)
    score = learned_score(e, sim, w)
    groups = sorted({r["g_ref"] for r in rows} | {r["g_query"] for r in rows})
    acc = np.zeros(len(rows), bool)
    ts = []
    for g in groups:
        test = np.array([r["g_ref"] == g for r in rows])
        if not test.any():
            continue
        train = np.array([r["g_ref"] != g and r["g_query"] != g for r in rows])
        t = fit_threshold(e[train], sim[train], lab[train], w, kmin, target)
        ts.append(t)
        acc[test] = (e[test] >= kmin) & (score[test] >= t)
    if robust_or:
        acc |= np.array([bool(r["robust"]) for r in rows])
    return acc, ts


def report(name, rows, acc, ts=None):
    lab = np.array([r["label"] for r in rows])
    kinds = np.array([r["kind"] for r in rows])
    tar, far = acc[lab == 1].mean(), acc[lab == 0].mean()
    skn = acc[kinds == "same_kind_negative"].mean()
    t = f" t={np.median(ts):.2f} [{min(ts):.2f},{max(ts):.2f}]" if ts else ""
    print(f"{name:48s} TAR {tar:.3f}  FAR {far:.3f} ({int(acc[lab == 0].sum())})  same-kind FAR {skn:.3f}{t}")
    return tar, far


def per_kind(rows, accs: dict):
    kinds = sorted({(r["label"], r["kind"]) for r in rows}, key=lambda k: (-k[0], k[1]))
    print(f"{'kind':28s} {'n':>4s} " + " ".join(f"{n:>9s}" for n in accs))
    for lab, kind in kinds:
        idx = np.array([r["kind"] == kind and r["label"] == lab for r in rows])
        print(f"{kind:28s} {idx.sum():4d} " + " ".join(f"{a[idx].mean():9.3f}" for a in accs.values()))


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", type=Path, default=Path("/tmp/learned_cache"))
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    args = ap.parse_args(argv)
    rows = pickle.loads((args.cache / "akaze.pkl").read_bytes())
    original = args.cache / "original.pkl"
    for r, o in zip(
        rows, pickle.loads(original.read_bytes()) if original.exists() else [False] * len(rows), strict=False
    ):
        r["original"] = o
    sources = {(r["ref"], r["query"]): r["source"] for r in csv.DictReader((args.data / "pairs.csv").open())}
    geo = geometry_table(args.cache)
    for r in rows:
        src = sources[(r["ref"], r["query"])]
        r["g_ref"], r["g_query"] = image_group(r["ref"], src), image_group(r["query"], src)
        r["geo"] = geo[f"{r['ref']}|{r['query']}"]
    lab = np.array([r["label"] for r in rows])
    base = {k: np.array([bool(r[k]) for r in rows]) for k in ("original", "robust", "fused")}
    for k, a in base.items():
        report(k + " (defaults)", rows, a)
    neg = [r for r in rows if r["label"] == 0]
    top = sorted(neg, key=lambda r: -r["geo"]["rot0"]["inliers"])[:8]
    print("negatives with most raw xfeat inliers:")
    for r in top:
        g = r["geo"]["rot0"]
        print(
            f"  {r['kind']:20s} {r['ref'][7:]:40s} {r['query'][7:]:40s} inl {g['inliers']:3d} F {g['f_inliers']:3d}"
            f" cov {g['coverage']:.3f} stretch {g['stretch']:.1f} topo {g['topology']} sim {r['similarity']:.2f}"
        )
    pos = [r for r in rows if r["label"] == 1]
    print(
        "positives: coverage quantiles",
        np.quantile([r["geo"]["rot0"]["coverage"] for r in pos], [0.05, 0.1, 0.25, 0.5]).round(3),
    )
    print("--- candidate xfeat evidence, w=4, kmin=8 (LOSO) ---")
    results = {}
    variants = {
        "raw": dict(mode="raw"),
        "fund": dict(mode="fund"),
        "plaus s8": dict(mode="plaus", stretch=8),
        "plaus s16": dict(mode="plaus", stretch=16),
        "plaus s1e9 (topology only)": dict(mode="plaus", stretch=1e9),
        "plaus s16 cov.01": dict(mode="plaus", stretch=16, min_cov=0.01),
        "plaus s16 cov.02": dict(mode="plaus", stretch=16, min_cov=0.02),
        "plaus s16 cov.05": dict(mode="plaus", stretch=16, min_cov=0.05),
        "plaus_min_f s16": dict(mode="plaus_min_f", stretch=16),
        "plaus_min_f s16 cov.02": dict(mode="plaus_min_f", stretch=16, min_cov=0.02),
    }
    for name, kw in variants.items():
        x = np.array([xfeat_evidence(r["geo"]["rot0"], **kw) for r in rows])
        acc, ts = loso(rows, x, 4.0, 8)
        results[name] = report(name, rows, acc, ts)
    print("--- akaze only / xfeat only ---")
    x0 = np.zeros(len(rows))
    report("akaze + sim (w4,k8)", rows, *loso(rows, x0, 4.0, 8))
    best_kw = dict(mode="plaus", stretch=16, min_cov=0.02)
    print("--- weights / minimum, evidence plaus s16 cov.02 ---")
    xb = np.array([xfeat_evidence(r["geo"]["rot0"], **best_kw) for r in rows])
    for w in (0.0, 2.0, 3.0, 4.0, 5.0, 6.0):
        for k in (6, 8, 10, 12):
            report(f"w={w} kmin={k}", rows, *loso(rows, xb, w, k))
    print("--- rotation / CLAHE (second try: max over variants) ---")
    xr = np.array(
        [max(xfeat_evidence(r["geo"].get(v), **best_kw) for v in ("rot0", "rot90", "rot180", "rot270")) for r in rows]
    )
    xc = np.array([max(xfeat_evidence(r["geo"].get(v), **best_kw) for v in ("rot0", "clahe")) for r in rows])
    report("rot0 only", rows, *loso(rows, xb, 4.0, 8))
    report("max over rotations", rows, *loso(rows, xr, 4.0, 8))
    report("max(rot0, clahe)", rows, *loso(rows, xc, 4.0, 8))
    views = ("rot0", "tilt_x", "tilt_y")
    xt = np.array([max(xfeat_evidence(r["geo"].get(v), **best_kw) for v in views) for r in rows])
    report("max(rot0, tilted reference views)", rows, *loso(rows, xt, 4.0, 8))
    report("  same, min 10, or robust", rows, *loso(rows, xt, 4.0, 10, robust_or=True))
    kinds = np.array([r["kind"] for r in rows])
    for kind in ("viewpoint", "viewpoint_wide", "viewpoint_landmark"):
        m = kinds == kind
        print(f"  {kind}: xfeat evidence median upright {np.median(xb[m]):.0f}, with tilts {np.median(xt[m]):.0f}")
    print("--- chosen: plaus s16 cov.02, w=4, kmin=10; with 'or robust accepts' ---")
    acc_l, _ = loso(rows, xb, 4.0, 10)
    report("learned w4 k10", rows, acc_l, _)
    acc_o, ts = loso(rows, xb, 4.0, 10, robust_or=True)
    report("learned w4 k10 or robust", rows, acc_o, ts)
    acc_r, _ = loso(rows, xr, 4.0, 10)
    report("learned w4 k10 + rotations", rows, acc_r, _)
    per_kind(rows, {**base, "learned": acc_l, "l|robust": acc_o, "l+rot": acc_r})
    akaze = np.array([r["akaze"] for r in rows], float)
    sim = np.array([r["similarity"] or 0.0 for r in rows], float)
    e = np.maximum(akaze, xb)
    t_all = fit_threshold(e, sim, lab, 4.0, 10)
    acc_all = (e >= 10) & (learned_score(e, sim, 4.0) >= t_all)
    report(f"fitted on all pairs: threshold {t_all:.3f}", rows, acc_all)
    kinds = np.array([r["kind"] for r in rows])
    neg_scores = np.sort(learned_score(np.maximum(e[lab == 0], 10), sim[lab == 0], 4.0))[::-1][:5]
    print("top stressed negative scores", neg_scores.round(3))
    pos_scores = np.sort(learned_score(e[(lab == 1) & (e >= 10)], sim[(lab == 1) & (e >= 10)], 4.0))[:5]
    print("lowest positive scores (with >= 10 inliers)", pos_scores.round(3))
    decided = np.where(xb > akaze, "xfeat", "akaze")
    for k in ("xfeat", "akaze"):
        print(f"accepted positives decided by {k}: {int(((decided == k) & acc_all & (lab == 1)).sum())}")
    del kinds
    print("labels", int((lab == 1).sum()), int((lab == 0).sum()))


if __name__ == "__main__":
    main()
