"""Score an LLM answer against a ground truth, in [0, 1], by the query's `metric`.

    exact (default)  normalised exact match, or the ground truth contained in the answer
    multiple_choice  the last declared letter: "Answer: B", "\\boxed{\\text{B}}", "(B)", "the answer is b"
    number           GSM8K-style final number: "#### 1,234", 3.5 == 3.50, "$18.00" == 18
    math             equivalence by math-verify (HuggingFace): LaTeX, units, intervals, sets
    f1               token F1 (SQuAD-style)
    code             the answer's code run against the test assertions, isolated (code_sandbox.py)
    keywords         share of the ground-truth keywords present in the answer
    judge            an LLM judge's rating (judge.py); scored by the benchmark, not here

Only the final answer is scored, never a reasoning trace (`read_reply`): inline `<think>` blocks
and the other tag forms servers emit are taken out first; a trace that never closes leaves no
final answer (score 0). A query without a ground truth scores None (unscored), never a made-up value.
"""

from __future__ import annotations

import json
import re
import string
import threading
from collections import Counter
from dataclasses import dataclass
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
    "judge": "judge",
    "llm_judge": "judge",
}
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
    """`answer`'s score in [0, 1] against `ground_truth` under `metric`, or None without a truth.

    The answer is read by `read_reply` first: a reasoning trace is never scored, and an answer
    whose trace never closed scores 0. Raises ValueError for an unknown metric, and for `judge`
    (the benchmark asks the judge; see judge.py)."""
    if ground_truth is None:
        return None
    kind = canonical_metric(metric)
    if kind == "judge":
        raise ValueError("metric 'judge' is scored by an LLM judge (judge.py), not by scoring.score")
    if answer is None:
        return 0.0
    text = read_reply(_as_text(answer)).scored_text  # a server may send a number or a list where text belongs
    if text is None:
        return 0.0
    if kind == "code":
        return score_code(text, ground_truth, timeout=code_timeout, unsafe=unsafe_code)
    if kind == "keywords":
        return score_keywords(text, ground_truth)
    alternatives = ground_truth if isinstance(ground_truth, list) else [ground_truth]
    scorer = {
        "exact": score_exact,
        "multiple_choice": lambda a, g: score_multiple_choice(a, g, choices),
        "number": score_number,
        "math": score_math,
        "f1": score_f1,
    }[kind]
    return max((scorer(text, alt) for alt in alternatives), default=0.0)


# --- reasoning traces ---------------------------------------------------------------------------

# (opening, closing) of the trace forms that servers leave in `content` when they do not split the
# reasoning out: DeepSeek-R1 / Qwen3 / QwQ `<think>`, prompts asking for `<thinking>` or
# `<reasoning>`, Seed-OSS `<seed:think>`, Kimi `◁think▷`, Magistral `[THINK]`, Sky-T1 /
# OpenThoughts `<|begin_of_thought|>`, and gpt-oss's harmony `analysis` channel.
_TRACE_FORMS = [
    (r"<\s*(think|thinking|thought|thoughts|reasoning|reason|seed:think)(?:\s[^>]*)?>", r"<\s*/\s*{tag}\s*>"),
    (r"◁think▷", r"◁/think▷"),
    (r"\[THINK\]", r"\[/THINK\]"),
    (r"<\|begin_of_thought\|>", r"<\|end_of_thought\|>"),
    (r"<\|channel\|>\s*analysis\s*<\|message\|>", r"<\|end\|>|(?=<\|start\|>|<\|channel\|>)"),
]
_ANY_CLOSING = re.compile(
    r"<\s*/\s*(?:think|thinking|thought|thoughts|reasoning|reason|seed:think)\s*>|◁/think▷|\[/THINK\]|<\|end_of_thought\|>", re.IGNORECASE
)
# Wrappers around the final answer, dropped: Sky-T1's solution block, harmony's final channel.
_ANSWER_WRAPPERS = re.compile(
    r"<\|begin_of_solution\|>|<\|end_of_solution\|>|<\|start\|>\s*assistant|<\|channel\|>\s*final\s*<\|message\|>|<\|return\|>|<\|end\|>",
    re.IGNORECASE,
)


