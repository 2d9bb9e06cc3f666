"""The conformance table (tests/conformance_table.py): every hand-written row scores as written."""

import pytest
from conformance_table import ROWS

from scoring import read_reply, score, score_math, score_math_rules


def test_the_table_is_big_enough_and_holds_the_issue_rows():
    assert len(ROWS) >= 80
    assert sum(1 for row in ROWS if row[4].startswith("issue")) == 12


@pytest.mark.parametrize("answer, truth, metric, expected, note", ROWS, ids=[f"{i}-{row[4]}" for i, row in enumerate(ROWS)])
def test_row(answer, truth, metric, expected, note):
    assert score(answer, truth, metric) == pytest.approx(expected, abs=1e-9)


def test_math_verify_is_at_least_as_right_as_the_old_normaliser_on_every_math_row():
    rows = [row for row in ROWS if row[2] == "math"]
    for answer, truth, _, expected, note in rows:
        text = read_reply(answer).scored_text
        if score_math_rules(text, truth) == expected:
            assert score_math(text, truth) == expected, note
    assert sum(score_math(read_reply(a).scored_text, t) == e for a, t, _, e, _ in rows) > sum(
        score_math_rules(read_reply(a).scored_text, t) == e for a, t, _, e, _ in rows
    )
