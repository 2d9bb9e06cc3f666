"""Score an LLM answer against a ground truth, in [0, 1], by the query's `metric`.

    exact (default)  normalised exact match, or the ground truth contained in the answer
    multiple_choice  the chosen letter, extracted robustly: "(B)", "Answer: B", "B.", "the answer is b"
    number           GSM8K-style final number: "#### 1,234", 3.5 == 3.50
    math             \\boxed{} with LaTeX normalisation: \\frac12 == \\frac{1}{2} == 1/2 == 0.5
    f1               token F1 (SQuAD-style)
    code             the answer's code run against the test assertions, isolated (code_sandbox.py)
    keywords         share of the ground-truth keywords present in the answer

A query without a ground truth scores None (unscored), never a made-up value.
"""

from __future__ import annotations

import json
import re
import string
from collections import Counter
from fractions import Fraction

from code_sandbox import run_code_tests

METRIC_ALIASES = {
    "exact": "exact",
    "exact_match": "exact",
    "em": "exact",
    "contains": "exact",
    "default": "exact",
    "multiple_choice": "multiple_choice",
    "mc": "multiple_choice",
    "mcq": "multiple_choice",
    "choice": "multiple_choice",
    "number": "number",
    "numeric": "number",
    "gsm8k": "number",
    "math": "math",
    "latex": "math",
    "f1": "f1",
    "token_f1": "f1",
    "code": "code",
    "humaneval": "code",
    "mbpp": "code",
    "keywords": "keywords",
    "keyword": "keywords",
}
METRICS = sorted(set(METRIC_ALIASES.values()))
LETTERS = string.ascii_uppercase


def canonical_metric(metric: str | None) -> str:
    if metric is None or metric == "":
        return "exact"
    try:
        return METRIC_ALIASES[str(metric).strip().lower()]
    except KeyError:
        raise ValueError(f"unknown metric {metric!r} (known: {', '.join(sorted(METRIC_ALIASES))})") from None


def score(
    answer: str | None, ground_truth, metric: str | None = None, choices=None, code_timeout: float = 10.0, unsafe_code: bool = False
) -> float | None:
    if ground_truth is None:
        return None
    if answer is None:
        return 0.0
    answer = _as_text(answer)  # a server may send a number or a list where text belongs
    kind = canonical_metric(metric)
    if kind == "code":
        return score_code(answer, ground_truth, timeout=code_timeout, unsafe=unsafe_code)
    if kind == "keywords":
        return score_keywords(answer, ground_truth)
    alternatives = ground_truth if isinstance(ground_truth, list) else [ground_truth]
    scorer = {
        "exact": score_exact,
        "multiple_choice": lambda a, g: score_multiple_choice(a, g, choices),
        "number": score_number,
        "math": score_math,
        "f1": score_f1,
    }[kind]
    return max((scorer(answer, alt) for alt in alternatives), default=0.0)


def _as_text(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value)


def normalise_text(text: str) -> str:
    text = _as_text(text).lower()
    text = "".join(ch if ch not in string.punctuation else " " for ch in text)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def score_exact(answer: str, truth) -> float:
    a, t = normalise_text(answer), normalise_text(truth)
    if not t:
        return float(not a)
    if a == t:
        return 1.0
    return 1.0 if re.search(r"(^| )" + re.escape(t) + r"( |$)", a) else 0.0


