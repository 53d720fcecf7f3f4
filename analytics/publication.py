"""Computing a round's publication: the only code that reads response rows to make numbers.

`publication_compute(round_id=...)` runs once when a round closes (Celery task
`analytics.tasks.compute_publication`, hooked in by `PULSE_AFTER_CLOSE_HOOKS`). It

1. reads the round's responses (attribute snapshot + answers) into memory;
2. builds the fixed cells (`analytics.disclosure.publication_layout`): every team at every level
   and the organisation, each also by location and by tenure band;
3. audits the cells once per set of respondents (`_Auditor.base`: primary k, secondary
   suppression by linear algebra, insider margin, then withdrawals until no 0/1 set of the
   published span holds 1..k-1 respondents, exhaustively), the recommendation score at k = 20;
   for every measure (respondents, each scored scale, the AI Pressure Index, each item, the
   recommendation score) takes the base of the respondents who have a value for it, bands
   every homogeneous shown cell (rule 6 on the answer) and keeps it out of the span, and
   withdraws combinations whose answers all sit at a bound of the scale (`analytics.derived`).
   A measure always shows a subset of its base's cells, so every guarantee of the base holds
   for it. Top-2 and risk-band percentages and
   item distributions (counts of category indicators) are published on team cells only,
   chosen by `analytics.derived.nested_release` so that every set they derive is >= k (>= 8
   for distributions) and not homogeneous (rule 6 on derived sets); a team cell that is itself
   homogeneous gets a band for its percentage;
4. homes comments (rule 9) and redacts them;
5. writes the publication and all its cells in one transaction, replacing any earlier one.

Guarantees: deterministic (the same responses give the same publication; comment order is
seeded by the round); all or nothing; idempotent (recompute-and-replace). Numbers leave the
system only through `analytics.gate`.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from analytics.derived import (
    REASON_DERIVED,
    REASON_TEAMS_ONLY,
    bound_release,
    nested_release,
    small_set_release,
    small_sets_to_protect,
)
from analytics.disclosure import (
    REASON_PROTECTS_ANOTHER,
    REASON_UNANIMITY,
    Layout,
    Suppression,
    homogeneity_verdict,
    publication_layout,
    restricted_release,
    suppress_cells,
)
from analytics.models import Publication, PublicationCell, PublishedComment
from surveys import scoring
from surveys.models import Answer, Comment, Employee, Question, Response, Round, Scale, Team

# Rows per bulk INSERT (comments; cells on SQLite): small enough that the statement stays
# under psycopg's cache limit for parsed queries (4,096 characters).
_INSERT_BATCH = 100
COMMENT_MIN_GROUP = 10
DISTRIBUTION_MIN_GROUP = 8
REASON_DISTRIBUTION = "below_distribution_k"
REASON_RECOMMENDATION = "below_recommendation_k"
RESPONDENTS = "respondents"
AI_PRESSURE_INDEX = "API"

Attrs = tuple[str, str, str]
CellKey = tuple[str, str, str]


@dataclass(slots=True)
class Measure:
    code: str
    label: str
    kind: str  # "count", "scale", "index", "item", "recommendation"
    values: dict[int, float] = field(default_factory=dict)  # respondent index -> value
    categories: dict[int, object] = field(default_factory=dict)  # respondent -> category
    scores: dict[int, float] = field(default_factory=dict)  # items: respondent -> 0-100 score
    scale: scoring.ScaleSpec | None = None
    item: scoring.ItemSpec | None = None
    anchors: list[tuple[float, str]] = field(default_factory=list)
    higher_is_better: bool = True
    exploratory: bool = False
    top2_label: str = ""
    risk_label: str = ""


def _load(round_: Round) -> tuple[list[Attrs], list[dict[str, float | None]], dict[str, Question]]:
    """Respondents' attribute snapshots and answers (by question code), in a stable order."""
    questions = {q.pk: q for q in round_.questions.select_related("scale")}
    responses = list(
        Response.objects.filter(round=round_)
        .select_related("team")
        .order_by("id")
        .values_list("id", "team__path", "location", "tenure_band")
    )
    index = {pk: i for i, (pk, *_rest) in enumerate(responses)}
    answers: list[dict[str, float | None]] = [{} for _ in responses]
    for response_id, question_id, value in Answer.objects.filter(
        response__round=round_
    ).values_list("response_id", "question_id", "value"):
        question = questions.get(question_id)
        if question is not None:
            answers[index[response_id]][question.code] = value
    attrs = [
        (path or "", location or "Unknown", tenure or "Unknown")
        for _, path, location, tenure in responses
    ]
    return attrs, answers, {q.code: q for q in questions.values()}


