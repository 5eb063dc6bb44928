"""``bench.load_cpu`` runs on the bundled samples and splits the CPU by the second opinion."""

from __future__ import annotations

import re

from bench import load_cpu


def test_load_cpu_reports_every_verification_of_the_plan(capsys) -> None:
    assert load_cpu.main(["--requests", "4"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^verifications: 4, CPU [0-9.]+ s in all, mean \d+ ms, median \d+ ms, p95 \d+ ms$", out, re.M), (
        out
    )
    split = {
        m.group(1): 0 if m.group(2) == "none" else int(m.group(2))
        for m in re.finditer(r"^  (without a second opinion|with the second opinion): (none|\d+)", out, re.M)
    }
    assert set(split) == {"without a second opinion", "with the second opinion"} and sum(split.values()) == 4, out
    assert re.search(r"references registered: CPU \d+ ms each", out), out
