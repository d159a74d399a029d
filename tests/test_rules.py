"""pike_tasks/rules.py is the one home of REPORTS.md's rules; the vectorised forms agree with it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd

from pike_tasks import rules, transforms, wording


def test_age_buckets_start_where_reports_md_says():
    assert [rules.age_bucket(d) for d in (1, 7, 8, 30, 31, 400)] == ["1-7", "1-7", "8-30", "8-30", "31+", "31+"]


def test_vectorised_age_buckets_agree_with_the_rule():
    days = np.arange(1, 500, dtype=np.int64)
    assert transforms.age_buckets(days).tolist() == [rules.age_bucket(int(d)) for d in days]


def test_half_up_rounding_has_one_formula_for_frames_and_words():
    parts, wholes = np.meshgrid(np.arange(0, 60), np.arange(0, 60))
    parts, wholes = parts.ravel(), wholes.ravel()
    keep = parts <= wholes
    frame = transforms.round_half_up_1dp(pd.Series(parts[keep]), pd.Series(wholes[keep])).tolist()
    assert frame == [rules.share_pct(int(p), int(w)) for p, w in zip(parts[keep], wholes[keep], strict=True)]
    assert [rules.share_pct(*pw) for pw in ((1, 16), (1, 8), (2, 3), (1, 6), (0, 0))] == [6.3, 12.5, 66.7, 16.7, 0.0]
    assert wording.share_pct(1, 16) == 6.3


def test_team_fallback_label_is_written_once():
    assert rules.team_label("0123456789abcdef", {}) == "Team 01234567"
    assert rules.team_label("0123456789abcdef", {"0123456789abcdef": "Delivery"}) == "Delivery"
    assert rules.team_label(None) == rules.NO_TEAM
    assert wording.team_label("0123456789abcdef", None) == "Team 01234567"


def test_the_words_module_imports_no_pandas():
    code = "import sys, pike_tasks.wording, pike_tasks.rules; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
