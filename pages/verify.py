"""Verify page: a new photo against a stored reference, with the matches and the outline."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from ui.photo import SAMPLES_DIR, list_samples, photo_input
from ui.render import show_timings, show_verdict
from ui.resources import embedded, matches, original, prepared, reference_store, stored_reference, with_xfeat
from ui.sidebar import render_sidebar
from vision import verdict as v
from vision.decision import decide_original
from vision.draw import draw_matches, draw_point_matches
from vision.errors import ImageInputError
from vision.fusion import geometry_alone_inliers
from vision.pipeline import decide_learned_pair, decide_pair, unreadable_photo
from vision.replay_draw import replay_view
from vision.replay_flow import verification_alignment
from vision.rules import RULES
from vision.rules import get as get_rule
from vision.store import StoreError

REFERENCE_MODES = ("A user's latest reference", "Any stored reference", "A bundled sample")
RULE_CHOICES = RULES
DECIDED_BY = get_rule("fused").decided_by  # the words live with the rule

thresholds = render_sidebar()
settings = thresholds.feature_settings
store = reference_store()

st.title("Verify a new photo")
rule = st.radio(
    "Decision rule",
    RULE_CHOICES,
    horizontal=True,
    key="verify_rule",
    index=RULE_CHOICES.index(thresholds.rule),
    help="learned (the default): AKAZE or XFeat + LighterGlue inliers, whichever is stronger, with the "
    "global similarity; robust: homography inliers; fused: inliers and the photos' global similarity; original: the design note's rule "
    "(80 best L2 matches, area > 30 px², full resolution).",
)
fused = rule in ("fused", "learned")  # both use the global descriptors
learned = rule == "learned"

# --- choose the reference -------------------------------------------------
mode = st.radio("Reference", REFERENCE_MODES, horizontal=True, key="verify_mode")
ref_key, ref_bytes = None, None
try:
    if mode == REFERENCE_MODES[0]:
        users = store.users()
        user = st.selectbox("User", users, key="verify_user", placeholder="No users yet")
        latest = store.latest(user) if user else None
        ref_key = latest.key if latest else None
    elif mode == REFERENCE_MODES[1]:
        keys = [r.key for u in store.users() for r in store.list(u)]
        ref_key = st.selectbox("Stored reference", keys, key="verify_key")
    else:
        sample = st.selectbox(
            "Sample reference",
            list_samples(),
            key="verify_ref_sample",
            index=list_samples().index("images/lightglue/DSC_0410.JPG"),
        )
        ref_bytes = (SAMPLES_DIR / sample).read_bytes()
except StoreError as exc:
    st.error(f"{v.MISSING_STD_PICTURE}: {exc}")
    st.stop()

if ref_key is None and ref_bytes is None:
    show_verdict(v.Verdict(400, v.NO_STD_IMG, False, "no stored reference for this choice: register one first"))
    st.stop()

try:
    if ref_key is not None:
        loaded, ref_image = stored_reference(ref_key, settings, fused)
        ref_features, ref_bytes = loaded.features, loaded.image
    else:
        assert ref_bytes is not None  # checked above: a reference key or its bytes
        ref_photo = prepared(ref_bytes, settings)
        ref_features, ref_image = ref_photo.features, ref_photo.image
except (StoreError, ImageInputError) as exc:
    show_verdict(v.Verdict(500, v.MISSING_STD_PICTURE, False, str(exc)))
    st.stop()

# --- the new photo --------------------------------------------------------
photo = photo_input("verify", "New photo source", default_sample="images/lightglue/DSC_0411.JPG")
if photo is None:
    st.stop()
try:
    query = prepared(photo.data, settings)
except ImageInputError as exc:
    show_verdict(unreadable_photo(exc, v.MISSING_PICTURE))
    st.stop()

# --- cheap step: reruns on every slider move ------------------------------
pair = matches(ref_features, query.features)
if fused:  # global descriptors: cached per photo, the kNN matches are reused
    pair = replace(pair, ref=embedded(ref_features, ref_image), query=embedded(query.features, query.image))
outcome = None
if learned:  # XFeat only runs when AKAZE is not conclusive (the reference's XFeat features are cached)
    pair = replace(pair, ref=with_xfeat(pair.ref, ref_image))
    evidence, outcome, decide_ms = decide_learned_pair(pair, query.image, thresholds)
    verdict = outcome.verdict
else:
    evidence, verdict, decide_ms = decide_pair(pair, thresholds, "fused" if fused else "robust")
if rule == "original" and ref_bytes is not None:
    verdict = decide_original(original(ref_bytes, photo.data), thresholds)
replay_finding, replay_picture = None, None
if rule != "original":  # the replay rule: is the new photo a copy of the reference?
    alignment = verification_alignment(evidence, ref_features)
    verdict, replay_finding, replay_picture = replay_view(
        verdict, ref_image, ref_features, query.image, query.features, thresholds, alignment
    )

show_raw = st.toggle("Show raw kNN matches instead of inliers/rejected", key="verify_raw")
xm = outcome.xfeat if outcome is not None else None
xfeat_view = xm is not None and st.radio("Matches drawn", ("XFeat + LighterGlue", "AKAZE"), horizontal=True) != "AKAZE"
view, stats = st.columns([3, 1])
with view:
    if xm is not None and xfeat_view:
        st.image(
            draw_point_matches(ref_image, query.image, xm.src, xm.dst, xm.geometry.inliers),
            caption="Reference (left) and new photo (right): XFeat + LighterGlue matches, "
            "homography inliers green, the others red",
        )
    else:
        st.image(
            draw_matches(ref_image, ref_features, query.image, query.features, pair.candidates, evidence, show_raw),
            caption="Reference (left) and new photo (right): AKAZE inliers green, rejected red, outline yellow",
        )
with stats:
    show_verdict(verdict)
    st.metric("Keypoints (reference / new)", f"{evidence.n_ref_keypoints} / {evidence.n_query_keypoints}")
    st.metric("Tentative matches", evidence.n_tentative)
    if learned:
        extra = verdict.extra
        akaze_col, xfeat_col = st.columns(2)
        akaze_col.metric("AKAZE inliers (checked)", extra["akaze_inliers"])
        xfeat_col.metric(
            "XFeat inliers (checked)",
            "not run" if xm is None else extra["xfeat_inliers"],
            help="XFeat + LighterGlue runs only when AKAZE's evidence is not conclusive.",
        )
        st.markdown(f"**Decided by:** {'XFeat + LighterGlue' if extra['decided_by'] == 'xfeat' else 'AKAZE'} evidence")
        if extra["similarity"] is not None:
            st.metric("Global similarity", f"{extra['similarity']:.2f}")
        st.caption(
            f"Learned score {extra['learned_score']:.2f} = log(1 + max(AKAZE, XFeat inliers)) + "
            f"{thresholds.learned_weight:g} x similarity; threshold {thresholds.learned_threshold:g}, "
            f"at least {thresholds.learned_min_inliers} inliers (or {thresholds.min_inliers} AKAZE inliers alone)"
        )
    elif fused and "similarity" in verdict.extra:
        inl_col, sim_col = st.columns(2)
        inl_col.metric(
            "Inliers",
            evidence.n_inliers,
            delta=evidence.n_inliers - thresholds.fused_min_inliers,
            help=f"Fused rule: at least {thresholds.fused_min_inliers} (geometric minimum); "
            f"{geometry_alone_inliers(thresholds)}+ accept on geometry alone.",
        )
        need = verdict.extra["required_similarity"]
        sim_col.metric(
            "Global similarity",
            f"{verdict.extra['similarity']:.2f}",
            delta=None if need is None else f"{verdict.extra['similarity'] - max(need, 0.0):+.2f}",
            help="Cosine similarity of the photos' EfficientNet-Lite0 descriptors; "
            "the delta is against what these inliers need.",
        )
        st.markdown(f"**Decided by:** {DECIDED_BY.get(verdict.extra['decided_by'], verdict.extra['decided_by'])}")
        st.caption(
            f"Fused score {verdict.extra['fused_score']:.2f} = log(1 + inliers) + "
            f"{thresholds.fused_weight:g} x similarity; threshold {thresholds.fused_threshold:g}"
        )
    else:
        st.metric("Inliers", evidence.n_inliers, delta=evidence.n_inliers - thresholds.min_inliers)
    st.metric("Inlier ratio", f"{evidence.inlier_ratio:.0%}")
    st.metric(
        "Outline area / new photo",
        f"{evidence.area_fraction:.1%}",
        help="Area of the reference outline projected into the new photo, as a share of its frame; "
        "over 100% when the new photo shows only part of the reference.",
    )
    if evidence.problems:
        st.caption("Homography problems: " + "; ".join(evidence.problems))
    show_timings({**query.timings, "match": pair.match_ms, **decide_ms})

if replay_picture is not None and replay_finding is not None:
    st.image(replay_picture)
    st.caption(
        "Replay check: reference aligned onto the new photo (left), new photo (middle), "
        f"difference of their fine detail (right). {'Replay' if replay_finding.replay else 'New photo'}: "
        f"{replay_finding.reason}"
    )
