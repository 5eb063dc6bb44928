"""The edit set of the replay check: edited copies of references and of accepted proofs, and genuine pairs.

Built from a labelled folder (``pairs.csv``) by ``python -m scripts.build_replay_set DATA --edits``:

* *edited copies*: up to ``per_scene`` references per scene, and as many of
  their accepted proofs (positive queries the verification accepts), each
  passed through every edit of :mod:`vision.replay.edits` (seeded by the
  photo's path: deterministic).  A copy of a reference is checked as the
  verify flow checks it (the verification's homography, else the
  fingerprint's keypoints, the mirrored view); a copy of a proof against
  the proof's fingerprint (its keypoints, the mirrored view, else through
  the reference).
* *genuine pairs* (label 0 = not a copy): every positive pair of the scenes,
  both ways, against the reference (the verification's homography) and
  again as the proof path sees it (the first photo remembered as a proof:
  its fingerprint's keypoints, the mirrored view, the collage tiles); and
  every other accepted photo of a reference against each accepted proof of it.  Classes: ``genuine``
  (hand-held), ``fixed`` (a fixed camera: the TILDE webcams' ``light_appearance``
  series and Oxford's tripod ``blur`` / ``light`` series) and ``synthetic``
  (digital warps of one photo: copies by definition, reported apart).

One CSV row of evidence per check; :func:`report_edits` prints caught /
total per edit and source, and the flags per class against the reference
and against a remembered proof.
"""

from __future__ import annotations

import csv
import hashlib
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from vision.flows.prepare import prepare_photo
from vision.image.imageio import decode_image
from vision.matchers.akaze import Features, FeatureSettings, features_from_bytes, features_to_bytes
from vision.profile import Profile
from vision.replay.check import Alignment, ReplayEvidence, ReplayThresholds, decide, measure
from vision.replay.edits import EDITS
from vision.replay.fingerprint import Fingerprint, fingerprint_from_bytes, fingerprint_to_bytes, make_fingerprint
from vision.replay.memory import composed_alignment
from vision.replay.residual import mirrored_features
from vision.rules.evidence import decide_verification, evaluate_match, match_features

__all__ = ["EDIT_EVIDENCE", "EDIT_FIELDS", "build_edits", "edit_evidence", "report_edits"]

EDIT_EVIDENCE = [
    "n_points",
    "n_inliers",
    "inlier_fraction",
    "reproj_px",
    "detail_ncc",
    "similarity_residual",
    "angle_off_deg",
    "frame_inside",
    "border_flatness",
    "cell_share",
    "n_cells",
    "mirrored",
    "tile",
]
EDIT_FIELDS = ["scene", "source", "of", "query", "cls", "kind", "accepted", *EDIT_EVIDENCE]
SOURCE_SIDE = 2000  # edits are made from the photo decoded at this long side (speed)
FIXED_KINDS = ("light_appearance", "blur", "light")
"""Positive kinds shot from a fixed camera (webcam, tripod): the hard negatives."""


@dataclass(frozen=True)
class Photo:
    """A prepared photo: features, fingerprint, and the mirrored view's features."""

    features: Features
    fingerprint: Fingerprint
    mirrored: Features


def _class(kind: str) -> str:
    if kind.startswith("synthetic"):
        return "synthetic"
    return "fixed" if kind in FIXED_KINDS else "genuine"


def _cached(cache_dir: Path | None, name: str, make: Callable[[], bytes], settings: FeatureSettings) -> Photo:
    """The photo ``make()`` encodes, prepared; kept in ``cache_dir`` between runs."""
    path = cache_dir / ("e" + hashlib.sha1(name.encode()).hexdigest() + ".npz") if cache_dir else None
    if path is not None and path.is_file():
        with np.load(path) as npz:
            return Photo(
                features_from_bytes(npz["features"].tobytes()),
                fingerprint_from_bytes(npz["fp"].tobytes()),
                features_from_bytes(npz["mirrored"].tobytes()),
            )
    prepared = prepare_photo(make(), settings)
    photo = Photo(
        prepared.features,
        make_fingerprint(prepared.image, prepared.features),
        mirrored_features(prepared.image, settings),
    )
    if path is not None:
        np.savez(
            path,
            features=np.frombuffer(features_to_bytes(photo.features), np.uint8),
            fp=np.frombuffer(fingerprint_to_bytes(photo.fingerprint), np.uint8),
            mirrored=np.frombuffer(features_to_bytes(photo.mirrored), np.uint8),
        )
    return photo