@dataclass
class Reply:
    """A model's reply read for scoring.

    final        the answer after the reasoning ("" when there is none)
    trace        the reasoning text, inline tags or the server's reasoning field ("" when none)
    status       "answer": a final answer exists; "from_reasoning": the final answer is empty and
                 the trace finished, so the trace's last paragraph stands in for it (the README's
                 rule); "no_final_answer": the trace never closed or was cut off, scored 0;
                 "empty": no answer and no trace
    scored_text  what the scorers read: `final`, the trace's last paragraph, or None (score 0)
    """

    final: str
    trace: str
    status: str
    scored_text: str | None


def split_reasoning(text: str) -> tuple[str, str, bool]:
    """(final answer, trace, every trace closed) for text that may hold inline reasoning.

    Every closed block of every form is taken out; a closing tag left without its opening one
    (templates that put `<think>` in the prompt, nested blocks) makes everything before it trace;
    an opening tag that never closes makes the rest of the text trace."""
    text = _as_text(text)
    traces: list[str] = []
    closed = True
    for opening, closing in _TRACE_FORMS:
        out, pos = [], 0
        for start in re.finditer(opening, text, re.IGNORECASE):
            if start.start() < pos:
                continue
            tag = start.group(1) if start.groups() else ""
            end = re.compile(closing.replace("{tag}", re.escape(tag)), re.IGNORECASE).search(text, start.end())
            out.append(text[pos : start.start()])
            if end is None:
                traces.append(text[start.end() :])
                pos, closed = len(text), False
                break
            traces.append(text[start.end() : end.start()])
            pos = end.end()
        out.append(text[pos:])
        text = "".join(out)
    orphans = list(_ANY_CLOSING.finditer(text))
    if orphans:  # a closing tag left over: its opening was in the prompt, or blocks were nested
        traces.insert(0, text[: orphans[-1].start()])
        text = text[orphans[-1].end() :]
    final = _ANSWER_WRAPPERS.sub("", text).strip()
    return final, "\n\n".join(t.strip() for t in traces if t.strip()), closed