def _measures(
    answers: list[dict[str, float | None]], questions: dict[str, Question]
) -> list[Measure]:
    scales = {
        s.pk: s
        for s in Scale.objects.filter(
            pk__in={q.scale_id for q in questions.values()}
        ).prefetch_related("questions")
    }
    measures = [Measure(RESPONDENTS, "Respondents", "count")]
    measures[0].values = dict.fromkeys(range(len(answers)), 1.0)
    scale_scores: dict[str, dict[int, float]] = {}
    for scale in sorted(scales.values(), key=lambda s: (s.order, s.code)):
        if scale.scoring in (Scale.Scoring.NONE, Scale.Scoring.RECOMMENDATION):
            continue
        spec = scoring.ScaleSpec.from_model(scale)
        measure = Measure(
            scale.code,
            scale.name,
            "scale",
            scale=spec,
            higher_is_better=scale.higher_is_better,
            exploratory=scale.is_exploratory,
            risk_label=scale.risk_label,
        )
        for i, person in enumerate(answers):
            score = scoring.score_scale(spec, person)
            if score is not None:
                measure.values[i] = score
                measure.categories[i] = round(score, 6)
        scale_scores[scale.code] = measure.values
        measures.append(measure)
    index = Measure(
        AI_PRESSURE_INDEX, "AI Pressure Index", "index", higher_is_better=False, exploratory=True
    )
    for i in range(len(answers)):
        value = scoring.ai_pressure_index(
            {code: scores.get(i) for code, scores in scale_scores.items()}
        )
        if value is not None:
            index.values[i] = value
            index.categories[i] = round(value, 6)
    if index.values:
        measures.append(index)
    for code, question in sorted(
        questions.items(), key=lambda kv: (kv[1].scale.order, kv[1].order, kv[0])
    ):
        kind = question.response_kind
        if kind == "free_text":
            continue
        if question.scale.scoring == Scale.Scoring.RECOMMENDATION:
            measure = Measure(code, question.text, "recommendation")
        else:
            measure = Measure(
                code,
                question.text,
                "item",
                item=scoring.ItemSpec(
                    code=code, text=question.text, response_kind=kind, reverse=question.reverse
                ),
                anchors=scoring.ANCHORS[kind],
                higher_is_better=question.scale.higher_is_better,
                top2_label=question.scale.top2_label,
            )
        # The items of a scale scored only when every item is answered (WHO-5) are reported
        # over the scale's respondents: the scale's score is then a fixed sum of its items for
        # everyone counted in either, and "items minus scale" on a cell concerns nobody
        # (otherwise it would isolate the answers of the cell's people who skipped one item).
        complete = (
            scale_scores.get(question.scale.code)
            if question.scale.scoring == Scale.Scoring.WHO5
            else None
        )
        for i, person in enumerate(answers):
            value = person.get(code)
            if value is not None and (complete is None or i in complete):
                measure.values[i] = value
                measure.categories[i] = value
        if measure.item is not None:
            # Once per respondent, not once per cell they belong to (about nine cells each).
            to_0_100 = {
                value: scoring.item_score_0_100(kind, value, reverse=question.reverse)
                for value, _ in scoring.ANCHORS[kind]
            }
            measure.scores = {i: to_0_100[v] for i, v in measure.values.items()}
        measures.append(measure)
    return measures


