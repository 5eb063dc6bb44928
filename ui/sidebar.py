"""The thresholds sidebar, and the profile file round trip.

Each page shows the thresholds that act on it (:data:`PAGE_CONTROLS`,
:func:`rule_controls` for the Verify page's rule); the Tuning lab shows the
full set.  Widget values live in ``st.session_state`` under ``th_<field>`` so
they keep their values across pages, including pages that do not draw them;
:func:`current_thresholds` rebuilds a :class:`vision.profile.Profile` from
them on every run.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import streamlit as st

from vision import rules
from vision.core.settings import load_settings, text
from vision.matchers.geometry import RANSAC_METHODS
from vision.profile import Profile, dumps_profile, load_profile, loads_profile, save_profile
from vision.rules.catalogue import default_rule_names

PREFIX = "th_"
DEFAULT_PROFILE_PATH = "profile.json"


@dataclass(frozen=True)
class Control:
    """How one threshold is shown: widget kind, label, options and help."""

    name: str
    label: str
    kind: str  # slider | select | select_slider | number
    options: tuple[Any, ...] = ()
    help: str = ""


DECISION_CONTROLS = (
    Control(
        "min_keypoints",
        "Minimum keypoints (register)",
        "slider",
        (0, 500, 5),
        "Fewer AKAZE keypoints than this: 'Too Little Features' (the note used 80).",
    ),
    Control(
        "ratio",
        "Lowe ratio",
        "slider",
        (0.5, 1.0, 0.01),
        "A match survives when its nearest neighbour is this much closer than the second.",
    ),
    Control("ransac_method", "Homography estimator", "select", tuple(RANSAC_METHODS)),
    Control("ransac_reproj_px", "RANSAC reprojection threshold (px)", "slider", (1.0, 20.0, 0.5)),
    Control(
        "min_inliers",
        "Minimum inliers",
        "slider",
        (4, 200, 1),
        "AKAZE homography inliers that accept alone: the robust rule's threshold, and under the fused and "
        "learned rules the count that carries a verdict without the similarity.",
    ),
    Control(
        "min_area_fraction",
        "Minimum outline area (fraction of frame)",
        "slider",
        (0.0, 0.5, 0.005),
        "The reference's projected outline must cover at least this much of the new photo.",
    ),
    Control(
        "original_min_area_px",
        "Original rule: minimum area (px²)",
        "number",
        (0.0, 1e9, 10.0),
        "The note's only decision: shoelace area of the outline > 30 px².",
    ),
    Control(
        "tag_min_confidence",
        "Tag: minimum confidence",
        "slider",
        (0.0, 1.0, 0.01),
        "A tag matches when its concept's confidence reaches this.",
    ),
)
FUSED_CONTROLS = (
    Control(
        "rule",
        "Default rule (API and CLI)",
        "select",
        default_rule_names(),
        "The rule the API and the CLI decide by (the catalogue's rules a profile may choose).",
    ),
    Control(
        "fused_min_inliers",
        "Fused: minimum inliers (geometric minimum)",
        "slider",
        (4, 50, 1),
        "Fewer homography inliers than this: rejected whatever the similarity "
        "(keeps out a different object of the same kind).",
    ),
    Control(
        "fused_weight",
        "Fused: weight of the similarity",
        "slider",
        (0.5, 10.0, 0.25),
        "w in log(1 + inliers) + w x similarity.",
    ),
    Control(
        "fused_threshold",
        "Fused: threshold",
        "slider",
        (0.5, 10.0, 0.05),
        "Accept when log(1 + inliers) + w x similarity reaches this.",
    ),
)
REPLAY_CONTROLS = (
    Control("replay_check", "Replay check", "select", ("on", "off"), "Reject a photo that repeats an earlier one."),
    Control(
        "replay_min_detail_ncc",
        "Replay: detail correlation of a digital copy",
        "slider",
        (0.5, 1.0, 0.005),
        "Aligned by a similarity, fine detail this correlated: a copy (genuine re-photos stay lower).",
    ),
    Control(
        "replay_min_framed_ncc",
        "Replay: detail correlation of a framed copy",
        "slider",
        (0.0, 1.0, 0.01),
        "Whole old frame in view with a flat border (screen, screenshot) and detail this correlated: a copy.",
    ),
)
LEARNED_CONTROLS = (
    Control(
        "learned_min_inliers",
        "Learned: minimum inliers (either matcher)",
        "slider",
        (4, 50, 1),
        "Fewer checked inliers than this from both AKAZE and XFeat: rejected whatever the similarity.",
    ),
    Control(
        "learned_weight",
        "Learned: weight of the similarity",
        "slider",
        (0.0, 10.0, 0.25),
        "w in log(1 + max(AKAZE, XFeat inliers)) + w x similarity.",
    ),
    Control(
        "learned_threshold",
        "Learned: threshold",
        "slider",
        (0.5, 10.0, 0.01),
        "Accept when log(1 + inliers) + w x similarity reaches this (or AKAZE alone passes the robust rule).",
    ),
    Control(
        "learned_max_stretch",
        "Learned: most stretch of XFeat's homography",
        "slider",
        (1.0, 64.0, 0.5),
        "XFeat inliers count only for a convex, unmirrored homography stretched at most this much.",
    ),
    Control(
        "learned_min_coverage",
        "Learned: least coverage of XFeat's inliers",
        "slider",
        (0.0, 1.0, 0.01),
        "XFeat inliers count only when they cover this share of both images.",
    ),
    Control(
        "learned_rotations",
        "Learned: retry XFeat on the turned photo",
        "select",
        (0, 1),
        "1: when XFeat is inconclusive, try the new photo turned by 90, 180 and 270 degrees (XFeat is not "
        "rotation-invariant; costs up to three more tries).",
    ),
    Control(
        "learned_outline",
        "Learned: what the homography checks project",
        "select",
        ("inliers", "frame"),
        "inliers: the box around XFeat's (and ALIKED's) inliers must stay convex, unmirrored and not overstretched "
        "(a homography fitted to part of an object or a room folds outside it); frame: the whole reference frame.",
    ),
    Control(
        "second_opinion_min_similarity",
        "Second opinion: least similarity (grey zone)",
        "slider",
        (-1.0, 1.0, 0.01),
        "A rejected pair whose photos look at least this alike is matched again with ALIKED + LightGlue.",
    ),
    Control(
        "second_opinion_min_inliers",
        "Second opinion: ALIKED inliers that accept",
        "slider",
        (0, 200, 1),
        "ALIKED + LightGlue checked inliers that accept a pair in the grey zone on their own; fewer count in the "
        "look-alike score as the first matchers' do (0: no second opinion).",
    ),
)
FEATURE_CONTROLS = (
    Control("working_side", "Working resolution (long side, px)", "select_slider", (640, 800, 1000, 1200, 1600)),
    Control("max_keypoints", "Keypoints kept for matching", "select_slider", (500, 1000, 2000, 4000, 8000)),
)


ALL_CONTROLS = {
    c.name: c for c in (*DECISION_CONTROLS, *FUSED_CONTROLS, *REPLAY_CONTROLS, *LEARNED_CONTROLS, *FEATURE_CONTROLS)
}
_REPLAY = tuple(c.name for c in REPLAY_CONTROLS)
_FEATURES = ("working_side", "max_keypoints")
_GEOMETRY = ("ratio", "ransac_method", "ransac_reproj_px")
#: The thresholds that act on each page (None: the full set).
PAGE_CONTROLS: dict[str, tuple[str, ...]] = {
    "register": ("min_keypoints", *_FEATURES),
    "tag": ("tag_min_confidence",),
}


#: The thresholds each rule of the Verify page reads (a rule not listed gets the full set).
def rule_controls(rule: str) -> tuple[str, ...]:
    """The thresholds acting on a verdict of ``rule``: the rule's own (:attr:`Rule.thresholds`), then the replay
    check's and the features' when the rule aligns by AKAZE features (the replay check runs after it)."""
    chosen = rules.get(rule)
    return (*chosen.thresholds, *_REPLAY, *_FEATURES) if chosen.aligns else chosen.thresholds


def current_thresholds() -> Profile:
    """The thresholds the sidebar shows now (defaults where a widget has not run yet)."""
    values = {f.name: st.session_state[PREFIX + f.name] for f in fields(Profile) if PREFIX + f.name in st.session_state}
    return Profile.from_dict(values)


def profile_path() -> Path:
    """Where 'Save for API/CLI' writes: ``VISION_PROFILE`` (environment or secrets, secrets win) or ./profile.json."""
    return Path(text(load_settings(), "VISION_PROFILE") or DEFAULT_PROFILE_PATH)


def apply_thresholds(thresholds: Profile) -> None:
    """Put ``thresholds`` into the widgets' state (call from a callback or before the widgets)."""
    for name, value in thresholds.to_dict().items():
        st.session_state[PREFIX + name] = value


