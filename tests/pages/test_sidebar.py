"""The thresholds sidebar: each page shows what acts on it, values persist across pages, reset, profiles."""

from __future__ import annotations

import json

from page_helpers import open_page

from vision.profile import Profile, dumps_profile, load_profile


def _shown(at) -> set[str]:
    widgets = (*at.sidebar.slider, *at.sidebar.selectbox, *at.sidebar.select_slider, *at.sidebar.number_input)
    return {w.key for w in widgets if w.key and w.key.startswith("th_")}


def test_each_page_shows_the_thresholds_that_act_there(store_dir):
    at = open_page("pages/demo.py")
    assert _shown(at) == set()  # the demo decides with the profile, no sidebar
    at.switch_page("pages/register.py").run()
    assert _shown(at) == {"th_min_keypoints", "th_working_side", "th_max_keypoints"}
    at.switch_page("pages/tag.py").run()
    assert _shown(at) == {"th_tag_min_confidence"}
    at.switch_page("pages/verify.py").run()
    at.radio(key="verify_rule").set_value("robust").run()
    robust = _shown(at)
    assert {"th_ratio", "th_min_inliers", "th_min_area_fraction"} <= robust
    assert not robust & {"th_min_keypoints", "th_tag_min_confidence", "th_original_min_area_px", "th_fused_weight"}
    at.radio(key="verify_rule").set_value("fused").run()
    assert {"th_fused_min_inliers", "th_fused_weight", "th_fused_threshold"} <= _shown(at)
    at.radio(key="verify_rule").set_value("learned").run()
    learned = _shown(at)
    assert {"th_learned_min_inliers", "th_learned_weight", "th_learned_threshold"} <= learned
    assert not learned & {"th_fused_weight", "th_tag_min_confidence", "th_original_min_area_px"}
    at.switch_page("pages/tune.py").run()
    assert {"th_min_keypoints", "th_tag_min_confidence", "th_original_min_area_px"} <= _shown(at)  # the full set


def test_values_persist_across_pages(store_dir):
    at = open_page("pages/verify.py")
    at.slider(key="th_min_inliers").set_value(42).run()
    at.switch_page("pages/tag.py").run()  # a page that does not show it
    at.switch_page("pages/demo.py").run()
    at.switch_page("pages/verify.py").run()
    assert at.slider(key="th_min_inliers").value == 42


def test_reset_to_defaults(store_dir):
    at = open_page("pages/verify.py")
    at.slider(key="th_ratio").set_value(0.6).run()
    at.button(key="reset_thresholds").click().run()
    assert at.slider(key="th_ratio").value == Profile().ratio


def test_save_profile_for_api_and_cli(store_dir, tmp_path):
    at = open_page("pages/verify.py")
    at.slider(key="th_min_inliers").set_value(33).run()
    at.button(key="save_profile").click().run()
    saved = load_profile(tmp_path / "profile.json")
    assert saved.min_inliers == 33


def test_load_uploaded_profile_and_reject_bad_one(store_dir):
    at = open_page("pages/verify.py")
    toml = dumps_profile(Profile(min_inliers=77, ratio=0.7), "toml").encode()
    at.sidebar.file_uploader(key="profile_upload").set_value(("p.toml", toml, "application/toml")).run()
    assert at.slider(key="th_min_inliers").value == 77 and at.slider(key="th_ratio").value == 0.7
    bad = json.dumps({"thresholds": {"min_inliers": 2}}).encode()
    at.sidebar.file_uploader(key="profile_upload").set_value(("bad.json", bad, "application/json")).run()
    assert any("min_inliers must be >= 4" in e.value for e in at.error)
    assert at.slider(key="th_min_inliers").value == 77


def test_startup_reads_the_saved_profile(store_dir, tmp_path):
    (tmp_path / "profile.json").write_text(dumps_profile(Profile(min_inliers=55)))
    at = open_page("pages/verify.py")
    assert at.slider(key="th_min_inliers").value == 55