class _Auditor:
    """The audits of one publication, shared by its measures.

    For each set of respondents (most measures have the same: everybody answered the item)
    and k, one *base* audit is computed once: `suppress_cells` over the layout (primary k,
    secondary suppression, insider margin), then the withdrawals that keep every small
    derived set of its span out (`analytics.derived.small_sets_to_protect`, exhaustive). A
    measure's figures are shown on a subset of the base's shown cells: its banded (rule 6)
    cells are kept out of the span by withdrawing more cells
    (`analytics.disclosure.restricted_release`), and `bound_release` withdraws combinations
    pinned at a bound of the scale. A subset spans a subspace, so every guarantee of the base
    holds for every measure, and the counts (n) of all measures over the same respondents lie
    inside the one audited span of their base."""

    def __init__(self, attrs: list[Attrs], *, k: int) -> None:
        self.attrs = attrs
        self.k = k  # the anonymity k (a measure may audit at a higher k for other reasons)
        self._layouts: dict[tuple[int, ...], tuple[Layout, list[list[int]], list[list[int]]]] = {}
        self._firsts: dict[tuple[tuple[int, ...], int], _Base] = {}
        self._bases: dict[tuple[tuple[int, ...], int], _Base] = {}
        self._banded: dict[
            tuple[tuple[int, ...], int, bool, frozenset[int]], tuple[list[bool], list[str | None]]
        ] = {}

    def layout(self, who: tuple[int, ...]) -> tuple[Layout, list[list[int]], list[list[int]]]:
        """The cells over the respondents `who`, each cell's respondents, each group's."""
        if who not in self._layouts:
            layout = publication_layout(self.attrs[i] for i in who)
            by_group: dict[Attrs, list[int]] = defaultdict(list)
            for i in who:
                by_group[self.attrs[i]].append(i)
            people = [
                [i for g in sorted(cell.groups) for i in by_group[layout.group_keys[g]]]
                for cell in layout.cells
            ]
            groups = [by_group[attrs] for attrs in layout.group_keys]
            self._layouts[who] = (layout, people, groups)
        return self._layouts[who]

    def first(self, who: tuple[int, ...], k: int) -> _Base:
        """The linear audit of the respondents `who` at `k` (`suppress_cells`), with the small
        derived sets of its span still to keep out (computed once)."""
        if (who, k) not in self._firsts:
            layout, _people, _groups = self.layout(who)
            result = suppress_cells(group_weights=layout.group_weights, cells=layout.cells, k=k)
            shown = [d.shown for d in result.decisions]
            self._firsts[(who, k)] = _Base(
                shown=shown,
                reasons=[d.reason for d in result.decisions],
                n=[d.n for d in result.decisions],
                importance=_importance(layout, result),
                to_protect=small_sets_to_protect(
                    layout.group_weights,
                    [cell.groups for cell, s in zip(layout.cells, shown, strict=True) if s],
                    # Rule 5 protects sets below the anonymity k; the recommendation's k = 20
                    # is a noise threshold, and the exhaustive search grows steeply with k.
                    k=min(k, self.k),
                    span=result.span,
                ),
            )
        return self._firsts[(who, k)]

    def base(self, who: tuple[int, ...], k: int) -> _Base:
        """The count audit of the respondents `who` at `k`: the first audit with its small
        derived sets kept out (computed once; see the class)."""
        if (who, k) not in self._bases:
            first = self.first(who, k)
            shown, reasons = list(first.shown), list(first.reasons)
            layout, _people, _groups = self.layout(who)
            withdrawn = small_set_release(
                group_weights=layout.group_weights,
                cells=[cell.groups for cell in layout.cells],
                shown=shown,
                importance=first.importance,
                k=min(k, self.k),
                found=first.to_protect,
            )
            for i, why in withdrawn.items():
                shown[i], reasons[i] = False, why
            self._bases[(who, k)] = _Base(
                shown=shown, reasons=reasons, n=first.n, importance=first.importance
            )
        return self._bases[(who, k)]

    def audit(
        self,
        who: Iterable[int],
        *,
        k: int,
        homogeneity_of: Sequence[tuple[Mapping[int, object], Callable[[object], str]]] = (),
        values: Mapping[int, float] | None = None,
        bounds: tuple[float, float] | None = None,
        alone: bool = False,
    ) -> dict[CellKey, tuple[bool, str | None, int, str | None, list[int]]]:
        """Audit one measure over the respondents `who`: cell key -> (shown, reason, n, band,
        respondent indices).

        `alone`: no other measure of the publication has these respondents. The base's small
        derived sets and this measure's banded cells are then kept out in one pass over the
        first audit's shown cells (the same guarantees: a subset of those cells, with every
        small set of their span and every banded cell out of it), instead of one pass for the
        base and another for the measure.

        Rule 6 is applied to every cell the base shows, for each categorisation in
        `homogeneity_of` (the answer itself, or the 0/1 indicator behind a percentage), each
        with a function naming the dominant category for the band. A cell where all answers
        but at most one fall in one category is withheld (banded, reason `unanimity`) and kept
        out of the span of the shown cells, so that its exact figure cannot be derived from
        the others either; the cells that would let it be derived are withdrawn (reason
        `protects_another`), least important first.

        Then, given `values` and their `bounds`, `analytics.derived.bound_release` withdraws
        shown cells (reason `derived_set`) until no combination of them is a derived set whose
        sum sits at a bound (every answer in it at the top, or at the bottom, of the scale)."""
        key = tuple(who)
        if not key:
            return {}
        layout, people, groups = self.layout(key)
        base = self.first(key, k) if alone else self.base(key, k)
        withheld: set[int] = set()
        bands: dict[int, str | None] = {}
        for position, members in enumerate(people):
            if not base.shown[position]:
                continue
            for categories, name in homogeneity_of:
                counter = Counter(categories[i] for i in members)
                verdict = homogeneity_verdict(list(counter.values()), k=k)
                if verdict.status != "exact":
                    withheld.add(position)
                    dominant = counter.most_common(1)[0][0]
                    bands[position] = f"{verdict.band} {name(dominant)}" if verdict.band else None
                    break
        cells = [cell.groups for cell in layout.cells]
        cache_key = (key, k, alone, frozenset(withheld))
        if cache_key not in self._banded:
            shown, reasons = list(base.shown), list(base.reasons)
            protect = [(cells[i], REASON_PROTECTS_ANOTHER) for i in sorted(withheld)]
            if alone:
                protect += [(s, REASON_DERIVED) for s in base.to_protect]
            if protect:
                refused = restricted_release(
                    group_weights=layout.group_weights,
                    cells=cells,
                    order=sorted(
                        (i for i, s in enumerate(base.shown) if s and i not in withheld),
                        key=base.importance.__getitem__,
                    ),
                    protect=protect,
                )
                for i in withheld:
                    shown[i], reasons[i] = False, REASON_UNANIMITY
                for i, why in refused.items():
                    shown[i], reasons[i] = False, why
            self._banded[cache_key] = (shown, reasons)
        shown, reasons = self._banded[cache_key]
        withdrawn: dict[int, str] = {}
        if values is not None and bounds is not None:
            low, high = bounds
            at_upper = [
                g for g, members in enumerate(groups) if all(values[i] >= high for i in members)
            ]
            at_lower = [
                g for g, members in enumerate(groups) if all(values[i] <= low for i in members)
            ]
            withdrawn = bound_release(
                group_weights=layout.group_weights,
                cells=cells,
                shown=shown,
                importance=base.importance,
                at_upper=at_upper,
                at_lower=at_lower,
            )
        out = {}
        for position, cell in enumerate(layout.cells):
            cell_shown, reason = shown[position], reasons[position]
            if position in withdrawn:
                cell_shown, reason = False, withdrawn[position]
            out[cell.key] = (
                cell_shown,
                reason,
                base.n[position],
                bands.get(position),
                people[position],
            )
        return out


