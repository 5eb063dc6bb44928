"""Tests of vision.tagging."""
