import pytest

from scoring import extract_choice, score


@pytest.mark.parametrize(
    "answer, expected",
    [
        ("(B)", "B"),
        ("Answer: B", "B"),
        ("B. joule", "B"),
        ("The answer is B.", "B"),
        ("the answer is b", "B"),
        ("I think the correct option is (C) because...", "C"),
        ("**Answer:** D", "D"),
        ("b) the second", "B"),
        ("A. 9\nB. 15", "A"),
        ("No idea at all", None),
        ("a cat sat", None),
    ],
)
def test_multiple_choice_letter_extraction(answer, expected):
    assert extract_choice(answer, 4) == expected


def test_multiple_choice_scoring_by_letter_index_or_text():
    choices = ["newton", "joule", "watt"]
    assert score("The answer is (B)", "B", "multiple_choice", choices) == 1.0
    assert score("Answer: A", "B", "multiple_choice", choices) == 0.0
    assert score("It is the joule.", "joule", "mc", choices) == 1.0  # truth as text, answer names one option
    assert score("Answer: b", 1, "mc", choices) == 1.0  # truth as an index


@pytest.mark.parametrize(
    "answer, truth, expected",
    [
        ("So the total is 3.50 dollars.", "3.5", 1.0),
        ("Step 1 ... #### 1,234", "1234", 1.0),
        ("The answer is 42. Earlier I computed 7.", "42", 1.0),
        ("She has 8 left", "#### 9", 0.0),
        ("It costs $21.", 21, 1.0),
        ("no number here", "5", 0.0),
    ],
)
def test_gsm8k_final_number(answer, truth, expected):
    assert score(answer, truth, "number") == expected


@pytest.mark.parametrize(
    "answer, truth",
    [
        ("So the result is \\boxed{\\frac12}.", "\\frac{1}{2}"),
        ("\\boxed{\\dfrac{1}{2}}", "$\\boxed{\\frac{1}{2}}$"),
        ("\\boxed{0.5}", "\\frac{1}{2}"),
        ("x = \\boxed{2}", "2"),
        ("\\boxed{\\left(1, 2\\right)}", "(1,2)"),
        ("\\boxed{90^\\circ}", "90"),
    ],
)
def test_math_boxed_with_latex_normalisation(answer, truth):
    assert score(answer, truth, "math") == 1.0


def test_math_wrong_answer_scores_zero():
    assert score("\\boxed{\\frac{1}{3}}", "\\frac{1}{2}", "math") == 0.0


def test_exact_containment_f1_keywords_and_any_json_truth():
    assert score("The capital is Paris.", "paris") == 1.0
    assert score("Paris, Texas? No: Lyon", "Marseille") == 0.0
    assert score("It is 7", 7) == 1.0  # a number as ground truth
    assert score("yes", True) == 1.0
    assert score("Rome", ["Roma", "Rome"]) == 1.0  # any of several answers
    assert score("the tendency to favour confirming information", "tendency to favour information that confirms", "f1") == pytest.approx(
        8 / 11
    )
    assert score("exercise and a good diet", ["exercise", "diet", "smoking"], "keywords") == pytest.approx(2 / 3)
    assert score("anything", None) is None  # no ground truth: unscored, not a made-up value


def test_code_runs_in_a_sandboxed_subprocess():
    answer = "Here you go:\n```python\ndef add(a, b):\n    return a + b\n```"
    assert score(answer, ["assert add(2, 3) == 5", "assert add(-1, 1) == 0"], "code") == 1.0
    assert score("```python\ndef add(a, b):\n    return a - b\n```", ["assert add(2, 3) == 5", "assert add(1, 0) == 1"], "code") == 0.5
    # An answer that loops forever is stopped by the time limit and scores 0.
    assert score("```python\nwhile True:\n    pass\n```", ["assert True"], "code", code_timeout=1.0) == 0.0
    # One that tries to eat memory hits the memory limit.
    assert score("```python\nx = bytearray(4 * 1024 ** 3)\ndef f():\n    return 1\n```", ["assert f() == 1"], "code") == 0.0
    # The environment is clean: no secrets from ours leak into the child.
    import os

    os.environ["SECRET_FOR_TEST"] = "s3cr3t"
    try:
        probe = "```python\nimport os\ndef leaked():\n    return os.environ.get('SECRET_FOR_TEST')\n```"
        assert score(probe, ["assert leaked() is None"], "code") == 1.0
    finally:
        del os.environ["SECRET_FOR_TEST"]


def test_code_side_effects_stay_in_a_temporary_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    answer = "```python\nopen('written.txt', 'w').write('x')\ndef f():\n    return 1\n```"
    assert score(answer, ["assert f() == 1"], "code") == 1.0
    assert not (tmp_path / "written.txt").exists()


def test_unknown_metric_is_an_error():
    with pytest.raises(ValueError, match="unknown metric"):
        score("x", "y", "bleu")