@dataclass(slots=True)
class _Base:
    """A base audit: per cell (layout order) shown, reason, n, and the candidate order key."""

    shown: list[bool]
    reasons: list[str | None]
    n: list[int]
    importance: list[tuple[int, int, int]]
    to_protect: list[frozenset[int]] = field(default_factory=list)  # small sets, first audit


def _importance(layout: Layout, result: Suppression) -> list[tuple[int, int, int]]:
    """The audit's candidate order (lower = keep first): priority, larger first, then index."""
    return [
        (cell.priority, -d.n, i)
        for i, (cell, d) in enumerate(zip(layout.cells, result.decisions, strict=True))
    ]


def _bounds(measure: Measure) -> tuple[float, float] | None:
    """The lowest and highest value a respondent can have for a measure (None: counts)."""
    if measure.kind == "item":
        anchors = [value for value, _ in measure.anchors]
        return (min(anchors), max(anchors))
    if measure.kind == "recommendation":
        return (0.0, 10.0)
    if measure.kind in ("scale", "index"):
        return (0.0, 100.0)
    return None


def _homogeneity(measure: Measure) -> list[tuple[Mapping[int, object], Callable[[object], str]]]:
    """The categorisations rule 6 checks for a measure: the answer (or score) itself, and the
    indicator behind each percentage the measure publishes."""
    if measure.kind in ("count", "recommendation"):
        return []
    checks: list[tuple[Mapping[int, object], Callable[[object], str]]] = [
        (measure.categories, lambda value: "gave the same answer")
    ]
    if measure.kind == "item" and measure.item is not None:
        top = scoring.top2_values(measure.item.response_kind, reverse=measure.item.reverse)
        label = measure.top2_label or "top-2"
        checks.append(
            (
                {i: v in top for i, v in measure.values.items()},
                lambda yes: label if yes else f"not {label}",
            )
        )
    if (
        measure.kind == "scale"
        and measure.scale is not None
        and measure.scale.risk_threshold is not None
    ):
        spec = measure.scale
        risk = measure.risk_label or "in the risk band"
        checks.append(
            (
                {i: bool(scoring.in_risk_band(spec, v)) for i, v in measure.values.items()},
                lambda yes: risk if yes else f"not {risk}",
            )
        )
    return checks


