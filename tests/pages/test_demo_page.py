"""AppTest of the Demo page: the story of each curated example, told in plain words."""

from __future__ import annotations

import re

import pytest
from page_helpers import figure_values, headlines, open_page, texts

from ui.examples import SCENARIOS, demo_queries, scenario_of


def _pick(at, key: str, path: str):
    at.button(key=f"{key}__{path}").click().run()
    assert not at.exception, at.exception
    return at


def test_opens_on_a_working_example(store_dir):
    at = open_page("pages/demo.py")
    found = headlines(at)
    # the reference accepted with its keypoints, the verdict, the tag check on the same photo
    assert found[0].startswith("✅ Accepted: ") and "distinctive points" in found[0]
    assert re.match(r"✅ Same building: \d+ points line up$", found[1])
    assert found[2].startswith("✅ Tag check: it shows a building")
    assert "Complete" in texts(at)  # the contract's word, in small type
    assert len(at.get("image")) >= 2  # keypoints and the match picture
    assert not at.sidebar.slider


@pytest.mark.parametrize(
    ("query", "accepted"),
    [
        ("demo/DSC_0411_dark.jpg", True),
        ("images/sacre_coeur/17295357_9106075285.jpg", False),
        ("tag/coffee.jpg", False),
    ],
)
def test_facade_story(store_dir, query, accepted):
    at = _pick(open_page("pages/demo.py"), "demo_new_facade_example", query)
    verdict = headlines(at)[1]
    assert verdict.startswith("✅ Same building") if accepted else verdict.startswith("❌ Different:")
    if not accepted:
        assert figure_values(at)["Points that line up"] == "0"


def test_switching_the_reference_switches_the_story(store_dir):
    at = open_page("pages/demo.py")
    landmark = scenario_of("images/sacre_coeur/17295357_9106075285.jpg")
    assert landmark is not None
    _pick(at, "demo_ref_example", landmark.reference.path)
    assert headlines(at)[1].startswith("✅ Same landmark:")
    keys = {b.key for b in at.button if b.key and b.key.startswith("demo_new_landmark_example__")}
    assert keys == {f"demo_new_landmark_example__{q.key}" for q in demo_queries(landmark)}


def test_scenarios_use_only_bundled_photos():
    from ui.examples import SAMPLES_DIR

    for scenario in SCENARIOS:
        for example in (scenario.reference, *scenario.queries):
            assert (SAMPLES_DIR / example.path).is_file(), example.path