def _verify(a: Photo, b: Photo, profile: Profile) -> tuple[bool, Alignment | None]:
    """Robust-rule verification of ``b`` against reference ``a``, and its homography as an Alignment."""
    evidence = evaluate_match(match_features(a.features, b.features), profile)
    alignment = None
    if evidence.H is not None and not evidence.problems:
        alignment = Alignment(evidence.H, evidence.n_inliers, a.features.image_size)
    return decide_verification(evidence, profile).result, alignment


def _check(candidate: Fingerprint, query: Photo, alignment: Alignment | None) -> ReplayEvidence:
    return measure(
        candidate, query.features, query.fingerprint.thumb, query.fingerprint, alignment, lambda: query.mirrored
    )


def _row(scene: str, source: str, of: str, query: str, cls: str, kind: str, accepted: bool, ev: ReplayEvidence):
    values = ev.to_json()
    return {
        "scene": scene,
        "source": source,
        "of": of,
        "query": query,
        "cls": cls,
        "kind": kind,
        "accepted": int(accepted),
        **{k: values[k] for k in EDIT_EVIDENCE},
    }


def _pick_per_scene(paths: Iterable[str], per_scene: int) -> list[str]:
    """Up to ``per_scene`` paths of each scene (folder), in sorted order."""
    chosen: dict[str, list[str]] = defaultdict(list)
    for path in sorted(set(paths)):
        scene = str(Path(path).parent)
        if len(chosen[scene]) < per_scene:
            chosen[scene].append(path)
    return [p for scene in sorted(chosen) for p in chosen[scene]]


def _lazy_image(path: Path) -> Callable[[], np.ndarray]:
    """The photo decoded at SOURCE_SIDE, on first call only (cached runs never decode)."""
    decoded: list[np.ndarray] = []

    def image() -> np.ndarray:
        if not decoded:
            decoded.append(decode_image(path.read_bytes(), max_side=SOURCE_SIDE).bgr)
        return decoded[0]

    return image


def build_edits(data_dir: Path, per_scene: int, cache_dir: Path | None = None) -> list[dict]:
    """Every edited copy and genuine pair of ``data_dir/pairs.csv`` (see the module docstring); one row each."""
    with open(data_dir / "pairs.csv", newline="") as handle:
        pairs = [r for r in csv.DictReader(handle) if r["label"] == "1"]
    profile = Profile()
    settings = profile.feature_settings
    photos: dict[str, Photo] = {}

    def photo(rel: str) -> Photo:
        if rel not in photos:
            photos[rel] = _cached(cache_dir, rel, (data_dir / rel).read_bytes, settings)
        return photos[rel]

    rows: list[dict] = []
    # Genuine pairs against the reference, both ways; and the accepted proofs of each reference.
    proofs: dict[str, list[tuple[str, Alignment]]] = defaultdict(list)
    for p in pairs:
        cls = _class(p["kind"])
        for a, b in ((p["ref"], p["query"]), (p["query"], p["ref"])):
            accepted, alignment = _verify(photo(a), photo(b), profile)
            ev = _check(photo(a).fingerprint, photo(b), alignment)
            rows.append(_row(str(Path(p["ref"]).parent), a, "reference", b, cls, p["kind"], accepted, ev))
            # The same pair as the proof path sees it: ``a`` remembered as a proof, aligned by its own fingerprint.
            ev = _check(photo(a).fingerprint, photo(b), None)
            rows.append(_row(str(Path(p["ref"]).parent), a, "proof", b, cls, p["kind"], accepted, ev))
            if a == p["ref"] and accepted and alignment is not None and cls == "genuine":
                proofs[a].append((b, alignment))
    # Genuine photos against an earlier accepted proof of the same reference.
    for ref, accepted_proofs in proofs.items():
        for b, to_b in accepted_proofs:
            anchored = replace(photo(b).fingerprint, anchor=to_b.H, anchor_key="r")
            for c, to_c in accepted_proofs:
                if c != b:
                    ev = _check(anchored, photo(c), composed_alignment(anchored, "r", to_c))
                    rows.append(_row(str(Path(ref).parent), b, "proof", c, "genuine", "vs_proof", True, ev))
    # Edited copies of references and of accepted proofs.
    refs = _pick_per_scene((p["ref"] for p in pairs if _class(p["kind"]) == "genuine"), per_scene)
    proof_of = {b: (ref, to_b) for ref, items in proofs.items() for b, to_b in items}
    chosen_proofs = _pick_per_scene(proof_of, per_scene)
    for n, source in enumerate(refs + chosen_proofs):
        start = time.perf_counter()
        is_proof = n >= len(refs)
        reference = proof_of[source][0] if is_proof else source
        seed = int(hashlib.sha1(source.encode()).hexdigest()[:8], 16)
        image = _lazy_image(data_dir / source)

        for name, edit in EDITS.items():
            rng = np.random.default_rng([seed, len(name), sum(name.encode())])
            make = lambda e=edit, r=rng, i=image: e(i(), r)  # noqa: E731
            query = _cached(cache_dir, f"{source}|{name}|{seed}", make, settings)
            accepted, to_q = _verify(photo(reference), query, profile)
            if is_proof:
                anchored = replace(photo(source).fingerprint, anchor=proof_of[source][1].H, anchor_key="r")
                ev = _check(anchored, query, composed_alignment(anchored, "r", to_q))
            else:
                ev = _check(photo(source).fingerprint, query, to_q)
            of = "proof" if is_proof else "reference"
            rows.append(_row(str(Path(source).parent), source, of, f"{name}", "edit", name, accepted, ev))
        print(
            f"[{n + 1}/{len(refs) + len(chosen_proofs)}] {source}: {time.perf_counter() - start:.1f} s", file=sys.stderr
        )
    return rows


