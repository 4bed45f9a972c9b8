"""Template alignment on toneless pinyin.

A template is a rule wording: fixed syllables with ×× slots between them. It is aligned
semi-globally against an utterance: the whole template must be matched, anywhere in the text;
a slot absorbs up to ``max_slot`` syllables for free; every substituted, dropped or inserted
syllable costs 1 (a regional-accent confusion costs ``regional_cost``). The score is
``1 - cost / fixed_syllables``: the total alignment cost over all fixed parts, so a short, fragile
part between slots cannot pass on its own.

Where each slot's filler lies is known only from a traceback of the best alignment; it is done
only when asked (``with_slots=True``): the matcher's hot path needs the score and span alone.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from nlp.pinyin import regional_key

SLOT_TOKEN = None  # a slot in a template's token sequence
_ANCHOR_MAX_SYLLABLES = 4


@dataclass(frozen=True)
class Template:
    """One wording of a rule, ready for alignment."""

    rule_id: str
    text: str  # the wording as written in the rulebook
    tokens: tuple[str | None, ...]  # syllables, None for a slot
    regional: tuple[str | None, ...]
    fixed_syllables: int
    is_exempt: bool = False
    # cost of dropping or changing each token (0 for slots); mean 1 over the fixed syllables
    weights: tuple[float, ...] = ()

    def with_weights(self, weights: tuple[float, ...]) -> "Template":
        return replace(self, weights=weights)

    @property
    def anchors(self) -> tuple[str, ...]:
        """Short fixed parts next to a slot, as joined regional keys: each must occur as is.

        A slot lets the alignment roam; a two-syllable part beside it (您到××窗口) would then
        match almost anything at one substitution. Such parts are anchors: exact, or no match.
        """
        if None not in self.tokens:
            return ()
        parts: list[list[str]] = [[]]
        for reg in self.regional:
            if reg is None:
                parts.append([])
            else:
                parts[-1].append(reg)
        return tuple(" " + " ".join(p) + " " for p in parts if p and len(p) <= _ANCHOR_MAX_SYLLABLES)

    @property
    def min_weight(self) -> float:
        return min((w for w in self.weights if w > 0), default=1.0)

    @property
    def key_syllables(self) -> frozenset[str]:
        return frozenset(regional_key(t) for t in self.tokens if t is not None)


@dataclass(frozen=True)
class Alignment:
    """Best placement of a template in a text (spans in normalised-text characters)."""

    cost: float
    score: float
    start: int
    end: int
    used_regional: bool
    # with ``align(..., with_slots=True)``: one ``[start, end)`` per slot of the template's tokens
    # (inner slots only: a slot at either end of a wording is dropped by make_template), in order;
    # a slot that absorbed nothing has ``start == end``
    slots: tuple[tuple[int, int], ...] = ()


def make_template(rule_id: str, text: str, parts: list[tuple[str, ...] | None], is_exempt: bool = False) -> Template:
    """Build a template from its normalised parts: syllable tuples, and None for each slot."""
    tokens: list[str | None] = []
    for part in parts:
        if part is None:
            if tokens and tokens[-1] is None:
                continue
            tokens.append(None)
        else:
            tokens.extend(part)
    # A slot at either end absorbs nothing in a semi-global alignment: drop it.
    while tokens and tokens[0] is None:
        tokens.pop(0)
    while tokens and tokens[-1] is None:
        tokens.pop()
    regional = tuple(None if t is None else regional_key(t) for t in tokens)
    fixed = sum(1 for t in tokens if t is not None)
    weights = tuple(0.0 if t is None else 1.0 for t in tokens)
    return Template(rule_id, text, tuple(tokens), regional, fixed, is_exempt, weights)


def align(
    template: Template,
    text_syllables: tuple[str, ...],
    text_regional: tuple[str, ...],
    max_slot: int = 12,
    regional_cost: float = 0.5,
    max_cost: float | None = None,
    with_slots: bool = False,
) -> Alignment | None:
    """Align ``template`` anywhere in the text; None when the text is empty or cost exceeds ``max_cost``.

    With ``with_slots`` the cost rows are kept and the best alignment is traced back, so the
    result also says which text positions each slot absorbed (``Alignment.slots``). Of the
    alignments of least cost it takes the one whose slots absorb the fewest syllables: a slot
    filler is what the fixed parts cannot explain (请去社保窗口办理 against 请到××窗口办理: 到
    heard as 去 and filler 社保, not 到 dropped and filler 去社保), so filling the slot back into
    the wording does not repeat a misheard fixed part. Cost, score and end are the same either
    way; ``start`` is that of the traced alignment, which may differ where two placements of
    the first syllables cost the same (``used_regional`` stays that of the forward pass).

    >>> tpl = make_template("r", "请到××窗口办理", [("qing", "dao"), None, ("chuang", "kou", "ban", "li")])
    >>> syl = ("hao", "qing", "dao", "she", "bao", "chuang", "kou", "ban", "li")
    >>> al = align(tpl, syl, syl, with_slots=True)
    >>> (al.start, al.end, al.slots)
    (1, 9, ((3, 5),))
    """
    n = len(text_syllables)
    if n == 0 or template.fixed_syllables == 0:
        return None
    # prev[i]: best cost of the template prefix ending at text position i; start[i]: where it began
    prev = [0.0] * (n + 1)
    prev_start = list(range(n + 1))
    prev_reg = [False] * (n + 1)
    rows: list[list[float]] | None = [prev] if with_slots else None
    for tok, reg, weight in zip(template.tokens, template.regional, template.weights):
        if tok is None:
            cur, cur_start, cur_reg = _slot_row(prev, prev_start, prev_reg, max_slot)
        else:
            cur, cur_start, cur_reg = _syllable_row(prev, prev_start, prev_reg, tok, reg, weight,
                                                    text_syllables, text_regional, regional_cost)
        prev, prev_start, prev_reg = cur, cur_start, cur_reg
        if rows is not None:
            rows.append(cur)
        # a row's best cost never falls in later rows: stop once it is over budget
        if max_cost is not None and min(prev) > max_cost:
            return None
    end = min(range(n + 1), key=lambda i: (prev[i], i - prev_start[i]))
    cost = prev[end]
    if max_cost is not None and cost > max_cost:
        return None
    start = prev_start[end]
    if end <= start:
        return None
    score = max(0.0, 1.0 - cost / template.fixed_syllables)
    slots: tuple[tuple[int, int], ...] = ()
    if rows is not None:
        start, slots = _trace_slots(template, text_syllables, text_regional, rows, end, max_slot, regional_cost)
        if end <= start:
            return None
    return Alignment(cost, score, start, end, prev_reg[end], slots)


def _slot_row(prev: list[float], prev_start: list[int], prev_reg: list[bool], max_slot: int):
    # a slot: the best of the previous row within max_slot positions back
    n1 = len(prev)
    cur = [float("inf")] * n1
    cur_start = [0] * n1
    cur_reg = [False] * n1
    for i in range(n1):
        best = float("inf")
        b_start = 0
        b_reg = False
        lo = i - max_slot if i > max_slot else 0
        for k in range(lo, i + 1):
            if prev[k] < best:
                best = prev[k]
                b_start = prev_start[k]
                b_reg = prev_reg[k]
        cur[i] = best
        cur_start[i] = b_start
        cur_reg[i] = b_reg
    return cur, cur_start, cur_reg


def _syllable_row(prev: list[float], prev_start: list[int], prev_reg: list[bool], tok: str, reg: str | None,
                  weight: float, text_syllables: tuple[str, ...], text_regional: tuple[str, ...], regional_cost: float):
    # one fixed template syllable: match, regional variant, substitution, drop or an extra text syllable
    n1 = len(prev)
    cur = [float("inf")] * n1
    cur_start = [0] * n1
    cur_reg = [False] * n1
    # deletion of the template syllable at text position 0
    cur[0] = prev[0] + weight
    cur_start[0] = prev_start[0]
    cur_reg[0] = prev_reg[0]
    for i in range(1, n1):
        t = text_syllables[i - 1]
        if t == tok:
            sub = 0.0
            is_reg = False
        elif text_regional[i - 1] == reg:
            sub = regional_cost * weight
            is_reg = True
        else:
            sub = weight
            is_reg = False
        best = prev[i - 1] + sub
        b_start = prev_start[i - 1]
        b_reg = prev_reg[i - 1] or is_reg
        d = prev[i] + weight  # template syllable dropped by the speaker or the ASR
        if d < best:
            best, b_start, b_reg = d, prev_start[i], prev_reg[i]
        ins = cur[i - 1] + 1.0  # extra syllable in the text
        if ins < best:
            best, b_start, b_reg = ins, cur_start[i - 1], cur_reg[i - 1]
        cur[i] = best
        cur_start[i] = b_start
        cur_reg[i] = b_reg
    return cur, cur_start, cur_reg

def _trace_slots(
    template: Template,
    text_syllables: tuple[str, ...],
    text_regional: tuple[str, ...],
    rows: list[list[float]],
    end: int,
    max_slot: int,
    regional_cost: float,
) -> tuple[int, tuple[tuple[int, int], ...]]:
    """Walk the kept cost rows of :func:`align` back from ``end`` along steps of least cost (same
    arithmetic as the forward pass, so costs compare exactly) and collect the text span each
    slot absorbed: ``(start, slot spans)``. A slot takes the shortest filler among equal costs."""
    slots: list[tuple[int, int]] = []
    i = end
    for t in range(len(template.tokens), 0, -1):
        tok, reg, weight = template.tokens[t - 1], template.regional[t - 1], template.weights[t - 1]
        prev, cur = rows[t - 1], rows[t]
        if tok is None:
            # the last k (shortest filler) holding the window's minimum, which is cur[i]
            lo = i - max_slot if i > max_slot else 0
            k = max(k for k in range(lo, i + 1) if prev[k] == cur[i])
            slots.append((k, i))
            i = k
            continue
        # inside the row, insertions move left on the same row until a diagonal or deletion step
        while True:
            if i == 0:
                break  # only a deletion reaches position 0
            t_syl = text_syllables[i - 1]
            if t_syl == tok:
                sub = 0.0
            elif text_regional[i - 1] == reg:
                sub = regional_cost * weight
            else:
                sub = weight
            best = prev[i - 1] + sub
            step = "diag"
            d = prev[i] + weight
            if d < best:
                best, step = d, "del"
            if cur[i - 1] + 1.0 < best:
                step = "ins"
            if step == "ins":
                i -= 1
                continue
            if step == "diag":
                i -= 1
            break
    return i, tuple(reversed(slots))