def _initialise() -> None:
    if st.session_state.get(PREFIX + "initialised"):
        return
    try:
        start = load_profile(profile_path()) if profile_path().is_file() else Profile()
    except ValueError:
        start = Profile()
    apply_thresholds(start)
    st.session_state[PREFIX + "initialised"] = True


def _widget(control: Control) -> None:
    key = PREFIX + control.name
    if control.kind == "slider":
        lo, hi, step = control.options
        st.slider(control.label, lo, hi, step=step, key=key, help=control.help)
    elif control.kind == "select":
        st.selectbox(control.label, control.options, key=key, help=control.help)
    elif control.kind == "select_slider":
        st.select_slider(control.label, control.options, key=key, help=control.help)
    else:
        lo, hi, step = control.options
        st.number_input(control.label, lo, hi, step=step, key=key, help=control.help)


def _load_uploaded_profile() -> None:
    upload = st.session_state.get("profile_upload")
    if upload is None:
        return
    try:
        apply_thresholds(loads_profile(upload.getvalue().decode("utf-8", errors="replace")))
        st.session_state["profile_message"] = ("success", f"Loaded {upload.name}")
    except ValueError as exc:
        st.session_state["profile_message"] = ("error", f"{upload.name}: {exc}")


def _save_server_profile() -> None:
    try:
        path = save_profile(current_thresholds(), profile_path())
        st.session_state["profile_message"] = ("success", f"Saved to {path} (the API and CLI read it)")
    except OSError as exc:
        st.session_state["profile_message"] = ("error", f"Could not save: {exc.strerror}")


