"""Generate sample_data/instructions.jsonl: synthetic instruction data with planted problems.

Everything here is written by us: task templates, facts and answers are generated from small hand-made
tables, so the file carries no third-party text. The output is deterministic (seeded).

What is planted (ids listed in sample_data/planted.json, described in sample_data/README.md):
- exact duplicates (same instruction and output, new id),
- near-duplicates (case/whitespace changes, a word swapped, a prefix added to the prompt),
- paraphrases (the same request reworded, answer reworded),
- junk: empty responses, truncated responses, refusals/AI boilerplate, repetitive loops, responses that
  echo the instruction, token soup, placeholder text.

Usage: python scripts/make_sample_data.py [--n-base 1000] [--seed 7] [--out sample_data]
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable
from pathlib import Path

Row = dict[str, str]

# ----------------------------------------------------------------------------------- task families

NAMES = [
    "Ana",
    "Bilal",
    "Chen",
    "Dara",
    "Emeka",
    "Farah",
    "Goran",
    "Hana",
    "Ivo",
    "Jun",
    "Kemal",
    "Lena",
    "Mateo",
    "Nia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sami",
    "Tomas",
    "Uma",
    "Viktor",
    "Wen",
    "Yara",
]
ITEMS = [
    ("apples", 0.5),
    ("notebooks", 2.25),
    ("pencils", 0.3),
    ("tickets", 12.0),
    ("mugs", 6.5),
    ("plants", 4.75),
    ("books", 9.0),
    ("cables", 3.2),
    ("candles", 1.8),
    ("stickers", 0.15),
]


def math_task(rng: random.Random) -> Row:
    name = rng.choice(NAMES)
    item, price = rng.choice(ITEMS)
    a, b = rng.randint(3, 40), rng.randint(2, 25)
    kind = rng.randrange(4)
    if kind == 0:
        total = round(a * price, 2)
        ins = f"{name} buys {a} {item} at ${price:.2f} each. How much does {name} spend in total?"
        out = (
            f"Each of the {item} costs ${price:.2f}, and {name} buys {a} of them.\n"
            f"Total = {a} x ${price:.2f} = ${total:.2f}.\n\nThe answer is ${total:.2f}."
        )
    elif kind == 1:
        ins = f"{name} had {a + b} {item} and gave away {b}. How many {item} are left?"
        out = f"Start with {a + b} and subtract the {b} given away: {a + b} - {b} = {a}.\n\nAnswer: {a}"
    elif kind == 2:
        per = rng.randint(2, 9)
        ins = (
            f"A box holds {per} {item}. {name} needs to pack {a * per} {item}. "
            f"How many boxes are needed? Show your steps."
        )
        out = (
            f"Step 1: Each box holds {per} {item}.\nStep 2: Divide the total by the box size: "
            f"{a * per} / {per} = {a}.\nStep 3: The division is exact, so no extra box is needed.\n\n"
            f"{name} needs {a} boxes."
        )
    else:
        pct = rng.choice([10, 15, 20, 25, 30, 40, 50])
        base = a * 10
        ins = f"A jacket costs ${base}. It is on sale for {pct}% off. What is the sale price?"
        off = base * pct / 100
        out = f"The discount is {pct}% of ${base} = ${off:g}.\nSale price = ${base} - ${off:g} = ${base - off:g}."
    return {"instruction": ins, "input": "", "output": out, "task": "math"}


FUNCS = [
    ("reverses a string", "reverse_string", "s: str", "str", "    return s[::-1]", 'reverse_string("abc") == "cba"'),
    (
        "returns the factorial of n",
        "factorial",
        "n: int",
        "int",
        "    result = 1\n    for k in range(2, n + 1):\n        result *= k\n    return result",
        "factorial(5) == 120",
    ),
    (
        "checks whether a number is prime",
        "is_prime",
        "n: int",
        "bool",
        "    if n < 2:\n        return False\n    k = 2\n    while k * k <= n:\n        if n % k == 0:\n"
        "            return False\n        k += 1\n    return True",
        "is_prime(13) is True",
    ),
    (
        "counts the vowels in a string",
        "count_vowels",
        "text: str",
        "int",
        '    return sum(1 for ch in text.lower() if ch in "aeiou")',
        'count_vowels("Banana") == 3',
    ),
    (
        "removes duplicates from a list while keeping order",
        "unique",
        "items: list",
        "list",
        "    seen = set()\n    out = []\n    for x in items:\n        if x not in seen:\n            seen.add(x)\n"
        "            out.append(x)\n    return out",
        "unique([3, 1, 3, 2, 1]) == [3, 1, 2]",
    ),
    (
        "returns the n-th Fibonacci number",
        "fibonacci",
        "n: int",
        "int",
        "    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a",
        "fibonacci(10) == 55",
    ),
    (
        "flattens a list of lists",
        "flatten",
        "nested: list",
        "list",
        "    return [x for inner in nested for x in inner]",
        "flatten([[1, 2], [3]]) == [1, 2, 3]",
    ),
    (
        "checks whether a string is a palindrome",
        "is_palindrome",
        "s: str",
        "bool",
        "    cleaned = [c.lower() for c in s if c.isalnum()]\n    return cleaned == cleaned[::-1]",
        'is_palindrome("A man, a plan, a canal: Panama") is True',
    ),
    (
        "merges two sorted lists into one sorted list",
        "merge_sorted",
        "a: list, b: list",
        "list",
        "    i = j = 0\n    out = []\n    while i < len(a) and j < len(b):\n        if a[i] <= b[j]:\n"
        "            out.append(a[i])\n            i += 1\n        else:\n            out.append(b[j])\n"
        "            j += 1\n    return out + a[i:] + b[j:]",
        "merge_sorted([1, 4], [2, 3]) == [1, 2, 3, 4]",
    ),
    (
        "returns the word that appears most often in a text",
        "most_common_word",
        "text: str",
        "str",
        "    counts = {}\n    for word in text.lower().split():\n        counts[word] = counts.get(word, 0) + 1\n"
        "    return max(counts, key=counts.get)",
        'most_common_word("a b a") == "a"',
    ),
]
CODE_ASKS = [
    "Write a Python function that {d}.",
    "Implement `{f}` in Python: a function that {d}.",
    "I need a Python helper that {d}. Please include a short example.",
    "Write a Python function that {d}. It must have type hints and must not use external libraries.",
]


def code_task(rng: random.Random) -> Row:
    desc, fname, args, ret, body, example = rng.choice(FUNCS)
    ins = rng.choice(CODE_ASKS).format(d=desc, f=fname)
    doc = desc[0].upper() + desc[1:]
    out = f'```python\ndef {fname}({args}) -> {ret}:\n    """{doc}."""\n{body}\n```\n\nExample: `{example}`.'
    if rng.random() < 0.5:
        out += f"\n\nThe function runs in a single pass where possible and {rng.choice(['handles empty input', 'has no side effects', 'works for any length'])}."
    return {"instruction": ins, "input": "", "output": out, "task": "code"}


REVIEWS_POS = [
    "The battery lasts all day and the screen is bright.",
    "Friendly staff and the food arrived hot.",
    "Setup took five minutes and it just works.",
    "The best hiking boots I have owned.",
    "Clear sound, comfortable fit, great value.",
    "The course was well paced and the examples helped.",
]
REVIEWS_NEG = [
    "It stopped charging after two weeks.",
    "We waited an hour and the order was wrong.",
    "The manual is useless and support never replied.",
    "The seams split on the first walk.",
    "Crackling audio and the band pinches.",
    "The lectures were rushed and the slides had errors.",
]


def classify_task(rng: random.Random) -> Row:
    pos = rng.random() < 0.5
    text = rng.choice(REVIEWS_POS if pos else REVIEWS_NEG)
    style = rng.randrange(3)
    if style == 0:
        ins = "Classify the sentiment of this review as positive or negative."
        return {"instruction": ins, "input": text, "output": "positive" if pos else "negative", "task": "classify"}
    if style == 1:
        ins = "Is the following customer review positive or negative? Answer with one word."
        return {"instruction": ins, "input": text, "output": "Positive" if pos else "Negative", "task": "classify"}
    ins = "Label the review's sentiment and give a one-sentence reason."
    reason = "it praises the product" if pos else "it reports a problem with the product"
    return {
        "instruction": ins,
        "input": text,
        "output": f"{'Positive' if pos else 'Negative'}: {reason}.",
        "task": "classify",
    }


FACTS = [
    (
        "photosynthesis",
        "Plants use sunlight, water and carbon dioxide to make glucose and release oxygen. "
        "The light reactions happen in the thylakoids; the Calvin cycle fixes carbon in the stroma.",
    ),
    (
        "the water cycle",
        "Water evaporates from oceans and lakes, condenses into clouds, falls as "
        "precipitation and flows back through rivers and groundwater.",
    ),
    (
        "compound interest",
        "Interest is added to the principal, so later interest is earned on earlier "
        "interest. With rate r per period, a balance grows by a factor (1 + r) each period.",
    ),
    (
        "how vaccines work",
        "A vaccine shows the immune system a harmless piece or copy of a pathogen so it "
        "builds antibodies and memory cells, which respond quickly to a real infection.",
    ),
    (
        "plate tectonics",
        "Earth's crust is split into plates that move on the mantle. Where they meet, "
        "they cause earthquakes, volcanoes and mountain ranges.",
    ),
    (
        "binary search",
        "Binary search finds an item in a sorted list by comparing with the middle element "
        "and discarding half of the list each step, taking O(log n) comparisons.",
    ),
    (
        "inflation",
        "Inflation is a general rise in prices that reduces what money can buy. Central banks "
        "often raise interest rates to slow it.",
    ),
    (
        "the greenhouse effect",
        "Gases such as carbon dioxide and methane absorb heat radiated by Earth's "
        "surface and re-emit part of it back down, warming the lower atmosphere.",
    ),
    (
        "HTTP caching",
        "Servers send headers such as Cache-Control and ETag so clients can reuse responses "
        "and revalidate them cheaply instead of downloading them again.",
    ),
    (
        "the immune system",
        "Innate defences respond fast and generally; adaptive immunity (B and T cells) "
        "learns specific targets and remembers them.",
    ),
    (
        "supply and demand",
        "When demand rises and supply stays the same, prices tend to rise; when supply "
        "rises faster than demand, prices tend to fall.",
    ),
    (
        "garbage collection",
        "A garbage collector finds memory that the program can no longer reach and frees "
        "it, using techniques such as reference counting or tracing from roots.",
    ),
]
EXPLAIN_ASKS = [
    "Explain {t} in simple terms.",
    "Give a short explanation of {t} for a high-school student.",
    "What is {t}? Answer in two or three sentences.",
    "Explain {t}. Use exactly three bullet points and do not use jargon.",
]


def explain_task(rng: random.Random) -> Row:
    topic, fact = rng.choice(FACTS)
    ask = rng.choice(EXPLAIN_ASKS)
    ins = ask.format(t=topic)
    if "bullet" in ask:
        parts = [p.strip() for p in fact.replace(";", ".").split(".") if p.strip()]
        fillers = [
            f"It matters because it explains everyday observations about {topic}",
            f"You meet {topic} in school science and in the news",
        ]
        while len(parts) < 3:
            parts.append(fillers[len(parts) - 1] if len(parts) >= 1 else fillers[0])
        out = "\n".join(f"- {p}." for p in parts[:3])
    else:
        out = fact + rng.choice(
            [
                "",
                " In short, it is a cycle of cause and effect.",
                f" This is why {topic} comes up so often in introductory courses.",
            ]
        )
    return {"instruction": ins, "input": "", "output": out, "task": "explain"}


EMAIL_SITUATIONS = [
    ("ask a landlord to fix a leaking tap", "landlord", "the kitchen tap has been leaking for a week"),
    ("request a deadline extension from a professor", "professor", "I was ill for several days"),
    ("thank a colleague for help with a launch", "colleague", "the launch went smoothly"),
    ("decline a meeting invitation politely", "organiser", "I have a conflicting commitment"),
    ("follow up on a job application", "hiring manager", "I applied two weeks ago"),
    ("ask a neighbour to keep the noise down at night", "neighbour", "I start work early"),
]


OPENERS = {
    "formal": ["I am writing to you regarding the matter below.", "Please allow me to raise the following."],
    "friendly": ["Hope your week is going well!", "Quick note from me today."],
    "polite": ["I hope you are well.", "I hope this message finds you well."],
    "brief": ["", "Short one:"],
}
ASKS = [
    "Could we find a solution this week?",
    "Would you be able to look into it when convenient?",
    "Please tell me what would work for you.",
    "I would appreciate a reply by Friday if possible.",
    "Let me know if you need anything else from me.",
]
CLOSINGS = ["Best regards", "Kind regards", "Thanks again", "Many thanks", "Sincerely", "Cheers"]
DETAILS = [
    "I can share more details if that helps.",
    "I have attached a short summary.",
    "I am free most afternoons for a call.",
    "This has been on my mind for a few days.",
    "I know you are busy, so I kept this short.",
    "",
]


def email_task(rng: random.Random) -> Row:
    goal, to, why = rng.choice(EMAIL_SITUATIONS)
    name = rng.choice(NAMES)
    tone = rng.choice(list(OPENERS))
    ins = f"Write a {tone} email to {goal}. Sign it as {name}."
    body = " ".join(
        x
        for x in [
            rng.choice(OPENERS[tone]),
            f"I am getting in touch because {why}.",
            rng.choice(DETAILS),
            rng.choice(ASKS),
        ]
        if x
    )
    out = f"Subject: {goal[0].upper() + goal[1:]}\n\nDear {to.title()},\n\n{body}\n\n{rng.choice(CLOSINGS)},\n{name}"
    return {"instruction": ins, "input": "", "output": out, "task": "email"}


SENTENCES = [
    "the meeting was moved to thursday because the room was booked",
    "our team shipped the new search page and users found results faster",
    "the river flooded the lower fields after three days of heavy rain",
    "she finished the marathon in under four hours despite the heat",
    "the library will close early on friday for maintenance",
    "the new policy requires two approvals before any refund is issued",
]


def rewrite_task(rng: random.Random) -> Row:
    s = rng.choice(SENTENCES)
    kind = rng.randrange(3)
    if kind == 0:
        return {
            "instruction": "Rewrite the sentence with correct capitalisation and punctuation.",
            "input": s,
            "output": s[0].upper() + s[1:] + ".",
            "task": "rewrite",
        }
    if kind == 1:
        words = s.split()
        return {
            "instruction": "How many words are in this sentence?",
            "input": s,
            "output": str(len(words)),
            "task": "rewrite",
        }
    return {
        "instruction": "Summarise the sentence in at most six words.",
        "input": s,
        "output": " ".join(s.split()[:6]).capitalize() + ".",
        "task": "rewrite",
    }


LIST_TOPICS = [
    (
        "tips for better sleep",
        [
            "Keep a regular bedtime",
            "Avoid screens for an hour before bed",
            "Keep the bedroom cool and dark",
            "Limit caffeine after noon",
            "Get daylight in the morning",
        ],
    ),
    (
        "ways to reduce food waste",
        [
            "Plan meals for the week",
            "Store produce correctly",
            "Freeze leftovers in portions",
            "Use older items first",
            "Compost what cannot be eaten",
        ],
    ),
    (
        "habits of effective code review",
        [
            "Review small changes",
            "Run the tests locally",
            "Comment on the code, not the person",
            "Ask questions before demanding changes",
            "Check the error paths",
        ],
    ),
    (
        "steps to prepare for a job interview",
        [
            "Research the company",
            "Practise common questions",
            "Prepare examples of your work",
            "Plan your route",
            "Prepare questions for the interviewer",
        ],
    ),
]


def list_task(rng: random.Random) -> Row:
    topic, items = rng.choice(LIST_TOPICS)
    k = rng.randint(3, 5)
    ins = f"List {k} {topic}."
    chosen = rng.sample(items, k)
    out = "\n".join(f"{i + 1}. {item}." for i, item in enumerate(chosen))
    return {"instruction": ins, "input": "", "output": out, "task": "list"}


FAMILIES: list[tuple[Callable[[random.Random], Row], float]] = [
    (math_task, 0.22),
    (code_task, 0.18),
    (classify_task, 0.14),
    (explain_task, 0.14),
    (email_task, 0.1),
    (rewrite_task, 0.1),
    (list_task, 0.12),
]

# ---------------------------------------------------------------------------------------- planting

SWAPS = {
    "total": "overall",
    "short": "brief",
    "write": "compose",
    "explain": "describe",
    "simple": "plain",
    "list": "give",
    "polite": "courteous",
    "function": "routine",
    "answer": "reply",
    "needs": "requires",
}
PREFIXES = ["Please answer the following. ", "Task: ", "You are a helpful assistant. ", "Question: "]
REFUSALS = [
    "I'm sorry, but as an AI language model I cannot help with that request.",
    "As an AI, I don't have personal opinions, but I cannot provide that information.",
    "I apologize, but I am unable to assist with this request.",
]
PLACEHOLDERS = [
    "[Insert answer here]",
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit.",
    "TODO: write the response",
    "<response>",
]


def near_dup(row: Row, rng: random.Random) -> Row:
    new = dict(row)
    kind = rng.randrange(3)
    if kind == 0:  # case and whitespace
        new["instruction"] = "  " + row["instruction"].lower().replace(" ", "  ", 2) + " "
    elif kind == 1:  # a word swapped in the response
        words = row["output"].split(" ")
        idx = [i for i, w in enumerate(words) if w.lower().strip(".,") in SWAPS]
        if idx:
            i = rng.choice(idx)
            words[i] = SWAPS[words[i].lower().strip(".,")]
        else:
            words.insert(len(words) // 2, "also")
        new["output"] = " ".join(words)
    else:  # prefixed prompt
        new["instruction"] = rng.choice(PREFIXES) + row["instruction"]
    return new


PARA_INS = [
    ("How much does", "What is the total amount"),
    ("How many", "What number of"),
    ("Explain", "Describe"),
    ("Write a", "Draft a"),
    ("List", "Name"),
    ("Classify", "Determine"),
    ("Summarise", "Condense"),
]


def paraphrase(row: Row) -> Row | None:
    ins = row["instruction"]
    for a, b in PARA_INS:
        if ins.startswith(a):
            new = dict(row)
            new["instruction"] = b + ins[len(a) :]
            out = row["output"]
            new["output"] = (
                out.replace("The answer is", "So the result is")
                .replace("Answer:", "Result:")
                .replace("In short,", "To sum up,")
                .replace("I hope you are well.", "I hope this finds you well.")
            )
            return new
    return None


def junk(row: Row, kind: str, rng: random.Random) -> Row:
    new = dict(row)
    out = row["output"]
    if kind == "empty":
        new["output"] = rng.choice(["", " ", "\n"])
    elif kind == "truncated":
        cut = max(8, int(len(out) * rng.uniform(0.3, 0.6)))
        new["output"] = out[:cut].rstrip(" .") if "```" not in out else out[: out.index("```") + 40]
    elif kind == "refusal":
        new["output"] = rng.choice(REFUSALS)
    elif kind == "repetitive":
        phrase = " ".join(out.split()[:6]) or "the answer is"
        new["output"] = " ".join([phrase] * rng.randint(8, 14))
    elif kind == "echo":
        new["output"] = row["instruction"]
    elif kind == "soup":
        alphabet = "qwrtzpsdfghjklxcvbnm#@%&*~^"
        new["output"] = " ".join(
            "".join(rng.choice(alphabet) for _ in range(rng.randint(2, 9))) for _ in range(rng.randint(20, 50))
        )
    elif kind == "placeholder":
        new["output"] = rng.choice(PLACEHOLDERS)
    new["task"] = row["task"]
    return new


def _grams(row: Row) -> set[tuple[str, ...]]:
    words = " ".join([row["instruction"], row["input"], row["output"]]).lower().split()
    return {tuple(words[i : i + 3]) for i in range(max(1, len(words) - 2))}


def generate(n_base: int, seed: int) -> tuple[list[dict[str, str]], dict[str, list[str]]]:
    rng = random.Random(seed)
    funcs, weights = zip(*FAMILIES, strict=True)
    base: list[Row] = []
    shingles: dict[str, list[set[tuple[str, ...]]]] = {}
    misses = dict.fromkeys(funcs, 0)
    quota = {f: round(w * n_base) for f, w in FAMILIES}
    taken = dict.fromkeys(funcs, 0)
    while any(misses[f] < 300 and taken[f] < quota[f] for f in funcs):
        func = rng.choices(funcs, weights=weights)[0]
        if misses[func] >= 300 or taken[func] >= quota[func]:  # full, or no new variety left
            continue
        row = func(rng)
        # Base rows must not be near-duplicates of each other (word 3-gram Jaccard < 0.5 within a
        # family), so the only duplicates in the file are the planted ones.
        grams = _grams(row)
        family = shingles.setdefault(row["task"], [])
        if any(len(grams & g) / max(1, len(grams | g)) >= 0.5 for g in family):
            misses[func] += 1
            continue
        misses[func] = 0
        taken[func] += 1
        family.append(grams)
        base.append(row)
    n_found, requested = len(base), n_base
    planted: dict[str, list[str]] = {
        k: []
        for k in (
            "exact_duplicate",
            "near_duplicate",
            "paraphrase",
            "junk_empty",
            "junk_truncated",
            "junk_refusal",
            "junk_repetitive",
            "junk_echo",
            "junk_soup",
            "junk_placeholder",
        )
    }
    extra: list[tuple[str, Row, str]] = []  # (kind, row, original index)
    for _ in range(requested // 25):
        i = rng.randrange(n_found)
        extra.append(("exact_duplicate", dict(base[i]), str(i)))
    for _ in range(requested // 20):
        i = rng.randrange(n_found)
        extra.append(("near_duplicate", near_dup(base[i], rng), str(i)))
    for _ in range(requested // 30):
        i = rng.randrange(n_found)
        p = paraphrase(base[i])
        if p is not None:
            extra.append(("paraphrase", p, str(i)))
    for kind in ("empty", "truncated", "refusal", "repetitive", "echo", "soup", "placeholder"):
        for _ in range(max(3, requested // 100)):
            i = rng.randrange(n_found)
            extra.append((f"junk_{kind}", junk(base[i], kind, rng), str(i)))
    # Interleave planted rows at random positions so order does not give them away.
    rows: list[tuple[str | None, Row, str | None]] = [(None, r, None) for r in base]
    for kind, row, orig in extra:
        rows.insert(rng.randrange(len(rows) + 1), (kind, row, orig))
    out: list[dict[str, str]] = []
    base_ids: dict[int, str] = {}
    for pos, (_kind, _row, _orig) in enumerate(rows):
        if _kind is None:
            base_ids[id(_row)] = f"r{pos + 1:05d}"
    originals = {str(i): base_ids[id(r)] for i, r in enumerate(base)}
    for pos, (kind, row, orig) in enumerate(rows):
        rid = f"r{pos + 1:05d}"
        out.append({"id": rid, **row})
        if kind is not None:
            planted[kind].append(f"{rid}<-{originals[orig or '0']}")
    return out, planted


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-base", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "sample_data")
    args = ap.parse_args()
    rows, planted = generate(args.n_base, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "instructions.jsonl", "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    (args.out / "planted.json").write_text(json.dumps(planted, indent=1) + "\n", encoding="utf-8")
    counts = {k: len(v) for k, v in planted.items()}
    print(f"wrote {len(rows)} rows to {args.out / 'instructions.jsonl'}; planted: {counts}")


if __name__ == "__main__":
    main()