def edit_evidence(row: dict) -> ReplayEvidence:
    """The evidence a CSV row records (empty cells are 'no value': infinite errors)."""

    def num(name: str, missing: float) -> float:
        value = row.get(name)
        return float(value) if value not in ("", "None", None) else missing

    return ReplayEvidence(
        int(num("n_points", 0)),
        0,
        int(num("n_inliers", 0)),
        num("inlier_fraction", 0.0),
        num("reproj_px", float("inf")),
        num("detail_ncc", 0.0),
        0,
        num("similarity_residual", float("inf")),
        num("angle_off_deg", 45.0),
        num("frame_inside", 0.0),
        num("border_flatness", float("inf")),
        num("cell_share", 0.0),
        int(num("n_cells", 0)),
        bool(int(num("mirrored", 0))),
        bool(int(num("tile", 0))),
    )


def _rate(flags: list[bool]) -> str:
    return f"{sum(flags)}/{len(flags)} ({np.mean(flags):.1%})" if flags else "-"


def report_edits(rows: list[dict], t: ReplayThresholds) -> None:
    """Caught / total per edit (copies of a reference, of a proof), genuine flags per class."""
    flags = [decide(edit_evidence(r), t)[0] for r in rows]
    groups: dict[tuple[str, str], dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for r, f in zip(rows, flags, strict=True):
        accepted = str(r["accepted"]) == "1"
        groups[(r["cls"], r["kind"])][r["of"]].append(f)
        groups[(r["cls"], r["kind"])][f"{r['of']} not Complete"].append(f or not accepted)
    print(f"{'class':9s} {'kind':22s} {'of reference':>16s} {'(not Complete)':>16s} {'of a proof':>16s}")
    for (cls, kind), g in sorted(groups.items()):
        print(
            f"{cls:9s} {kind:22s} {_rate(g['reference']):>16s} {_rate(g['reference not Complete']):>16s} "
            f"{_rate(g['proof']):>16s}"
        )
    for cls in ("edit", "genuine", "fixed", "synthetic"):
        for of, what in (("reference", "against the reference"), ("proof", "against a remembered proof")):
            fs = [f for r, f in zip(rows, flags, strict=True) if r["cls"] == cls and r["of"] == of]
            if fs:
                print(f"== {cls} {what}: flagged {_rate(fs)}")
