"""Complexity signals of one instruction/response pair (all model-free).

- tokens: words in the instruction (whitespace split);
- constraints: explicit requirements in the instruction: must / should / need to / have to / make sure /
  ensure / at least / at most / no more than / exactly / only / do not / don't / never / avoid / without /
  include / format / JSON / table / bullet / in N words ... (each match counts once);
- questions: question marks plus enumerated sub-tasks (numbered or bulleted lines) plus "and then" / "also"
  joins in the instruction;
- steps: reasoning steps in the response: numbered or "Step k" lines, lines holding an equation ("=" with
  digits around), GSM8K-style <<calc>> annotations, and "therefore / thus / hence / so" conclusions;
- code_blocks, ast_nodes: code in either part and the AST size of its Python (see `code`);
- mtld: lexical diversity of the response (MTLD, see `mtld`; 0 under 10 tokens, where it means nothing).
"""

from __future__ import annotations

import re

from qdc.complexity.code import code_stats
from qdc.complexity.mtld import mtld, tokens

CONSTRAINT = re.compile(
    r"\b(?:must|should|need to|needs to|have to|has to|make sure|ensure|at least|at most|no more than|"
    r"no less than|fewer than|less than|more than|exactly|only|do not|don't|never|avoid|without|"
    r"include|including|exclude|format|formatted|json|yaml|csv|markdown|table|bullet|numbered|"
    r"in (?:\d+|one|two|three|four|five|ten) (?:words?|sentences?|paragraphs?|lines?)|under \d+|"
    r"within \d+|limit|maximum|minimum|required|requirement|constraint|style of|tone|"
    r"step[- ]by[- ]step|explain your|justify|cite)\b",
    re.IGNORECASE,
)
LIST_LINE = re.compile(r"^\s*(?:\d+[.)]|[-*•]|[a-z][.)])\s+\S", re.MULTILINE)
JOINS = re.compile(r"\b(?:and then|then|also|additionally|as well as|after that|finally)\b", re.IGNORECASE)
STEP_LINE = re.compile(
    r"^\s*(?:\d+[.)]\s|step\s*\d+\b|first(?:ly)?,|second(?:ly)?,|third(?:ly)?,|next,|finally,)",
    re.IGNORECASE | re.MULTILINE,
)
EQUATION = re.compile(r"\d[\d.,)\s]*[-+*/×÷^]?\s*[\d.(]*\s*=\s*[-$]?\s*[\d.(]|<<[^>]*>>")
CONCLUSION = re.compile(r"\b(?:therefore|thus|hence|so the answer|consequently|it follows that)\b", re.IGNORECASE)

NAMES = ("tokens", "constraints", "questions", "steps", "code_blocks", "ast_nodes", "mtld")


def measure(prompt: str, response: str) -> dict[str, float]:
    """The raw signals of one row."""
    prompt = prompt or ""
    response = response or ""
    tokens_n = len(prompt.split())
    constraints = len(CONSTRAINT.findall(prompt))
    questions = prompt.count("?") + len(LIST_LINE.findall(prompt)) + len(JOINS.findall(prompt))
    eq_lines = sum(1 for ln in response.splitlines() if EQUATION.search(ln))
    steps = len(STEP_LINE.findall(response)) + eq_lines + len(CONCLUSION.findall(response))
    pb, pn = code_stats(prompt)
    rb, rn = code_stats(response)
    words = tokens(response)
    lexical = mtld(words) if len(words) >= 10 else 0.0
    return {
        "tokens": float(tokens_n),
        "constraints": float(constraints),
        "questions": float(questions),
        "steps": float(steps),
        "code_blocks": float(pb + rb),
        "ast_nodes": float(pn + rn),
        "mtld": lexical,
    }