def _figures_for(measure: Measure, people: list[int]) -> dict[str, object]:
    values = [measure.values[i] for i in people]
    if measure.kind == "count":
        return {}
    if measure.kind == "recommendation":
        return {"score": scoring.recommendation_score(values)}
    scores = [measure.scores[i] for i in people] if measure.kind == "item" else values
    ci = scoring.mean_ci(scores)
    out: dict[str, object] = {"score": ci.mean, "ci_low": ci.low, "ci_high": ci.high}
    if measure.kind == "item" and measure.item is not None:
        out["top2"] = scoring.top2_box(measure.item, values)
    if (
        measure.kind == "scale"
        and measure.scale is not None
        and measure.scale.risk_threshold is not None
    ):
        out["risk_share"] = scoring.risk_band_share(measure.scale, values)
    return out


def _distribution(measure: Measure, people: list[int]) -> list[int]:
    counts = Counter(measure.values[i] for i in people)
    return [counts.get(value, 0) for value, _ in measure.anchors]


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<!\w)(?:\+?\d[\d ().-]{6,}\d)(?!\w)")
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*")


def redact(text: str, name_tokens: set[str]) -> str:
    """Remove emails, phone numbers and roster names (any first or last name of length >= 3,
    case-insensitive) from a comment."""
    text = _EMAIL.sub("[email removed]", text)
    text = _PHONE.sub("[phone removed]", text)
    return _WORD.sub(
        lambda m: "[name removed]" if m.group(0).lower() in name_tokens else m.group(0), text
    )


