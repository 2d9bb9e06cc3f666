"""Each scoring rule pinned by a case written out by hand (these kill the mutants test_scoring.py let live)."""

from fractions import Fraction

import pytest

from scoring import (
    _latex_value,
    _parse_number,
    _truth_letter,
    extract_choice,
    final_number,
    last_boxed,
    normalise_latex,
    score_exact,
    score_f1,
    score_keywords,
    score_math,
    score_multiple_choice,
    score_number,
)


def test_exact_and_f1_edge_cases():
    assert score_exact("", "") == 1.0 and score_exact("something", "") == 0.0 and score_exact("", "the") == 1.0
    assert score_f1("", "") == 1.0 and score_f1("word", "") == 0.0 and score_f1("", "word") == 0.0
    assert score_f1("cat", "dog") == 0.0
    assert score_f1("cat dog", "cat") == pytest.approx(2 / 3)  # precision 1/2, recall 1


@pytest.mark.parametrize(
    "answer, n_choices, expected",
    [
        ("B", 1, None),  # only A is a valid letter
        ("(B)", 0, None),
        ("This is a.", 4, None),  # a bare lower-case "a" is the article
        ("a", 4, "A"),  # a reply that is the letter alone picks it: no sentence has the article alone
        ("e", 4, None),  # ... when it is a valid option
        ("the answer is a", 4, "A"),  # ... unless the pattern is explicit
        ("so a. then B. fine", 4, "B"),  # the article is skipped, the next match still counts
    ],
)
def test_choice_extraction_edges(answer, n_choices, expected):
    assert extract_choice(answer, n_choices) == expected


@pytest.mark.parametrize(
    "truth, choices, expected",
    [
        (0, None, "A"),
        (25, None, "Z"),
        (26, None, None),
        (-1, None, None),
        ("b", None, "B"),
        ("z", None, "Z"),
        ("ab", None, None),
        ("xy", None, None),
        ("The answer is (C)", None, "C"),
        ("Joule", ["newton", "joule"], "B"),
        ("watt", ["newton", "joule"], None),
    ],
)
def test_truth_letter(truth, choices, expected):
    assert _truth_letter(truth, choices) == expected


def test_multiple_choice_scoring_edges():
    three = ["newton", "joule", "watt"]
    assert score_multiple_choice("Answer: B", "joule", three) == 1.0  # truth as option text, answer as letter
    assert score_multiple_choice("It is Paris", "Paris") == 1.0  # no letter anywhere: exact match
    assert score_multiple_choice("It is Rome", "Paris") == 0.0
    assert score_multiple_choice("Answer: E", "E", three) == 0.0  # E is not one of three options
    assert score_multiple_choice("Answer: B", "B") == 1.0  # no choices given: any letter A-J
    assert score_multiple_choice("red or blue", "A", ["red", "blue"]) == 0.0  # names two options: no pick
    assert score_multiple_choice("blue, surely", "B", ["red", "blue"]) == 1.0
    assert score_multiple_choice("green", "A", ["red", "blue"]) == 0.0


def test_numbers():
    assert _parse_number("42.") == 42 and _parse_number(".5") == Fraction(1, 2) and _parse_number("$1,000") == 1000
    assert _parse_number("abc") is None
    assert final_number("The result 5 #### 7 and later 9") == 7
    assert final_number("Answer is 5; I also tried 7") == 5
    assert final_number("\\boxed{12} then 5") == 12
    assert final_number("nothing") is None
    assert score_number("0.0000001", 1e-07) == 1.0  # a float truth is read as a number, not searched for one
    assert score_number("9", "#### 9") == 1.0
    assert score_number("1000001", "1000000") == 1.0  # relative tolerance 1e-6, inclusive
    assert score_number("1000002", "1000000") == 0.0
    assert score_number("1.0000015", "1") == 0.0  # absolute 1e-6 below 1
    assert score_number("1.0000005", "1") == 1.0


@pytest.mark.parametrize(
    "text, expected",
    [
        ("\\boxed{1} then \\boxed{2}", "2"),
        ("\\fbox{1} \\fbox{2}", "2"),
        ("\\boxed{1} \\fbox{2}", "2"),
        ("{x} \\boxed{2}", "2"),
        ("{a} \\boxed{b}", "b"),
        ("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
        ("\\boxed{1", None),
        ("\\boxed", None),
        ("no box", None),
    ],
)
def test_last_boxed(text, expected):
    assert last_boxed(text) == expected


@pytest.mark.parametrize(
    "expr, expected",
    [
        ("$5$", "5"),
        ("$X$", "X"),
        ("5\\text{ cm}", "5cm"),
        ("5\\mbox{ cm}", "5cm"),
        ("\\left(1,2\\right)", "(1,2)"),
        ("1\\!000", "1000"),
        ("1\\,000", "1000"),
        ("1\\;000", "1000"),
        ("1\\ 000", "1000"),
        ("\\dfrac{1}{2}", "\\frac{1}{2}"),
        ("\\tfrac{1}{2}", "\\frac{1}{2}"),
        ("90^\\circ", "90"),
        ("90^{\\circ}", "90"),
        ("50\\%", "50"),
        ("50%", "50"),
        ("\\$5", "5"),
        ("\\displaystyle\\frac{1}{2}", "\\frac{1}{2}"),
        ("\\frac12", "\\frac{1}{2}"),
        ("\\frac{1}2", "\\frac{1}{2}"),
        ("\\frac1{2}", "\\frac{1}{2}"),
        ("\\sqrt2", "\\sqrt{2}"),
        ("5.", "5"),
        (".5", ".5"),
        ("2X.", "2X"),
        ("x=3", "3"),
        ("y = 4", "4"),
    ],
)
def test_normalise_latex(expr, expected):
    assert normalise_latex(expr) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("\\frac{1}{2}", Fraction(1, 2)),
        ("-\\frac{1}{2}", Fraction(-1, 2)),
        ("\\frac{1}{0}", None),
        ("3/4", Fraction(3, 4)),
        ("3/1", Fraction(3)),
        ("1/0", None),
        ("-2.5", Fraction(-5, 2)),
        ("1e3", None),
        ("x", None),
    ],
)
def test_latex_value(text, expected):
    assert _latex_value(text) == expected


