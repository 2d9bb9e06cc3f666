"""The scorers' conformance table: (answer, truth, metric, expected score) written by hand.

Every row of issue 20's table is here (marked "issue"), then the pitfalls that public graders
document per metric: the MATH / Minerva normaliser (units, \\text, \\dfrac, degrees, percent),
math-verify's test suite (intervals, sets, equations), lm-evaluation-harness's GSM8K filters
("####", "The answer is", `$`, thousands separators), the MMLU / GPQA letter extractors (markup,
self-corrections, "a" and "I" as words), HumanEval / MBPP code fences, SQuAD F1 normalisation,
and the reasoning-trace forms of DeepSeek-R1, Qwen3, QwQ, Seed-OSS, Kimi, Magistral, Sky-T1 and
gpt-oss. tests/test_conformance.py runs it; `python tests/conformance_table.py [scoring module dir]`
prints the pass count (used to compare with an older scorer).
"""

from __future__ import annotations

ADD_TESTS = ["assert add(2, 3) == 5", "assert add(-1, 1) == 0"]
ADD = "def add(a, b):\n    return a + b\n"
F = "```"

# (answer, truth, metric, expected, note)
ROWS: list[tuple[str, object, str, float, str]] = [
    # --- issue 20's table ---------------------------------------------------------------------
    ("Answer: A\nLet me re-check the second premise.\nWait, that was wrong.\nAnswer: B", "B", "mc", 1.0, "issue: last declared answer"),
    ("The final answer is $\\boxed{B}$", "B", "mc", 1.0, "issue: boxed letter"),
    ("So we get \\boxed{\\text{B}}", "B", "mc", 1.0, "issue: boxed text letter"),
    ("<think>Is it Sydney or Canberra? ... Sydney.</think>The capital of Australia is Sydney.", "Canberra", "exact", 0.0, "issue: trace"),
    ("<think>Maybe A? No, plants take in CO2, so C.</think>Answer: C", "C", "mc", 1.0, "issue: trace then answer"),
    (
        "<think>sunlight, chlorophyll, glucose are the key words; now let me draft",
        "sunlight, chlorophyll, glucose",
        "keywords",
        0.0,
        "issue",
    ),  # noqa: E501
    (F + "python\n" + ADD + F + "\n" + F, ADD_TESTS, "code", 1.0, "issue: stray closing fence"),
    (ADD + F, ADD_TESTS, "code", 1.0, "issue: closing fence with no opening"),
    ("Here it is:\n" + F + "python\n" + ADD, ADD_TESTS, "code", 1.0, "issue: python fence never closed"),
    (F + "python3\n" + ADD + F, ADD_TESTS, "code", 1.0, "issue: python3 fence tag"),
    (
        F + "python3\n" + ADD + F + "\nIn Ruby:\n" + F + "ruby\ndef add(a, b)\n  a + b\nend\n" + F,
        ADD_TESTS,
        "code",
        1.0,
        "python3 beside Ruby",
    ),
    ("The length is \\boxed{18 \\text{ inches}}.", "18", "math", 1.0, "issue: unit in the box"),
    ("\\boxed{12}", "12\\text{ cm}", "math", 1.0, "issue: unit in the truth"),
    # --- reasoning traces, every form ----------------------------------------------------------
    ("<think>The answer is 7? no.</think>#### 9", "9", "number", 1.0, "trace number ignored"),
    ("<think>#### 9</think>#### 7", "9", "number", 0.0, "trace number never scored"),
    ("<thinking>It is Lyon.</thinking>Paris", "Lyon", "exact", 0.0, "thinking tags"),
    ("<reasoning>A or B</reasoning>\nAnswer: B", "B", "mc", 1.0, "reasoning tags"),
    ("I weigh A against B... so B.</think>\n\nAnswer: B", "A", "mc", 0.0, "R1 template: opening tag in the prompt"),
    ("I weigh A against B... so B.</think>\n\nAnswer: B", "B", "mc", 1.0, "R1 template: opening tag in the prompt"),
    ("Maybe it is Sydney.</think>The capital is Canberra.", "Sydney", "exact", 0.0, "R1 template: the trace is not scored"),
    ("<seed:think>Canberra? Sydney.</seed:think>Sydney", "Canberra", "exact", 0.0, "Seed-OSS tags"),
    ("◁think▷Canberra? Sydney.◁/think▷Sydney", "Canberra", "exact", 0.0, "Kimi tags"),
    ("[THINK]Canberra? Sydney.[/THINK]Sydney", "Canberra", "exact", 0.0, "Magistral tags"),
    ("<|begin_of_thought|>Maybe 5<|end_of_thought|><|begin_of_solution|>#### 6<|end_of_solution|>", "6", "number", 1.0, "Sky-T1 tags"),
    (
        "<|channel|>analysis<|message|>Lyon?<|end|><|start|>assistant<|channel|>final<|message|>Paris<|return|>",
        "Paris",
        "exact",
        1.0,
        "harmony",
    ),  # noqa: E501
    ("<|channel|>analysis<|message|>Paris, probably, but", "Paris", "exact", 0.0, "harmony analysis never finished"),
    ("<THINK >Paris</ think >Lyon", "Paris", "exact", 0.0, "tag case and spaces"),
    ("<think>first</think>Answer: <think>B or C? C.</think>C", "C", "mc", 1.0, "two trace blocks"),
    ("<think>Paris is the capital.", "Paris", "exact", 0.0, "unclosed trace: no final answer"),
    ("<think>24 + 48 = 72 clips.\n\nSo she sold 72 clips.</think>", "72", "number", 1.0, "empty answer after a finished trace"),
    ("<think>She sold 72 clips.\n\nI am not sure yet</think>", "72", "number", 0.0, "rule: only the last paragraph"),
    ("<think>Canberra or Sydney\n\nSydney</think>", "Canberra", "exact", 0.0, "rule: only the last paragraph"),
    ("<think>A is wrong, C is wrong.\n\nSo the answer is B.</think>", "B", "mc", 1.0, "rule: the trace's conclusion"),
    ("<think>\n\n</think>\n\nParis", "Paris", "exact", 1.0, "Qwen3 empty trace (thinking off)"),
    ("<think>The answer is 42</think>\n<think>no: 41</think>", "41", "number", 1.0, "only traces: the last one's end"),
    # --- multiple choice ----------------------------------------------------------------------
    ("(B)", "B", "mc", 1.0, "parenthesised"),
    ("B", "B", "mc", 1.0, "bare letter"),
    ("b) the second one", "B", "mc", 1.0, "lower-case letter with parenthesis"),
    ("The answer is (C).", "C", "mc", 1.0, "answer is (C)"),
    ("**Answer:** D", "D", "mc", 1.0, "markdown emphasis"),
    ("The answer is: **B**", "B", "mc", 1.0, "emphasis around the letter"),
    ("<answer>C</answer>", "C", "mc", 1.0, "answer tags"),
    ("\\boxed{\\textbf{(C)}}", "C", "mc", 1.0, "bold letter in a box"),
    ("$\\boxed{\\mathrm{D}}$", "D", "mc", 1.0, "mathrm letter in a box"),
    ("The correct option is (C), since the others fail.", "C", "mc", 1.0, "correct option is"),
    ("The answer is B. Option A is wrong because it ignores friction.", "B", "mc", 1.0, "a later mention is not an answer"),
    ("The answer is a bit subtle; the correct option is C.", "C", "mc", 1.0, "'a' is the article"),
    ("The answer is a bit subtle.", "A", "mc", 0.0, "'a' is the article, no pick"),
    ("Answer: I think it is C", "C", "mc", 1.0, "'I' is the pronoun"),
    ("A good way to see it: the answer is D.", "D", "mc", 1.0, "leading article"),
    ("Answer: A\nActually no. Final answer: D", "D", "mc", 1.0, "self-correction to D"),
    ("the answer is b", "B", "mc", 1.0, "lower case declared"),
    ("I choose D.", "D", "mc", 1.0, "I choose"),
    ("a) the first one", "A", "mc", 1.0, "lower-case a as an option label"),
    ("\\boxed{\\text{\\textbf{C}}}", "C", "mc", 1.0, "nested markup"),
    ("The answer was a surprise to me: it is B.", "B", "mc", 1.0, "answer followed by the article"),
    ("Answer:\n\n(C) 15 N", "C", "mc", 1.0, "letter on the next line"),
    ("Answer: E", "B", "mc", 0.0, "wrong letter"),
    ("I don't know.", "B", "mc", 0.0, "no letter"),
    ("Final answer: (J)", "J", "mc", 1.0, "ten options"),
    ("C is the correct answer, since the force doubles.", "C", "mc", 1.0, "letter first: C is correct"),
    ("Option B is correct; A ignores friction.", "B", "mc", 1.0, "option B is correct"),
    ("The answer is B. A is correct only without friction.", "B", "mc", 1.0, "a declared answer beats a claim"),
    ("Answer: B", "joule", "mc", 0.0, "truth as text with no choices: never a letter match"),
    ("Answer: A\nOn second thought, C is the correct answer.", "C", "mc", 1.0, "self-correction: letter before 'is the correct answer'"),
    ("Answer: A\nOn second thought, C is the correct answer.", "A", "mc", 0.0, "self-correction: the first answer no longer counts"),
    ("Answer: A. Wait, no. Actually, C is correct.", "C", "mc", 1.0, "self-correction: 'Actually, C is correct'"),
    ("My answer: A. Correction: it should be C.", "C", "mc", 1.0, "self-correction: 'Correction: it should be C'"),
    ("Answer: A. No wait \u2014 C.", "C", "mc", 1.0, "self-correction: 'No wait - C'"),
    ("I'd go with A. Actually, scratch that: B.", "B", "mc", 1.0, "self-correction: 'scratch that: B'"),
    ("Answer: B. Wait, A is wrong.", "B", "mc", 1.0, "a marker before a letter said to be wrong is no correction"),
    ("Answer: C. No, because A fails.", "C", "mc", 1.0, "'No, because' is no correction"),
    ("There is no A. Answer: B", "B", "mc", 1.0, "'no A' is no pick"),
    ("Answer: A or B", "A", "mc", 0.0, "a hedge picks no single option"),
    ("Answer: A/B", "B", "mc", 0.0, "a hedge with a slash picks no single option"),
    ("Answer: A. Or maybe not.", "A", "mc", 1.0, "a sentence starting with 'Or' is no hedge"),
    ("a", "A", "mc", 1.0, "a reply that is the lower-case letter alone"),
    ("b.", "B", "mc", 1.0, "lower-case letter alone with a full stop"),
    ("Answer: __C__", "C", "mc", 1.0, "markdown underscore emphasis"),
    ("_D_", "D", "mc", 1.0, "markdown underscore emphasis alone"),
    # --- numbers (GSM8K) -----------------------------------------------------------------------
    ("She makes 9 * $2 = $18 every day.", "18", "number", 1.0, "dollar sign"),
    ("The answer is $18.00.", "18", "number", 1.0, "cents"),
    ("#### 1,234", "1234", "number", 1.0, "thousands separator"),
    ("So the total is 3.50 dollars.", "3.5", "number", 1.0, "trailing zero"),
    ("The answer is 5. Wait, I forgot the tax. The answer is 7.", "7", "number", 1.0, "self-correction"),
    ("The answer is **18** apples.", "18", "number", 1.0, "bold number"),
    ("The final answer is $\\boxed{18}$", "18", "number", 1.0, "boxed number"),
    ("\\boxed{\\$18}", "18", "number", 1.0, "boxed dollars"),
    ("The answer is −5 degrees.", "-5", "number", 1.0, "unicode minus"),
    ("The answer is 3/4 of the pie.", "0.75", "number", 1.0, "fraction"),
    ("Answer: 17.", "18", "number", 0.0, "wrong number"),
    ("She has 8 left.", "#### 9", "number", 0.0, "GSM8K truth format"),
    ("First 3 + 4 = 7, then 7 * 2 = 14.", "14", "number", 1.0, "last number without a declaration"),
    ("<<9*2=18>>18\n#### 18", "18", "number", 1.0, "calculator annotation"),
    ("I cannot tell.", "5", "number", 0.0, "no number"),
    ("The total is $\\boxed{1{,}000}$ dollars.", "1000", "number", 1.0, "LaTeX thousands separator"),
    ("So the answer is 12\\,500.", "12500", "number", 1.0, "LaTeX thin space"),
    ("In all she saved 12{,}500 dollars.", "12500", "number", 1.0, "LaTeX separator, undeclared"),
    # --- math (MATH, Minerva, math-verify) -----------------------------------------------------
    ("\\boxed{\\frac12}", "\\frac{1}{2}", "math", 1.0, "frac shorthand"),
    ("\\boxed{\\dfrac{1}{2}}", "0.5", "math", 1.0, "dfrac vs decimal"),
    ("\\boxed{90^\\circ}", "90", "math", 1.0, "degrees"),
    ("\\boxed{50\\%}", "50", "math", 1.0, "percent"),
    ("\\boxed{(1, 2)}", "(1,2)", "math", 1.0, "tuple spacing"),
    ("\\boxed{[1, 2)}", "[1,2)", "math", 1.0, "half-open interval"),
    ("\\boxed{(1, 2]}", "[1,2)", "math", 0.0, "wrong interval ends"),
    ("\\boxed{\\{1, 2\\}}", "\\{2, 1\\}", "math", 1.0, "set order"),
    ("\\boxed{x^2+2x+1}", "(x+1)^2", "math", 1.0, "expanded polynomial"),
    ("\\boxed{x = 3}", "3", "math", 1.0, "equation vs value"),
    ("\\boxed{\\frac{\\sqrt{2}}{2}}", "\\frac{1}{\\sqrt{2}}", "math", 1.0, "rationalised"),
    ("\\boxed{2\\sqrt{3}}", "\\sqrt{12}", "math", 1.0, "simplified root"),
    ("\\boxed{1,000}", "1000", "math", 1.0, "thousands separator"),
    ("\\boxed{\\frac{1}{3}}", "\\frac{1}{2}", "math", 0.0, "wrong fraction"),
    ("\\boxed{3}", "-3", "math", 0.0, "sign"),
    ("The answer is \\boxed{4}. Earlier I thought \\boxed{5}.", "5", "math", 1.0, "the last box counts"),
    ("So $x = \\frac{3}{4}$.", "\\frac{3}{4}", "math", 1.0, "no box: the last expression"),
    ("\\boxed{\\pi}", "3.14", "math", 0.0, "pi is not 3.14"),
    ("\\boxed{5 \\text{ cm}^2}", "5", "math", 1.0, "unit with exponent"),
    # --- exact ---------------------------------------------------------------------------------
    ("The capital is Paris.", "paris", "exact", 1.0, "containment, case"),
    ("Paris, Texas? No: Lyon", "Marseille", "exact", 0.0, "absent"),
    ("Parisian food", "Paris", "exact", 0.0, "whole words only"),
    ("It is 7", 7, "exact", 1.0, "number truth"),
    ("yes", True, "exact", 1.0, "boolean truth"),
    ("Rome", ["Roma", "Rome"], "exact", 1.0, "any of several"),
    ("", "", "exact", 1.0, "empty answer, empty truth"),
    ("The Beatles", "beatles", "exact", 1.0, "article dropped"),
    # --- f1 and keywords -----------------------------------------------------------------------
    ("the cat sat", "cat sat", "f1", 1.0, "articles dropped: the same tokens"),
    ("dog", "cat", "f1", 0.0, "no overlap"),
    ("exercise and a good diet", ["exercise", "diet", "smoking"], "keywords", 2 / 3, "two of three"),
    ("<think>exercise diet smoking</think>exercise", ["exercise", "diet", "smoking"], "keywords", 1 / 3, "trace keywords ignored"),
    # --- code ----------------------------------------------------------------------------------
    (F + "python\n" + ADD + F, ADD_TESTS, "code", 1.0, "plain fence"),
    (F + "py\n" + ADD + F, ADD_TESTS, "code", 1.0, "py tag"),
    (F + "Python\n" + ADD + F, ADD_TESTS, "code", 1.0, "capitalised tag"),
    ("~~~python\n" + ADD + "~~~", ADD_TESTS, "code", 1.0, "tilde fence"),
    ("````python\n" + ADD + "````", ADD_TESTS, "code", 1.0, "four-backtick fence"),
    (F + "{.python}\n" + ADD + F, ADD_TESTS, "code", 1.0, "pandoc attribute tag"),
    (F + "python3.11\n" + ADD + F + "\n" + F + "ruby\ndef add(a, b) a + b end\n" + F, ADD_TESTS, "code", 1.0, "versioned tag"),
    (F + "python:solution.py\n" + ADD + F, ADD_TESTS, "code", 1.0, "file name in the info string"),
    ("  " + F + "python\n" + ADD + "  " + F, ADD_TESTS, "code", 1.0, "indented fence"),
    (
        "1. The solution:\n\n    " + F + "python\n    def add(a, b):\n        return a + b\n    " + F,
        ADD_TESTS,
        "code",
        1.0,
        "fenced block indented as a whole (list item)",
    ),
    (F + "bash\npip install nothing\n" + F + "\n" + F + "python\n" + ADD + F, ADD_TESTS, "code", 1.0, "shell block skipped"),
    ("Here is the function:\n" + ADD, ADD_TESTS, "code", 1.0, "prose before unfenced code"),
    ("<think>def add(a, b): return a - b</think>" + F + "python\n" + ADD + F, ADD_TESTS, "code", 1.0, "code in the trace ignored"),
    (
        F + "python\ndef add(a, b):\n    return a - b\n" + F,
        ["assert add(2, 3) == 5", "assert add(1, 0) == 1"],
        "code",
        0.5,
        "half the tests",
    ),  # noqa: E501
    ("I cannot write this.", ADD_TESTS, "code", 0.0, "no code"),
]


def run(score) -> tuple[int, list[tuple[int, tuple, float | None]]]:
    """(rows passed, failures as (index, row, got)) under the scorer `score(answer, truth, metric)`."""
    failures = []
    for i, row in enumerate(ROWS):
        answer, truth, metric, expected, _ = row
        try:
            got = score(answer, truth, metric)
        except Exception as exc:  # an older scorer may not know a metric: that row fails
            got = f"{type(exc).__name__}"
        if not isinstance(got, float) or abs(got - expected) > 1e-9:
            failures.append((i, row, got))
    return len(ROWS) - len(failures), failures


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, sys.argv[1] if len(sys.argv) > 1 else str(Path(__file__).resolve().parent.parent))
    from scoring import score as scorer

    passed, failed = run(scorer)
    for i, row, got in failed:
        print(f"row {i} ({row[4]}): expected {row[3]}, got {got}")
    print(f"{passed}/{len(ROWS)} rows pass")