def _roster_name_tokens() -> set[str]:
    tokens: set[str] = set()
    for name in Employee.objects.values_list("name", flat=True).iterator(chunk_size=5000):
        tokens.update(part.lower() for part in _WORD.findall(name) if len(part) >= 3)
    return tokens


def _comment_homes(attrs: list[Attrs], minimum: int) -> dict[str, str | None]:
    """Leaf team path -> the team whose comment pool it joins (None: not published).

    Bottom-up: a team keeps the respondents of its subtree not already homed below it when
    they number at least `minimum`; otherwise they move up to its parent. Every published pool
    then holds >= `minimum` respondents, and so does any difference between two views (each
    view is a union of whole pools)."""
    per_leaf = Counter(path for path, _, _ in attrs)
    paths = set()
    for leaf in per_leaf:
        parts = leaf.split("/")
        paths.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    pending: dict[str, list[str]] = defaultdict(list)  # team -> leaves waiting at it
    counts: dict[str, int] = defaultdict(int)
    for leaf, n in per_leaf.items():
        pending[leaf].append(leaf)
        counts[leaf] += n
    homes: dict[str, str | None] = {}
    for team in sorted(paths, key=lambda p: (-p.count("/"), p)):
        parent = team.rsplit("/", 1)[0] if "/" in team else ""
        if counts[team] >= minimum:
            for leaf in pending.pop(team, []):
                homes[leaf] = team
            counts[team] = 0
        else:
            pending[parent].extend(pending.pop(team, []))
            counts[parent] += counts.pop(team, 0)
    leftover = pending.pop("", [])
    for leaf in leftover:
        homes[leaf] = "" if counts[""] >= minimum else None
    return homes