def test_math_without_a_box_reads_the_final_number():
    assert score_math("The answer is 0.5", "\\frac{1}{2}") == 1.0
    assert score_math("The answer is 0.25", "\\frac{1}{2}") == 0.0
    assert score_math("I am not sure", "\\frac{1}{2}") == 0.0


def test_keywords_from_a_string_a_list_or_a_dict():
    assert score_keywords("exercise and diet", "exercise, diet; smoking\nsleep") == 0.5
    assert score_keywords("diet", ["!!!", "diet"]) == 1.0  # a keyword that normalises to nothing is dropped
    assert score_keywords("alpha beta", {"keywords": ["alpha", "gamma"]}) == 0.5
    assert score_keywords("anything", {"words": ["x"]}) == 0.0
    assert score_keywords("anything", "") == 0.0
    assert score_keywords("none of these", {"words": []}) == 0.0  # no keywords: nothing to find
    assert score_keywords("x only", ["x, y"]) == 0.0  # a list's items are whole keywords, not split


def test_metric_names_and_the_unknown_metric_message():
    from scoring import canonical_metric

    assert canonical_metric("") == "exact" and canonical_metric(None) == "exact" and canonical_metric(" MC ") == "multiple_choice"
    with pytest.raises(ValueError) as caught:
        canonical_metric("bleu")
    assert str(caught.value) == (
        "unknown metric 'bleu' (known: choice, code, contains, default, em, exact, exact_match, f1, gsm8k, humaneval, judge, "
        "keyword, keywords, latex, llm_judge, math, mbpp, mc, mcq, multiple_choice, number, numeric, token_f1)"
    )


def test_score_dispatch_edges():
    from scoring import score

    assert score(None, "x") == 0.0  # no answer, a ground truth: 0, not unscored
    assert score("Answer: B", "joule", "mc", ["newton", "joule"]) == 1.0  # the choices reach the scorer
    assert score("anything", [], "exact") == 0.0  # no alternative matches


def test_text_of_any_json_value():
    from scoring import _as_text

    assert (_as_text(True), _as_text(False), _as_text(3), _as_text("s")) == ("yes", "no", "3", "s")
    assert _as_text({"k": "é"}) == '{"k": "é"}' and _as_text([1, 2]) == "[1, 2]"


@pytest.mark.parametrize(
    "answer, expected",
    [
        ("```python\nx = 1\n```\n```py\ndef f():\n    return x\n```", "def f():\n    return x\n"),
        ("```Python\nclass A:\n    pass\n```\n```\nprint(1)\n```", "class A:\n    pass\n"),
        ("```\nx = 1\n```\ntext\n```python\ny = 2\n```", "x = 1\n\n\ny = 2\n"),
        ("def f(): return 1", "def f(): return 1"),
    ],
)
def test_code_extraction(answer, expected):
    from scoring import extract_code

    assert extract_code(answer) == expected


@pytest.mark.parametrize(
    "truth, expected",
    [
        ({"tests": ["assert f() == 1", "  "]}, ["assert f() == 1"]),
        ({"test": ["assert g()"]}, ["assert g()"]),
        ({"tests": [], "test": ["assert h()"]}, ["assert h()"]),
        ({"other": 1}, []),
        ("assert f() == 1\nassert f() != 2\n", ["assert f() == 1", "assert f() != 2"]),
        ("def helper():\n    return 1\nassert helper() == 1", ["def helper():\n    return 1\nassert helper() == 1"]),
        (["assert 1", 2], ["assert 1", "2"]),
    ],
)
def test_code_tests_from_the_ground_truth(truth, expected):
    from scoring import _code_tests

    assert _code_tests(truth) == expected


def test_code_scoring_keeps_to_the_wall_clock_limit_it_is_given():
    from scoring import score

    sleeper = "```python\nimport time\ntime.sleep(4)\ndef f():\n    return 1\n```"
    assert score(sleeper, ["assert f() == 1"], "code", code_timeout=1.0) == 0.0


def test_code_is_isolated_unless_asked_otherwise(tmp_path):
    from code_sandbox import isolation_problem
    from scoring import score

    if isolation_problem():
        pytest.skip(f"no isolation here: {isolation_problem()}")
    marker = tmp_path / "visible.txt"
    marker.write_text("x")
    probe = f"```python\nimport os\ndef sees():\n    return os.path.exists({str(marker)!r})\n```"
    assert score(probe, ["assert not sees()"], "code") == 1.0  # the default: the user's files are out of sight
    assert score(probe, ["assert not sees()"], "code", unsafe_code=True) == 0.0