def score_f1(answer: str, truth) -> float:
    a, t = normalise_text(answer).split(), normalise_text(truth).split()
    if not a or not t:
        return float(a == t)
    common = sum((Counter(a) & Counter(t)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(a), common / len(t)
    return 2 * precision * recall / (precision + recall)


# --- multiple choice -------------------------------------------------------------------------

_MC_PATTERNS = [
    r"answer\s*(?:is|:)?\s*(?:option\s*)?[\(\[]?([A-J])[\)\]]?(?![A-Za-z])",
    r"(?:option|choice)\s*[\(\[]?([A-J])[\)\]]?(?![A-Za-z])",
    r"^\s*[\(\[]([A-J])[\)\]]",
    r"^\s*([A-J])\s*(?:[\.\):]|$)",
    r"[\(\[]([A-J])[\)\]]",
    r"\b([A-J])[\.\)](?:\s|$)",
]


def extract_choice(answer: str, n_choices: int = 10) -> str | None:
    """The letter an answer picks, or None. Case-insensitive: "the answer is b" picks B."""
    valid = LETTERS[: max(n_choices, 1)]
    text = answer.replace("*", "").strip()  # markdown emphasis: "**Answer:** D"
    for pattern in _MC_PATTERNS:
        for match in re.finditer(pattern, text, flags=re.IGNORECASE | re.MULTILINE):
            letter = match.group(1).upper()
            # A bare lower-case "a" is usually the article; accept it only in explicit patterns.
            if match.group(1) == "a" and pattern in (_MC_PATTERNS[3], _MC_PATTERNS[5]):
                continue
            if letter in valid:
                return letter
    return None


def _truth_letter(truth, choices) -> str | None:
    if isinstance(truth, int) and not isinstance(truth, bool):
        return LETTERS[truth] if 0 <= truth < len(LETTERS) else None
    text = _as_text(truth).strip()
    if len(text) == 1 and text.upper() in LETTERS:
        return text.upper()
    found = extract_choice(text)
    if found:
        return found
    if choices:
        for i, choice in enumerate(choices):
            if normalise_text(choice) == normalise_text(text):
                return LETTERS[i]
    return None


def score_multiple_choice(answer: str, truth, choices=None) -> float:
    letter = _truth_letter(truth, choices)
    if letter is None:
        return score_exact(answer, truth)
    picked = extract_choice(answer, len(choices) if choices else 10)
    if picked is None and choices:
        # No letter: accept an answer that names exactly one option's text.
        named = [LETTERS[i] for i, c in enumerate(choices) if score_exact(answer, c)]
        picked = named[0] if len(named) == 1 else None
    return float(picked == letter)


# --- numbers (GSM8K) ---------------------------------------------------------------------------

_NUMBER = r"-?\$?\d[\d,]*(?:\.\d+)?|-?\.\d+"


def _parse_number(text: str) -> Fraction | None:
    text = text.replace(",", "").replace("$", "").strip().rstrip(".")
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        return None


def final_number(text: str) -> Fraction | None:
    text = _as_text(text)
    for marker in (r"####\s*(" + _NUMBER + ")", r"answer\s*(?:is|:)\s*\**\s*(" + _NUMBER + ")", r"\\boxed\{\s*(" + _NUMBER + r")\s*\}"):
        found = re.findall(marker, text, flags=re.IGNORECASE)
        if found:
            return _parse_number(found[-1])
    numbers = re.findall(_NUMBER, text)
    return _parse_number(numbers[-1]) if numbers else None


def score_number(answer: str, truth) -> float:
    expected = _parse_number(_as_text(truth)) if isinstance(truth, (int, float)) else final_number(_as_text(truth))
    got = final_number(answer)
    if expected is None or got is None:
        return 0.0
    return float(abs(float(got) - float(expected)) <= 1e-6 * max(1.0, abs(float(expected))))


# --- MATH --------------------------------------------------------------------------------------


def last_boxed(text: str) -> str | None:
    """Content of the last \\boxed{...} (or \\fbox{...}), braces balanced."""
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    i = text.find("{", start)
    if i < 0:
        return None
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1 : j]
    return None


def normalise_latex(expr: str) -> str:
    s = _as_text(expr).strip().strip("$")
    s = re.sub(r"\\text\{([^}]*)\}", r"\1", s)
    s = re.sub(r"\\mbox\{([^}]*)\}", r"\1", s)
    for old, new in (
        ("\\left", ""),
        ("\\right", ""),
        ("\\!", ""),
        ("\\,", ""),
        ("\\;", ""),
        ("\\ ", ""),
        ("dfrac", "frac"),
        ("tfrac", "frac"),
        ("^\\circ", ""),
        ("^{\\circ}", ""),
        ("\\%", ""),
        ("%", ""),
        ("\\$", ""),
        ("\\displaystyle", ""),
    ):
        s = s.replace(old, new)
    s = re.sub(r"\\frac(\d)(\d)", r"\\frac{\1}{\2}", s)  # \frac12 -> \frac{1}{2}
    s = re.sub(r"\\frac\{([^{}]*)\}(\d)", r"\\frac{\1}{\2}", s)
    s = re.sub(r"\\frac(\d)\{", r"\\frac{\1}{", s)
    s = re.sub(r"\\sqrt(\w)", r"\\sqrt{\1}", s)
    s = s.replace(" ", "").rstrip(".")
    if s.startswith("x=") or s.startswith("y="):
        s = s[2:]
    return s


def _latex_value(s: str) -> Fraction | None:
    m = re.fullmatch(r"(-?)\\frac\{(-?\d+)\}\{(-?\d+)\}", s)
    if m:
        try:
            value = Fraction(int(m.group(2)), int(m.group(3)))
        except ZeroDivisionError:
            return None
        return -value if m.group(1) else value
    m = re.fullmatch(r"(-?\d+)/(-?\d+)", s)
    if m and int(m.group(2)) != 0:
        return Fraction(int(m.group(1)), int(m.group(2)))
    return _parse_number(s) if re.fullmatch(r"-?[\d,]*\.?\d+", s) else None


def score_math(answer: str, truth) -> float:
    truth_text = _as_text(truth)
    expected = normalise_latex(last_boxed(truth_text) or truth_text)
    boxed = last_boxed(answer)
    if boxed is None:
        found = final_number(answer)
        got = str(found) if found is not None else ""
    else:
        got = normalise_latex(boxed)
    if got == expected:
        return 1.0
    a, b = _latex_value(got), _latex_value(expected)
    return float(a is not None and b is not None and a == b)


# --- keywords ----------------------------------------------------------------------------------


def score_keywords(answer: str, truth) -> float:
    if isinstance(truth, dict):
        truth = truth.get("keywords", [])
    keywords = truth if isinstance(truth, list) else [k for k in re.split(r"[,;\n]", _as_text(truth)) if k.strip()]
    keywords = [normalise_text(k) for k in keywords if normalise_text(k)]
    if not keywords:
        return 0.0
    text = " " + normalise_text(answer) + " "
    return sum(1 for k in keywords if f" {k} " in text) / len(keywords)


# --- code --------------------------------------------------------------------------------------


def extract_code(answer: str) -> str:
    blocks = re.findall(r"```(?:python|py|Python)?[ \t]*\n(.*?)```", answer, flags=re.DOTALL)
    if blocks:
        with_def = [b for b in blocks if "def " in b or "class " in b]
        return "\n\n".join(with_def or blocks)
    return answer


def _code_tests(truth) -> list[str]:
    if isinstance(truth, dict):
        truth = truth.get("tests") or truth.get("test") or []
    if isinstance(truth, list):
        return [str(t) for t in truth if str(t).strip()]
    text = _as_text(truth)
    asserts = [line for line in text.splitlines() if line.strip().startswith("assert")]
    # A test body with helpers or loops is run as one test; plain assert lines count one each.
    return asserts if asserts and len(asserts) == len([ln for ln in text.splitlines() if ln.strip()]) else [text]


def score_code(answer: str, truth, timeout: float = 10.0, memory_mb: int = 512, unsafe: bool = False) -> float:
    """Share of test assertions the answer's code passes, run by code_sandbox (isolated with
    bubblewrap; `unsafe` runs it as the user, unisolated, and only when asked for)."""
    tests = _code_tests(truth)
    return run_code_tests(extract_code(answer), tests, timeout=timeout, memory_mb=memory_mb, unsafe=unsafe).score