def publication_compute(*, round_id: int) -> Publication:
    """Compute and store the publication of a closed round (see the module docstring).
    Idempotent: computing again replaces the stored publication with an identical one; once
    the round's microdata has been generalised (rule 8), the existing publication is returned
    unchanged (its numbers never move after release)."""
    round_ = Round.objects.select_related("template").get(pk=round_id)
    if round_.status != Round.Status.CLOSED:
        raise ValueError(f"round {round_id} is not closed: results exist only after close")
    existing = Publication.objects.filter(round=round_).first()
    if existing is not None and Response.objects.filter(round=round_, generalised=True).exists():
        # The stored attributes were generalised after the first computation: a second
        # computation would publish other cells for the same answers, and the difference
        # between the two publications would reveal what the audit of each one hides.
        return existing
    k = max(settings.PULSE_MIN_GROUP_SIZE, 5)
    attrs, answers, questions = _load(round_)
    measures = _measures(answers, questions)
    cells: dict[CellKey, dict[str, dict[str, object]]] = defaultdict(dict)
    audit_counts: Counter[str] = Counter()

    auditor = _Auditor(attrs, k=k)
    leaf_of = [path for path, _, _ in attrs]

    def minimum_of(measure: Measure) -> int:
        return scoring.RECOMMENDATION_MIN_GROUP if measure.kind == "recommendation" else k

    uses = Counter((tuple(sorted(m.values)), minimum_of(m)) for m in measures)
    for measure in measures:
        who = sorted(measure.values)
        minimum = minimum_of(measure)
        checks = _homogeneity(measure)
        # The score and the percentage are audited apart: a team where nearly everyone is in
        # the risk band keeps its exact mean (which does not reveal who) and gets a band for
        # the percentage (which would).
        decisions = auditor.audit(
            who,
            k=minimum,
            homogeneity_of=checks[:1],
            values=measure.values,
            bounds=_bounds(measure),
            alone=uses[(tuple(who), minimum)] == 1,
        )
        # Every shown figure carries its n, so the counts an attacker combines are those of
        # every measure over the same respondents: each measure shows a subset of the cells
        # of one base audit of those respondents (`_Auditor`), so the union of their count
        # spans lies inside that audited span.
        # Percentages and distributions are counts of category indicators: they are published
        # on team cells only, where `nested_release` makes every derived set (a team minus its
        # published sub-teams) large and mixed; see analytics.derived. A distribution implies
        # the top-2 count, so it is shown only where the top-2 share is.
        shown_teams = {key[0] for key, d in decisions.items() if key[1] == "all" and d[0]}
        shares = (
            nested_release(
                leaf_of=leaf_of,
                who=who,
                candidates=shown_teams,
                categorisations=[checks[1][0]],
                minimum=minimum,
            )
            if len(checks) > 1
            else {}
        )
        distributions = (
            nested_release(
                leaf_of=leaf_of,
                who=who,
                candidates={path for path, why in shares.items() if why is None},
                categorisations=[measure.categories],
                minimum=max(DISTRIBUTION_MIN_GROUP, minimum),
            )
            if measure.kind == "item"
            else {}
        )
        for key, (shown, reason, n, band, people) in decisions.items():
            if not shown and reason == "below_k" and measure.kind == "recommendation":
                reason = REASON_RECOMMENDATION
            entry: dict[str, object] = {"shown": shown, "reason": reason}
            if shown:
                entry["n"] = n
                entry.update(_figures_for(measure, people))
                percent_key = "top2" if measure.kind == "item" else "risk_share"
                if len(checks) > 1 and entry.get(percent_key) is not None:
                    why = shares.get(key[0]) if key[1] == "all" else REASON_TEAMS_ONLY
                    if why is not None:
                        entry[percent_key] = None
                        entry[f"{percent_key}_reason"] = why
                        if key[1] == "all":
                            categories, name = checks[1]
                            counter = Counter(categories[i] for i in people)
                            verdict = homogeneity_verdict(list(counter.values()), k=minimum)
                            if verdict.status != "exact":
                                entry[f"{percent_key}_reason"] = REASON_UNANIMITY
                                if verdict.band:
                                    dominant = counter.most_common(1)[0][0]
                                    entry[f"{percent_key}_band"] = (
                                        f"{verdict.band} {name(dominant)}"
                                    )
                if measure.kind == "item":
                    if key[1] == "all" and distributions.get(key[0], REASON_DERIVED) is None:
                        entry["distribution"] = _distribution(measure, people)
                    elif key[1] != "all":
                        entry["distribution_reason"] = REASON_TEAMS_ONLY
                    elif n < DISTRIBUTION_MIN_GROUP:
                        entry["distribution_reason"] = REASON_DISTRIBUTION
                    else:
                        entry["distribution_reason"] = REASON_DERIVED
            elif reason == REASON_UNANIMITY and band:
                entry["band"] = band
            audit_counts[reason or "shown"] += 1
            cells[key][measure.code] = entry

    # Cells nobody has a value for still exist in the fixed layout: mark them empty.
    all_keys = set(cells)
    for measure in measures:
        for key in all_keys:
            cells[key].setdefault(measure.code, {"shown": False, "reason": "empty"})

    homes = _comment_homes(attrs, max(COMMENT_MIN_GROUP, k))
    names = _roster_name_tokens()
    comment_rows = list(
        Comment.objects.filter(round=round_).order_by("id").values_list("team__path", "text")
    )
    published_comments = [
        (homes.get(path), redact(text, names))
        for path, text in comment_rows
        if homes.get(path) is not None
    ]
    random.Random(f"pulse-comments-{round_.pk}").shuffle(published_comments)

    teams = {t.path: t for t in Team.objects.filter(path__in={key[0] for key in cells if key[0]})}
    closed = round_.closed_at or round_.closes_at
    with transaction.atomic():
        Publication.objects.filter(round=round_).delete()
        publication = Publication.objects.create(
            round=round_,
            k=k,
            respondents_shown=bool(
                cells.get(("", "all", ""), {}).get(RESPONDENTS, {}).get("shown")
            ),
            computed_at=timezone.now(),
            closed_on=timezone.localtime(closed).date(),
            audit=dict(sorted(audit_counts.items())),
            measures=[
                {
                    "code": m.code,
                    "label": m.label,
                    "kind": m.kind,
                    "higher_is_better": m.higher_is_better,
                    "exploratory": m.exploratory,
                    "top2_label": m.top2_label,
                    "risk_label": m.risk_label,
                    "anchors": [label for _, label in m.anchors],
                }
                for m in measures
            ],
        )
        _write_cells(
            publication,
            [
                (teams.get(path), path, breakdown, value, figures)
                for (path, breakdown, value), figures in sorted(cells.items())
            ],
        )
        PublishedComment.objects.bulk_create(
            [
                PublishedComment(
                    publication=publication, home_path=home or "", position=i, text=text
                )
                for i, (home, text) in enumerate(published_comments)
            ],
            batch_size=_INSERT_BATCH,
        )
    return publication