def _keep_values_across_pages() -> None:
    # Streamlit forgets a widget's value when a run does not draw it (a page
    # switch counts); re-assigning the keys before the widgets are drawn
    # keeps them.
    for key in [k for k in st.session_state if str(k).startswith(PREFIX)]:
        st.session_state[key] = st.session_state[key]


def prepare_state() -> Profile:
    """Load the profile once per session, keep every threshold across pages; the current thresholds.

    Call before any threshold widget is drawn; a page without a sidebar (the
    Demo page) calls only this.
    """
    _initialise()
    _keep_values_across_pages()
    return current_thresholds()


def render_sidebar(names: tuple[str, ...] | None = None) -> Profile:
    """Draw the thresholds sidebar and return the current thresholds.

    ``names`` are the thresholds to show (see :data:`PAGE_CONTROLS`); None
    shows the full set (the Tuning lab).  Every page calls this first: the
    sidebar belongs to the page run so that a page also works on its own
    (``AppTest.from_file("pages/verify.py")``).
    """
    prepare_state()
    if names is not None:
        return _render_some(names)
    with st.sidebar:
        st.header("Profile")
        rule_control, fused_controls = FUSED_CONTROLS[0], FUSED_CONTROLS[1:]
        _widget(rule_control)  # first: the lab's figures, sliders and Recommend follow it
        for control in DECISION_CONTROLS:
            _widget(control)
        with st.expander("Fused rule (inliers + global similarity)", expanded=False):
            for control in fused_controls:
                _widget(control)
            _fused_caption()
        with st.expander("Learned rule (AKAZE + XFeat inliers + similarity)", expanded=False):
            for control in LEARNED_CONTROLS:
                _widget(control)
        with st.expander("Replay check (a new photo, not an old one)"):
            for control in REPLAY_CONTROLS:
                _widget(control)
        with st.expander("Feature settings (recompute features)"):
            for control in FEATURE_CONTROLS:
                _widget(control)
        st.button("Reset to defaults", on_click=apply_thresholds, args=(Profile(),), key="reset_thresholds")
        _profile_box()
    return current_thresholds()


def _render_some(names: tuple[str, ...]) -> Profile:
    with st.sidebar:
        st.header("Thresholds on this page")
        for name in names:
            _widget(ALL_CONTROLS[name])
        if "fused_threshold" in names:
            _fused_caption()
        st.caption("The full set is in the Tuning lab.")
        st.button("Reset to defaults", on_click=apply_thresholds, args=(Profile(),), key="reset_thresholds")
        _profile_box()
    return current_thresholds()


def _fused_caption() -> None:
    """What the fused thresholds mean in similarity terms, at a few inlier counts."""
    try:
        t = current_thresholds()
    except ValueError:
        return
    from vision.rules.fusion import geometry_alone_inliers, required_similarity

    points = [n for n in (t.fused_min_inliers, 10, 15, 25) if n >= t.fused_min_inliers]
    needs = ", ".join(f"{n} inliers: {max(float(required_similarity(n, t)), 0.0):.2f}" for n in dict.fromkeys(points))
    st.caption(f"Similarity needed with {needs}; {geometry_alone_inliers(t)}+ inliers accept on geometry alone.")


def _profile_box() -> None:
    with st.expander("Profile file"):
        thresholds = current_thresholds()
        st.download_button(
            "Download JSON",
            dumps_profile(thresholds, "json"),
            "profile.json",
            "application/json",
            key="download_profile_json",
        )
        st.download_button(
            "Download TOML",
            dumps_profile(thresholds, "toml"),
            "profile.toml",
            "application/toml",
            key="download_profile_toml",
        )
        st.file_uploader(
            "Load a profile (JSON or TOML)",
            type=["json", "toml"],
            key="profile_upload",
            on_change=_load_uploaded_profile,
        )
        st.button(f"Save for API/CLI ({profile_path()})", on_click=_save_server_profile, key="save_profile")
        message = st.session_state.pop("profile_message", None)
        if message:
            getattr(st, message[0])(message[1])
