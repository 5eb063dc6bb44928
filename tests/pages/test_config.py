"""The dashboard's Streamlit settings: no usage statistics, no Deploy button."""

from __future__ import annotations

import tomllib
from pathlib import Path

CONFIG = Path(__file__).resolve().parents[2] / ".streamlit" / "config.toml"


def test_usage_statistics_off_and_no_deploy_button():
    config = tomllib.loads(CONFIG.read_text())
    assert config["browser"]["gatherUsageStats"] is False
    assert config["client"]["toolbarMode"] in ("minimal", "viewer")
    # uploads a little above the decoder's own 20 MB limit, so that limit's specific message is what people see
    assert 20 <= config["server"]["maxUploadSize"] <= 50