def _write_cells(
    publication: Publication,
    rows: list[tuple[Team | None, str, str, str, dict[str, dict[str, object]]]],
) -> None:
    """Insert the publication's cells (inside the caller's transaction). PostgreSQL: one COPY
    (Django's bulk_create passes each batch as arrays that the client-side cursor escapes
    element by element: seconds for a large publication); elsewhere `bulk_create`."""
    if connection.vendor != "postgresql":
        PublicationCell.objects.bulk_create(
            [
                PublicationCell(
                    publication=publication,
                    team=team,
                    team_path=path,
                    depth=path.count("/") + 1 if path else 0,
                    breakdown=breakdown,
                    value=value,
                    figures=figures,
                )
                for team, path, breakdown, value, figures in rows
            ],
            batch_size=_INSERT_BATCH,
        )
        return
    table = PublicationCell._meta.db_table
    columns = "publication_id, team_id, team_path, depth, breakdown, value, figures"
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for team, path, breakdown, value, figures in rows:
            copy.write_row(
                (
                    publication.pk,
                    team.pk if team is not None else None,
                    path,
                    path.count("/") + 1 if path else 0,
                    breakdown,
                    value,
                    json.dumps(figures),  # as the JSONField (no encoder) writes it,
                )
            )


def microdata_generalise(*, round_id: int) -> int:
    """Rule 8: after close, generalise the stored responses' attributes (team -> parent team ->
    organisation, location -> "Other", tenure band -> coarser -> "Any") until every
    combination is shared by >= k responses of the round. Idempotent (an already k-anonymous
    round maps to itself); one transaction. Returns the number of responses changed."""
    from analytics.disclosure import generalise_microdata

    k = max(settings.PULSE_MIN_GROUP_SIZE, 5)
    rows = list(
        Response.objects.filter(round_id=round_id).values_list(
            "team__path", "location", "tenure_band"
        )
    )
    records = [(path or "", location, tenure) for path, location, tenure in rows]
    mapping = generalise_microdata(records, k=k)
    teams = {
        t.path: t.pk for t in Team.objects.filter(path__in={new[0] for new in mapping.values()})
    }
    changed = 0
    with transaction.atomic():
        for (path, location, tenure), (new_path, new_location, new_tenure) in mapping.items():
            if (path, location, tenure) == (new_path, new_location, new_tenure):
                continue
            query = Response.objects.filter(
                round_id=round_id, location=location, tenure_band=tenure
            )
            query = query.filter(team__path=path) if path else query.filter(team__isnull=True)
            changed += query.update(
                team_id=teams.get(new_path),
                location=new_location,
                tenure_band=new_tenure,
                generalised=True,
            )
        Response.objects.filter(round_id=round_id).update(generalised=True)
    return changed


def round_results_publish(*, round_id: int) -> None:
    """After a round closes (hook `PULSE_AFTER_CLOSE_HOOKS`): compute the publication once,
    then generalise the stored microdata. Running it again changes nothing: an existing
    publication is kept (it was computed from the attributes as snapshotted), and the
    generalisation of a k-anonymous round is the identity."""
    if not Publication.objects.filter(round_id=round_id).exists():
        publication_compute(round_id=round_id)
    microdata_generalise(round_id=round_id)
