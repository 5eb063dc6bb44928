"""Plain-language wording for people: verdict headlines and homography problems.

The contract's messages ("You took wrong picture", "status 200") are for the
mobile client; a person watching a demo reads "Different: only 5 points line
up, 15 needed".  These helpers keep that wording in one place.
"""

from __future__ import annotations

import re

from vision.core import verdict as v

#: Plain headlines for the contract's answers that are not a match decision.
PLAIN_MESSAGES = {
    v.TAKE_PICTURE_AGAIN: "This photo could not be read: take it again",
    v.TOO_LITTLE_FEATURES: "Too plain to recognise later: too few distinctive points",
    v.GOOD_PICTURE: "Good reference photo",
    v.SOMETHING_WRONG: "Something went wrong on our side",
    v.NO_STD_IMG: "No reference photo yet: register one first",
    v.MISSING_PICTURE: "The new photo could not be read: take it again",
    v.MISSING_STD_PICTURE: "The stored reference photo cannot be read",
    v.WRONG_PICTURE: "Different",
    v.COMPLETE: "Same",
    v.NO_TAG: "No tag to check, or the photo could not be read",
    v.CLARIFAI_API_FAULT: "The tagging service failed",
    v.MATCHED: "The photo shows it",
    v.NOT_MATCHED: "The photo does not show it",
}

_PROBLEMS = (
    (re.compile(r"not convex"), "the outline would fold over itself"),
    (re.compile(r"mirrored"), "the outline would be mirrored"),
    (re.compile(r"(?:outline|inlier box) covers ([\d.]+) frames"), "the outline would be {0} times the photo"),
    (re.compile(r"collinear"), "the matched points lie on one line"),
    (re.compile(r"stretch ratio ([\d.]+)"), "the reference would be stretched {0} times more one way than the other"),
    (re.compile(r"not finite|infinity"), "the outline would run off to infinity"),
)


def same(noun: str, why: str) -> str:
    """``Same desk: 215 points line up``."""
    return f"Same {noun}: {why}"


def different(why: str) -> str:
    """``Different: only 5 points line up, 15 needed``."""
    return f"Different: {why}"


def plain_problem(problem: str) -> str:
    """One of :func:`vision.matchers.geometry.homography_problems`' reasons in everyday words."""
    for pattern, text in _PROBLEMS:
        found = pattern.search(problem)
        if found:
            return text.format(*found.groups())
    return problem


def plain_problems(problems: list[str]) -> str:
    """All problems in everyday words, joined."""
    return "; ".join(dict.fromkeys(plain_problem(p) for p in problems))


_UNUSABLE = (
    (re.compile(r"claims (\d+)x(\d+) pixels, more than ([\d.]+) MP"), "too large: {mp} MP, at most {2}"),
    (re.compile(r"only (\d+)x(\d+) pixels"), "too small: {0}x{1} px"),
)


def unusable_words(reason: str) -> str:
    """Why a photo cannot be used, short and specific ("too large: 108 MP, at most 64"; else the reason itself)."""
    for pattern, text in _UNUSABLE:
        found = pattern.search(reason)
        if found:
            groups = found.groups()
            mp = f"{int(groups[0]) * int(groups[1]) / 1e6:.0f}"
            return text.format(*groups, mp=mp)
    return reason


def plain_message(verdict: v.Verdict) -> str:
    """A headline for any verdict from its contract message (the decision views say more).

    A photo that cannot be used (``extra["error"]``) says why, specifically.
    """
    if verdict.extra.get("error") and verdict.reason:
        return f"This photo cannot be used: {unusable_words(verdict.reason)}"
    return PLAIN_MESSAGES.get(verdict.message, verdict.message)