def last_paragraph(text: str) -> str:
    """The text after the last blank line: where a finished trace states its conclusion."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    return paragraphs[-1] if paragraphs else ""


def read_reply(content: str | None, reasoning: str | None = None, finish_reason: str | None = None) -> Reply:
    """Read a reply: `content` (may hold inline traces), the server's separate reasoning field
    (`reasoning_content` / `reasoning`), and `finish_reason` ("length": cut at the token budget).

    The rule for an empty final answer after a finished trace (a server that put the whole answer
    in `reasoning_content`, or `<think>...</think>` and nothing after): the trace's last paragraph
    is scored, and the reply is marked "from_reasoning". A trace still open when the reply ended
    (no closing tag, or a reasoning field with an empty answer cut off by "length") is
    "no_final_answer" and scores 0."""
    final, inline_trace, closed = split_reasoning(content or "")
    trace = "\n\n".join(t for t in (_as_text(reasoning).strip() if reasoning else "", inline_trace) if t)
    if not closed:
        return Reply(final, trace, "no_final_answer", None)
    if final:
        return Reply(final, trace, "answer", final)
    if not trace:
        return Reply("", "", "empty", "")
    if finish_reason == "length":
        return Reply("", trace, "no_final_answer", None)
    return Reply("", trace, "from_reasoning", last_paragraph(trace))


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

# Declared answers: the LAST one in the text counts (a model that corrects itself, "Answer: A ...
# wait ... Answer: B", means B). Letters inside LaTeX or markdown are unwrapped first.
_MC_DECLARED = [
    r"\\boxed\s*\{\s*[\(\[]?([A-J])[\)\]]?\s*\}",
    r"\banswer(?:\s+(?:is|would\s+be|should\s+be|will\s+be|must\s+be))?\s*[:=\-]?\s*(?:(?:option|choice|letter)\s*)?[\(\[]?([A-J])[\)\]]?(?![\w'’])",
    r"\b(?:correct|right|best|final)\s+(?:option|choice|letter)(?:\s+(?:is|would\s+be))?\s*[:=\-]?\s*[\(\[]?([A-J])[\)\]]?(?![\w'’])",
    r"\bI\s+(?:choose|pick|select|go\s+with|would\s+choose|will\s+choose)\s+(?:option\s+|choice\s+)?[\(\[]?([A-J])[\)\]]?(?![\w'’])",
    # "C is the correct answer" says what "the correct answer is C" says: a correction in that
    # word order ("Answer: A ... On second thought, C is the correct answer") counts as well.
    r"(?:^|\b(?:option|choice)\s+|[\s(\[])[\(\[]?([A-J])[\)\]]?\s+is\s+(?:the\s+|my\s+)?(?:final\s+|correct\s+|right\s+)answer\b",
    # A self-correction names the new letter right after its marker: "Answer: A. Wait, no.
    # Actually, C is correct.", "Correction: it should be C.", "No wait - C.", "scratch that: B."
    r"\b(?:wait|actually|correction|scratch\s+that|on\s+second\s+thought|I\s+mean|make\s+that|oops|no\s*[,\u2014\u2013-])"
    r"[^A-Za-z\n]{0,4}(?:[^\n.]{0,30}?\b(?:is|be)\s+)?[\(\[]?([A-J])[\)\]]?"
    r"(?=\s*(?:[.!;:,]|$|\s+is\s+(?:the\s+)?(?:correct|right|answer|true)\b))",
]
# Weaker: "C is the correct answer" counts only where no answer is declared as above ("The answer
# is B. A is correct only when ..." means B).
_MC_CLAIMED = [
    r"(?:^|\b(?:option|choice)\s+|[\s(\[])[\(\[]?([A-J])[\)\]]?\s+is\s+(?:the\s+)?(?:correct|right|best|true)\b",
]
# Otherwise the first letter shaped like a pick, in this order of trust.
_MC_SHAPES = [
    r"^\s*[\(\[]([A-J])[\)\]]",
    r"^\s*([A-J])\s*(?:[\.\):]|$)",
    r"[\(\[]([A-J])[\)\]]",
    r"\b(?:option|choice)\s+([A-J])(?![\w'’])",
    r"\b([A-J])[\.\)](?:\s|$)",
    r"(?:^|\s)[\(\[]?([A-J])[\)\]]?\s*[.!]?\s*$",  # the last word: "... so it is C"
]
# "A" and "I" are also English words: "the answer is a bit long", "Answer: I think C". Either,
# followed by a lower-case word that could not follow an option letter, is read as the word.
_MC_HEDGE = re.compile(r"[\)\]]?\s*(?:\bor\b|/)\s*(?:option\s+|choice\s+)?[\(\[]?[A-J][\)\]]?(?![\w'’])", re.IGNORECASE)
_LETTER_AS_WORD = re.compile(r"\s+(?!(?:because|since|as|is|and|or|which|with|for|was|seems|but|so)\b)[a-z]")
_MARKUP = [
    (re.compile(r"\\(?:text|textbf|textit|mathrm|mathbf|mathit|mbox|texttt|emph)\s*\{([^{}]*)\}"), r"\1"),
    (re.compile(r"</?\s*answer\s*>", re.IGNORECASE), " answer: "),
    (re.compile(r"(?<![\w\\])(_{1,2})([^_\s][^_\n]{0,80}?)\1(?!\w)"), r"\2"),  # markdown emphasis: _C_, __C__
    (re.compile(r"[*$`]|\\\(|\\\)|\\\[|\\\]"), ""),
]


def _unmarkup(text: str) -> str:
    for pattern, replacement in _MARKUP:
        for _ in range(4):  # nested: \text{\textbf{B}}
            text, n = pattern.subn(replacement, text)
            if not n:
                break
    return text


def _letter_at(match: re.Match, text: str, valid: str, declared: bool) -> str | None:
    raw = match.group(1)
    letter = raw.upper()
    if letter not in valid:
        return None
    if letter in "AI":
        if _LETTER_AS_WORD.match(text, match.end(1)):
            return None
        # A lower-case "a" / "i" alone is the word, unless an answer was declared ("the answer is a")
        # or it is bracketed like an option label ("(a)", "a)").
        if raw.islower() and not declared and not re.search(r"[()\[\]]", match.group(0)):
            return None
    return letter


def extract_choice(answer: str, n_choices: int = 10) -> str | None:
    """The letter an answer picks (A.. up to `n_choices`), or None.

    The last declared answer wins ("Answer: B", "the correct option is (C)", "\\boxed{\\text{B}}");
    without one, the first letter shaped like a pick ("(B)", "B.", a line "B"). Case-insensitive,
    except that the words "a" and "I" are never read as letters."""
    valid = LETTERS[: max(n_choices, 1)]
    # Whitespace runs collapsed first: the patterns' neighbouring \s* then backtrack over a few
    # characters at most (a hostile "answer" + 20,000 spaces took a minute before).
    text = re.sub(r"[^\S\n]+", " ", _unmarkup(_as_text(answer)))
    text = re.sub(r" ?\n[\s]*", "\n", text).strip()
    alone = re.fullmatch(r"[\(\[]?([A-J])[\)\]]?[.!]?", text, flags=re.IGNORECASE)
    if alone:  # a reply that is one letter ("a", "b.") picks it: "a" alone is not the article
        return alone.group(1).upper() if alone.group(1).upper() in valid else None
    for tier in (_MC_DECLARED, _MC_CLAIMED):
        declared = []
        for pattern in tier:
            for match in re.finditer(pattern, text, flags=re.IGNORECASE):
                letter = _letter_at(match, text, valid, True)
                if letter:
                    declared.append((match.start(1), letter, match.end(1)))
        if declared:
            _, letter, end = max(declared)
            # A hedge ("Answer: A or B", "A/B") picks no single option: it scores as no answer.
            return None if _MC_HEDGE.match(text, end) else letter
    for pattern in _MC_SHAPES:
        for match in re.finditer(pattern, text, flags=re.IGNORECASE | re.MULTILINE):
            letter = _letter_at(match, text, valid, False)
            if letter:
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

_NUMBER = r"[-−]?\$?\s?\d[\d,]*(?:\.\d+)?|[-−]?\.\d+"
_NUMBER_WITH_FRACTION = r"(?:" + _NUMBER + r")(?:\s*/\s*\d+)?"
# Where a final answer is declared; the last declaration counts (self-corrections).
_NUMBER_MARKERS = re.compile(r"####|\banswer\b\s*(?:is|:|=|would\s+be|should\s+be)?|\\boxed\s*\{", re.IGNORECASE)


def _parse_number(text: str) -> Fraction | None:
    text = text.replace(",", "").replace("$", "").replace("−", "-").replace(" ", "").strip().rstrip(".")
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        return None


def _latex_digits(text: str) -> str:
    # LaTeX inside numbers: "1{,}000" and "1\\,000" are 1000.
    return re.sub(r"(?<=\d)(?:\{,\}|\\[,!; ])(?=\d)", lambda m: "," if m.group(0) == "{,}" else "", text)


def _first_number(text: str) -> Fraction | None:
    text = _latex_digits(text)
    text = re.sub(r"\\d?frac\s*\{\s*(\d+)\s*\}\s*\{\s*(\d+)\s*\}", r"\1/\2", _unmarkup(text))
    found = re.search(_NUMBER_WITH_FRACTION, text)
    return _parse_number(found.group(0)) if found else None


def final_number(text: str) -> Fraction | None:
    """The final number of an answer: the first number after the last declaration ("####",
    "the answer is", "\\boxed{"), within 60 characters of it; else the last number in the text.
    "$1,234.00" is 1234; a declared fraction ("the answer is 3/4") is 3/4; markup around the
    number ("**18**") is ignored."""
    text = _latex_digits(_as_text(text))
    for marker in list(_NUMBER_MARKERS.finditer(text))[-50:][::-1]:  # the last 50: bounded on hostile text
        value = _first_number(text[marker.end() : marker.end() + 60])
        if value is not None:
            return value
    # Undeclared: the last number, fractions not included ("1/3 pound ... costs $3 more" means 3).
    numbers = re.findall(_NUMBER, _unmarkup(text))
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


def _math_timeout() -> int | None:
    # math-verify bounds parsing and comparison with SIGALRM, which only the main thread may use.
    return 5 if threading.current_thread() is threading.main_thread() else None


def score_math(answer: str, truth) -> float:
    """1.0 when math-verify (HuggingFace's grader of open evaluation suites) finds the answer's
    final expression equal to the truth: the last \\boxed{} first, else the last expression;
    LaTeX, units and text (`18 \\text{ inches}` = 18), fractions and decimals, intervals, sets,
    equations (`x = 3` = 3), percentages. The truth is read as LaTeX (a bare `\\frac12` or `12\\text{ cm}`
    is wrapped in $...$). A parse or comparison that fails or times out is 0.0."""
    from math_verify import parse, verify

    timeout = _math_timeout()
    truth_text = _as_text(truth).strip()
    if "\\boxed" not in truth_text and "$" not in truth_text:
        truth_text = f"${truth_text}$"
    gold = parse(truth_text, parsing_timeout=timeout)
    got = parse(_as_text(answer), parsing_timeout=timeout)
    if not gold or not got:
        return 0.0
    return float(verify(gold, got, timeout_seconds=timeout))


def score_math_rules(answer: str, truth) -> float:
    """The hand-written normaliser that math-verify replaced, kept only to compare the two on the
    conformance table (tests/conformance_table.py)."""
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


_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})([^\n`]*)$")
_FENCE_TAG = re.compile(r"[ \t]*\{?\.?([\w+#.-]*)")
_PYTHON_TAGS = {"", "python", "py", "ipython", "pycon", "sage"}  # after the version is stripped: python3, py3
_CODE_START = re.compile(r"^(?:def |class |import |from \w|@\w|async def )", re.MULTILINE)


def code_blocks(answer: str) -> list[tuple[str, str]]:
    """(language tag, body) of each fenced block, in order. Backtick and tilde fences of any
    length, with any info string ("python3", "{.python}", "py title=x"); a fence closes only with
    the same character and at least its length; a block never closed runs to the end; a closing
    fence with nothing open opens an empty block, which is dropped."""
    blocks, lines = [], answer.splitlines()
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        fence, tag = opening.group(1), _FENCE_TAG.match(opening.group(2)).group(1).lower().rstrip("0123456789.")  # python3.11 -> python
        # CommonMark: a fence indented by N spaces (inside a list item) takes up to N spaces off each line.
        indent = len(lines[i]) - len(lines[i].lstrip(" "))
        body, i = [], i + 1
        while i < len(lines):
            closing = re.match(r"^[ \t]*(`{3,}|~{3,})[ \t]*$", lines[i])
            if closing and closing.group(1)[0] == fence[0] and len(closing.group(1)) >= len(fence):
                break
            line = lines[i]
            body.append(line[min(indent, len(line) - len(line.lstrip(" "))) :])
            i += 1
        i += 1
        if any(line.strip() for line in body):
            blocks.append((tag, "\n".join(body) + "\n"))
    return blocks


def extract_code(answer: str) -> str:
    """The Python code of an answer: its Python (or untagged) fenced blocks, those defining a
    function or class when any do; without a fence, the text with stray fence lines removed,
    from the first line that starts code (`def`, `class`, `import`, ...) when prose comes first."""
    blocks = code_blocks(answer)
    python = [body for tag, body in blocks if tag in _PYTHON_TAGS] or [body for _, body in blocks]
    if python:
        with_def = [b for b in python if "def " in b or "class " in b]
        return "\n\n".join(with_def or python)
    text = "\n".join(line for line in answer.splitlines() if not _FENCE.match(line))
    start = _CODE_START.search(text)
    if start and start.start() > 0:
        try:
            compile(text, "<answer>", "exec")  # parsed only, never run here
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return text[start.start() :]
    return text


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
