"""Hotspot statistics on generated organisations.

The generator builds an organisation tree (divisions / departments / teams), answers of every
respondent item by item (WHO-5, CBI, Pulse's AI-pressure items), and usage of every contributing
person; it aggregates them per team at every level (a parent pools its children's people) and
applies the release gate (k respondents, k contributors, top share <= 85%) before handing the
released values to the module, as the hotspot service will.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pytest

from analytics.hotspot_stats import (
    Construct,
    ConstructStat,
    Correlation,
    HotspotConfig,
    OrgReference,
    ReleasedSurvey,
    ReleasedUsage,
    Status,
    TeamRound,
    benjamini_hochberg,
    detect_hotspots,
    eligible_teams,
    usage_score_correlations,
)

K = 5
SEEDS = range(200)
ORG_MEANS = {Construct.AI_PRESSURE: 45.0, Construct.WHO5: 58.0, Construct.CBI: 40.0}
TOKENS_PER_PERSON_DAY = 40_000.0
DAYS = 10


# ------------------------------------------------------------------------------- generator


SCORED = (Construct.AI_PRESSURE, Construct.WHO5, Construct.CBI, Construct.AUTONOMY)


@dataclass
class People:
    """One leaf team, kept as sufficient statistics so that a parent pools its children's
    people exactly: per construct (n, sum, sum of squares) over respondents; usage per day
    summed over contributors, the contributors, the heaviest person's total, the headcount."""

    scores: np.ndarray  # len(SCORED) x 3
    daily_total: np.ndarray  # DAYS
    contributors: int
    heaviest: float
    headcount: int


@dataclass
class GeneratedOrg:
    teams: list[TeamRound]
    reference: OrgReference
    planted: set[str] = field(default_factory=set)
    leaves: dict[str, People] = field(default_factory=dict)
    team_effects: dict[str, tuple[float, float]] = field(default_factory=dict)

    def by_id(self, team_id: str) -> TeamRound:
        return next(t for t in self.teams if t.team_id == team_id)


def _items(
    rng: np.random.Generator, latent: np.ndarray, count: int, step: float, top: int, noise: float
) -> np.ndarray:
    raw = latent[:, None] + rng.normal(0.0, noise, (latent.size, count))
    return np.clip(np.rint(raw / step), 0, top)


def _answers(
    rng: np.random.Generator, pressure: np.ndarray, who5: np.ndarray, cbi: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Scores of respondents whose team means are given per respondent, scored as the question
    bank says (0-100 each)."""
    z = rng.standard_normal((pressure.size, 3))
    p_lat = pressure + 16.0 * z[:, 0]
    w_lat = who5 + 18.0 * (-0.3 * z[:, 0] + math.sqrt(1 - 0.09) * z[:, 1])
    b_lat = cbi + 16.0 * (0.3 * z[:, 0] - 0.5 * z[:, 1] + math.sqrt(1 - 0.34) * z[:, 2])
    p_items = _items(rng, p_lat, 9, 25.0, 4, 15.0) * 25.0
    groups = ((0, 3), (3, 5), (5, 7), (7, 9))  # AUP, PAU, AWI, AMD
    pressure_index = np.mean([p_items[:, a:b].mean(axis=1) for a, b in groups], axis=0)
    who5_score = _items(rng, w_lat, 5, 20.0, 5, 12.0).sum(axis=1) * 4.0
    cbi_score = _items(rng, b_lat, 7, 25.0, 4, 14.0).mean(axis=1) * 25.0
    autonomy = _items(rng, 60.0 - 0.3 * (p_lat - 45.0), 2, 25.0, 4, 15.0).mean(axis=1) * 25.0
    return pressure_index, who5_score, cbi_score, autonomy


def _cell(n: float, total: float, squares: float) -> ConstructStat | None:
    if n < K:
        return None
    mean = total / n
    sd = math.sqrt(max(0.0, (squares - n * mean * mean) / (n - 1)))
    return ConstructStat(mean=mean, sd=sd, n=int(n))


def _release(
    team_id: str, path: str, people: list[People], waves: tuple[Construct, ...]
) -> TeamRound:
    """Aggregate the people under one node and apply the release gate (k, top share)."""
    scores = np.sum([p.scores for p in people], axis=0)
    respondents = int(scores[0, 0])
    survey = None
    if respondents >= K:
        cells = {
            c: _cell(*scores[i])
            for i, c in enumerate(SCORED)
            if c in waves or c in (Construct.AI_PRESSURE, Construct.AUTONOMY)
        }
        survey = ReleasedSurvey(
            n=respondents, constructs={c: s for c, s in cells.items() if s is not None}
        )
    contributors = sum(p.contributors for p in people)
    daily_total = np.sum([p.daily_total for p in people], axis=0)
    total = float(daily_total.sum())
    top_share = max(p.heaviest for p in people) / total if total > 0 else 1.0
    usage = None
    if contributors >= K and top_share <= 0.85:
        headcount = sum(p.headcount for p in people)
        team_daily = daily_total / contributors  # per contributing person, each day
        usage = ReleasedUsage(
            intensity=float(team_daily.mean()),
            contributors=contributors,
            metric="tokens",
            active_share=contributors / headcount,
            change=0.0,
            top_share=top_share,
            log_se=float(team_daily.std(ddof=1) / team_daily.mean() / math.sqrt(DAYS)),
        )
    return TeamRound(team_id=team_id, path=path, survey=survey, usage=usage)


def generate_org(
    seed: int,
    *,
    hotspots: int = 3,
    hotspot_min_n: int = 5,
    effect: tuple[float, float] = (15.0, 20.0),
    usage_effect: tuple[float, float] = (2.0, 3.0),
    divisions: int = 3,
    departments: int = 3,
    team_sd: float = 4.0,
    usage_team_sd: float = 0.25,
    usage_pressure_rho: float = 0.0,
    waves: tuple[Construct, ...] = (Construct.WHO5,),
    respondents: dict[str, int] | None = None,
    extreme: dict[str, float] | None = None,
    usage_contributors: dict[str, int] | None = None,
) -> GeneratedOrg:
    """A seeded organisation with ``hotspots`` planted leaf teams (pressure +15-20, WHO-5 -15-20,
    CBI +15-20, usage x2-3). ``respondents`` fixes leaf sizes by path; ``extreme`` plants an
    effect of that many points (and x4 usage) in the named leaves, outside the planted set;
    ``usage_contributors`` fixes how many people contribute usage in the named leaves."""
    rng = np.random.default_rng(seed)
    respondents = respondents or {}
    extreme = extreme or {}
    usage_contributors = usage_contributors or {}
    leaf_paths = []
    for d in range(divisions):
        for e in range(departments):
            for t in range(int(rng.integers(3, 6))):
                leaf_paths.append(f"Div{d}/Dep{d}{e}/Team{d}{e}{t}")
    sizes = {path: respondents.get(path, 5 + round(35 * rng.beta(1.2, 2.2))) for path in leaf_paths}
    candidates = [p for p in leaf_paths if sizes[p] >= hotspot_min_n and p not in extreme]
    planted = set(rng.choice(candidates, size=hotspots, replace=False)) if hotspots else set()

    generated = GeneratedOrg(teams=[], reference=OrgReference(means={}), planted=planted)
    team_means: list[tuple[float, float, float]] = []
    for path in leaf_paths:
        u_eff = rng.normal(0.0, usage_team_sd)
        z = rng.standard_normal(2)
        p_eff = team_sd * (
            usage_pressure_rho * u_eff / usage_team_sd + math.sqrt(1 - usage_pressure_rho**2) * z[0]
        )
        w_eff = team_sd * z[1]
        b_eff = team_sd * rng.standard_normal()
        # A planted team's true difference from the organisation *is* the planted effect.
        if path in planted:
            p_eff = rng.uniform(*effect)
            w_eff, b_eff = -rng.uniform(*effect), rng.uniform(*effect)
            u_eff = math.log(rng.uniform(*usage_effect))
        if path in extreme:
            p_eff, w_eff, b_eff = extreme[path], -extreme[path], extreme[path]
            u_eff = math.log(4.0)
        generated.team_effects[path] = (u_eff, p_eff)
        n = sizes[path]
        team_means.append((p_eff, w_eff, b_eff))
        headcount = max(n, math.ceil(n / rng.uniform(0.7, 0.95)))
        active = usage_contributors.get(
            path, max(1, int(rng.binomial(headcount, rng.uniform(0.6, 0.95))))
        )
        rate = rng.lognormal(math.log(TOKENS_PER_PERSON_DAY) + u_eff, 0.8, active)
        usage = rate[:, None] * rng.gamma(2.0, 0.5, (active, DAYS))
        generated.leaves[path] = People(
            scores=np.empty(0),
            daily_total=usage.sum(axis=0),
            contributors=active,
            heaviest=float(usage.sum(axis=1).max()),
            headcount=headcount,
        )

    counts = np.array([sizes[path] for path in leaf_paths])
    means = np.repeat(np.array(team_means), counts, axis=0) + np.array(
        [ORG_MEANS[Construct.AI_PRESSURE], ORG_MEANS[Construct.WHO5], ORG_MEANS[Construct.CBI]]
    )
    answers = np.vstack(_answers(rng, means[:, 0], means[:, 1], means[:, 2]))  # 4 x people
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    sums = np.add.reduceat(answers, starts, axis=1)
    squares = np.add.reduceat(answers * answers, starts, axis=1)
    for j, path in enumerate(leaf_paths):
        generated.leaves[path].scores = np.column_stack(
            [np.full(len(SCORED), counts[j]), sums[:, j], squares[:, j]]
        )

    nodes = sorted({"/".join(p.split("/")[:i]) for p in leaf_paths for i in (1, 2, 3)})
    for node in nodes:
        members = [
            people
            for leaf, people in generated.leaves.items()
            if leaf == node or leaf.startswith(node + "/")
        ]
        generated.teams.append(_release(node, node, members, waves))
    everyone = np.sum([p.scores for p in generated.leaves.values()], axis=0)
    generated.reference = OrgReference(
        means={c: float(everyone[i, 1] / everyone[i, 0]) for i, c in enumerate(SCORED[:3])}
    )
    return generated


def _detect(generated: GeneratedOrg, **config: float) -> set[str]:
    report = detect_hotspots(
        generated.teams, org=generated.reference, config=HotspotConfig(**config)
    )
    return {str(a.team_id) for a in report.hotspots}


def pooled_detection(seeds: range, **kwargs: object) -> tuple[float, float, int]:
    true_positives = reported = planted = 0
    for seed in seeds:
        generated = generate_org(seed, **kwargs)
        found = _detect(generated)
        true_positives += len(found & generated.planted)
        reported += len(found)
        planted += len(generated.planted)
    recall = true_positives / planted
    precision = true_positives / reported if reported else 1.0
    return recall, precision, reported


def _flat_team(
    team_id: str,
    *,
    n: int = 20,
    pressure: float = 45.0,
    who5: float = 58.0,
    sd: float = 17.0,
    intensity: float = TOKENS_PER_PERSON_DAY,
    contributors: int = 15,
    cbi: float | None = None,
) -> TeamRound:
    constructs = {
        Construct.AI_PRESSURE: ConstructStat(pressure, sd, n),
        Construct.WHO5: ConstructStat(who5, sd, n),
    }
    if cbi is not None:
        del constructs[Construct.WHO5]
        constructs[Construct.CBI] = ConstructStat(cbi, sd, n)
    return TeamRound(
        team_id=team_id,
        path=f"Org/{team_id}",
        survey=ReleasedSurvey(n=n, constructs=constructs),
        usage=ReleasedUsage(intensity=intensity, contributors=contributors, log_se=0.05),
    )


def _plain_org(count: int = 20, seed: int = 0) -> list[TeamRound]:
    """Teams around the organisation means with a little spread, none of them a hotspot."""
    rng = np.random.default_rng(seed)
    return [
        _flat_team(
            f"T{i}",
            pressure=45.0 + rng.normal(0, 3),
            who5=58.0 + rng.normal(0, 3),
            intensity=TOKENS_PER_PERSON_DAY * math.exp(rng.normal(0, 0.2)),
        )
        for i in range(count)
    ]


FLAT_REFERENCE = OrgReference(
    means={Construct.AI_PRESSURE: 45.0, Construct.WHO5: 58.0, Construct.CBI: 40.0}
)


# ------------------------------------------------------------------- detection on many seeds


def test_it_finds_planted_hotspots_with_recall_and_precision_of_at_least_0_9():
    # Planted: pressure +20-25, WHO-5 -20-25, usage 2-3x the organisation median, in teams of
    # >= 15 respondents; sizes otherwise 5..40; natural spread between teams 4 points.
    recall, precision, reported = pooled_detection(SEEDS, effect=(20.0, 25.0), hotspot_min_n=15)

    assert recall >= 0.9, recall
    assert precision >= 0.9, precision
    assert reported > 0


def test_it_finds_most_moderate_hotspots_in_teams_of_20_or_more():
    # +15-20 points is a realistic effect but close to the noise of a 20-person team against
    # 4 points of natural spread: measured recall 0.89 (0.54 over all sizes 5..40, q = 0.10).
    recall, precision, _ = pooled_detection(range(100), effect=(15.0, 20.0), hotspot_min_n=20)

    assert recall >= 0.8, recall
    assert precision >= 0.9, precision


def test_it_flags_a_team_in_at_most_5_percent_of_organisations_without_hotspots():
    seeds_with_a_flag = sum(bool(_detect(generate_org(seed, hotspots=0))) for seed in SEEDS)

    assert seeds_with_a_flag / len(SEEDS) <= 0.05, seeds_with_a_flag


@pytest.mark.parametrize("seed", range(10))
def test_it_never_reports_a_team_below_k_or_with_hidden_usage_even_with_an_extreme_effect(seed):
    tiny, unreleased_usage = "Div0/Dep00/Team000", "Div1/Dep10/Team100"
    generated = generate_org(
        seed,
        respondents={tiny: 4, unreleased_usage: 25},
        extreme={tiny: 45.0, unreleased_usage: 45.0},
        usage_contributors={unreleased_usage: 4},
    )
    assert generated.by_id(tiny).survey is None
    assert generated.by_id(unreleased_usage).usage is None

    report = detect_hotspots(generated.teams, org=generated.reference)

    named = {a.team_id for a in report.assessments}
    named |= {team_id for a in report.assessments for team_id in a.contains}
    assert tiny not in named and unreleased_usage not in named
    assert not any(tiny in a.reason or unreleased_usage in a.reason for a in report.assessments)
    assert report.excluded[tiny] == "survey results hidden"
    assert report.excluded[unreleased_usage] == "usage not released"
    correlations = usage_score_correlations(generated.teams)
    released_leaves = sum(
        1
        for t in generated.teams
        if t.path.count("/") == 2 and t.survey is not None and t.usage is not None
    )
    assert correlations[0].n_teams == released_leaves


# ------------------------------------------------------------------------------ the filter


def test_the_input_types_refuse_values_below_the_hard_floor_of_5():
    with pytest.raises(ValueError, match="not a released value"):
        ConstructStat(mean=50.0, sd=10.0, n=4)
    with pytest.raises(ValueError, match="not a released value"):
        ReleasedSurvey(n=4, constructs={})
    with pytest.raises(ValueError, match="not a released value"):
        ReleasedUsage(intensity=100.0, contributors=4)
    with pytest.raises(ValueError, match="never lowered below 5"):
        HotspotConfig(min_group_size=4)


def test_eligible_teams_excludes_every_team_hidden_on_either_side_under_a_raised_k():
    config = HotspotConfig(min_group_size=10)
    teams = [
        _flat_team("ok", n=10, contributors=10),
        _flat_team("few-respondents", n=9, contributors=10),
        _flat_team("few-contributors", n=10, contributors=9),
        TeamRound("no-survey", "Org/no-survey", None, _flat_team("x").usage),
        TeamRound("no-usage", "Org/no-usage", _flat_team("x").survey, None),
        TeamRound(
            "dominated",
            "Org/dominated",
            _flat_team("x").survey,
            ReleasedUsage(intensity=1.0, contributors=12, top_share=0.9),
        ),
    ]

    eligible, excluded = eligible_teams(teams, config=config)

    assert [t.team_id for t in eligible] == ["ok"]
    assert set(excluded) == {
        "few-respondents",
        "few-contributors",
        "no-survey",
        "no-usage",
        "dominated",
    }


def test_a_construct_cell_below_a_raised_k_is_not_used():
    team = _flat_team("T", n=12)
    survey = ReleasedSurvey(
        n=12, constructs={**team.survey.constructs, Construct.WHO5: ConstructStat(30.0, 10.0, 8)}
    )
    teams = [*_plain_org(), TeamRound("T", "Org/T", survey, team.usage)]

    report = detect_hotspots(teams, org=FLAT_REFERENCE, config=HotspotConfig(min_group_size=10))

    assert report.excluded["T"] == "well-being (WHO-5 or CBI) not released"


# --------------------------------------------------------------------------- the statistics


def test_a_huge_team_with_a_trivial_difference_is_significant_but_not_flagged():
    huge = _flat_team(
        "huge",
        n=5000,
        pressure=48.0,
        who5=55.0,
        intensity=TOKENS_PER_PERSON_DAY * 1.6,
        contributors=4000,
    )

    report = detect_hotspots([*_plain_org(), huge], org=FLAT_REFERENCE)

    assessment = next(a for a in report.assessments if a.team_id == "huge")
    assert assessment.significant
    assert not assessment.practical
    assert assessment.status is Status.CLEAR
    assert report.hotspots == ()


def test_shrinkage_pulls_a_small_team_further_toward_the_organisation_than_a_large_one():
    small = _flat_team("small", n=5, pressure=65.0)
    large = _flat_team("large", n=40, pressure=65.0)

    report = detect_hotspots([*_plain_org(), small, large], org=FLAT_REFERENCE)

    by_id = {a.team_id: a.pressure for a in report.assessments}
    assert 0.0 <= by_id["small"].weight < by_id["large"].weight <= 1.0
    assert 45.0 < by_id["small"].shrunk < by_id["large"].shrunk < 65.0
    assert by_id["small"].p_value > by_id["large"].p_value


def test_benjamini_hochberg_matches_hand_computed_q_values():
    p = np.array([0.01, 0.04, 0.03, 0.20])

    q = benjamini_hochberg(p)

    # sorted 0.01, 0.03, 0.04, 0.20 -> 0.04, 0.0533, 0.0533, 0.20
    assert np.allclose(q, [0.04, 0.16 / 3, 0.16 / 3, 0.20])


def test_one_clear_hotspot_is_flagged_with_its_reason_in_words_and_numbers():
    hot = _flat_team("hot", n=14, pressure=72.4, who5=40.6, intensity=TOKENS_PER_PERSON_DAY * 3.1)

    report = detect_hotspots([*_plain_org(40), hot], org=FLAT_REFERENCE)

    assert [a.team_id for a in report.hotspots] == ["hot"]
    (hotspot,) = report.hotspots
    ratio = hotspot.intensity_ratio
    assert hotspot.reason == (
        f"tokens per person {ratio:.1f}x the organisation median; AI Pressure 72 vs 45; "
        "WHO-5 41 vs 58; 14 respondents"
    )
    assert 2.8 <= ratio <= 3.4


def test_a_hotspot_in_a_round_without_who5_is_judged_and_explained_by_cbi_burnout():
    plain = [
        _flat_team(f"T{i}", cbi=40.0 + (i % 5) - 2, pressure=45.0 + (i % 3) - 1) for i in range(20)
    ]
    hot = _flat_team("hot", n=15, pressure=70.0, cbi=66.0, intensity=TOKENS_PER_PERSON_DAY * 2.5)

    report = detect_hotspots([*plain, hot], org=FLAT_REFERENCE)

    (hotspot,) = report.hotspots
    assert hotspot.wellbeing.construct is Construct.CBI
    assert "CBI burnout 66 vs 40" in hotspot.reason


def test_a_parent_is_not_a_hotspot_because_of_one_child_but_is_marked_as_containing_it():
    leaves = [TeamRound(t.team_id, f"Eng/{t.team_id}", t.survey, t.usage) for t in _plain_org(20)]
    hot = _flat_team("hot", n=30, pressure=80.0, who5=25.0, intensity=TOKENS_PER_PERSON_DAY * 4)
    calm = _flat_team("calm", n=6)
    hot = TeamRound("hot", "Sales/Small/hot", hot.survey, hot.usage)
    calm = TeamRound("calm", "Sales/Small/calm", calm.survey, calm.usage)
    # The parent pools both children: 36 respondents, mostly the hot team.
    parent = _flat_team(
        "small",
        n=36,
        pressure=74.0,
        who5=30.0,
        intensity=TOKENS_PER_PERSON_DAY * 3.5,
        contributors=30,
    )
    parent = TeamRound("small", "Sales/Small", parent.survey, parent.usage)

    report = detect_hotspots([*leaves, hot, calm, parent], org=FLAT_REFERENCE)

    by_id = {a.team_id: a for a in report.assessments}
    assert by_id["small"].flagged  # significant on its own numbers...
    assert by_id["small"].status is Status.CONTAINS_HOTSPOT  # ...but reported as containing
    assert by_id["small"].contains == ("hot",)
    assert by_id["small"].reason == "contains Sales/Small/hot"
    assert [a.team_id for a in report.hotspots] == ["hot"]
    assert by_id["calm"].status is Status.CLEAR


def test_a_flagged_parent_with_no_flagged_child_is_the_hotspot():
    leaves = [TeamRound(t.team_id, f"Eng/{t.team_id}", t.survey, t.usage) for t in _plain_org()]
    parent = _flat_team("dept", n=30, pressure=72.0, who5=35.0, intensity=TOKENS_PER_PERSON_DAY * 3)
    parent = TeamRound("dept", "Ops/Dept", parent.survey, parent.usage)
    child = TeamRound("child", "Ops/Dept/Child", None, parent.usage)  # hidden survey side

    report = detect_hotspots([*leaves, parent, child], org=FLAT_REFERENCE)

    assert [a.team_id for a in report.hotspots] == ["dept"]
    assert "child" not in {a.team_id for a in report.assessments}


def test_it_refuses_to_compare_different_usage_metrics():
    teams = _plain_org()
    other = TeamRound(
        "x",
        "Org/x",
        teams[0].survey,
        ReleasedUsage(intensity=3.0, contributors=5, metric="requests"),
    )

    with pytest.raises(ValueError, match="one usage metric"):
        detect_hotspots([*teams, other], org=FLAT_REFERENCE)


def test_it_assesses_nothing_and_says_why_with_fewer_than_5_teams():
    report = detect_hotspots(_plain_org(4), org=FLAT_REFERENCE)

    assert report.assessments == ()
    assert report.note == "fewer than 5 teams released on both sides"


def test_detection_is_deterministic():
    generated = generate_org(3)

    first = detect_hotspots(generated.teams, org=generated.reference)
    second = detect_hotspots(list(reversed(generated.teams)), org=generated.reference)

    assert sorted(first.assessments, key=lambda a: a.path) == sorted(
        second.assessments, key=lambda a: a.path
    )


# ---------------------------------------------------------------------------- correlations


def _pressure_r(teams: list[TeamRound]) -> Correlation:
    return usage_score_correlations(teams, outcomes=(Construct.AI_PRESSURE,))[0]


def test_the_correlation_interval_covers_the_true_value_in_most_seeds():
    # Teams whose usage and pressure move together (rho 0.6 between true team effects). The
    # true correlation of the *observed* team values (sampling noise attenuates it) is measured
    # on one very large organisation.
    kwargs = {"hotspots": 0, "usage_pressure_rho": 0.6, "team_sd": 6.0}
    truth = _pressure_r(generate_org(10_000, divisions=40, departments=8, **kwargs).teams)
    assert truth.n_teams > 1000 and truth.r is not None

    seeds = range(100)
    covered = 0
    for seed in seeds:
        result = _pressure_r(generate_org(seed, **kwargs).teams)
        assert result.r is not None and result.ci_low < result.r < result.ci_high
        covered += result.ci_low <= truth.r <= result.ci_high

    assert covered / len(seeds) >= 0.9, covered


def test_a_correlation_is_none_with_a_reason_below_5_teams():
    result = _pressure_r(_plain_org(4))

    assert result.r is None and result.n_teams == 4
    assert result.reason == "4 teams released on both sides; at least 5 needed"


def test_the_lagged_correlation_pairs_previous_usage_with_current_scores_by_team():
    current = _plain_org(12, seed=1)
    rng = np.random.default_rng(5)
    previous = [
        TeamRound(
            t.team_id,
            t.path,
            t.survey,
            ReleasedUsage(intensity=float(rng.uniform(1e4, 9e4)), contributors=8),
        )
        for t in current
    ]
    previous[0] = TeamRound(previous[0].team_id, previous[0].path, previous[0].survey, None)
    previous = [*previous, _flat_team("gone")]  # no longer in the current round

    results = usage_score_correlations(current, previous=previous)

    lagged = next(r for r in results if r.lag == 1 and r.outcome is Construct.AI_PRESSURE)
    matched = [
        (p.usage.intensity, c.survey.constructs[Construct.AI_PRESSURE].mean)
        for p, c in zip(previous[1:12], current[1:], strict=True)
    ]
    x, y = np.log([m[0] for m in matched]), np.array([m[1] for m in matched])
    assert lagged.n_teams == 11
    assert lagged.r == pytest.approx(float(np.corrcoef(x, y)[0, 1]))
    same_round = next(r for r in results if r.lag == 0 and r.outcome is Construct.AI_PRESSURE)
    assert same_round.n_teams == 12
    no_cbi = next(r for r in results if r.lag == 0 and r.outcome is Construct.CBI)
    assert no_cbi.r is None and no_cbi.n_teams == 0


def test_without_a_previous_round_the_lagged_correlation_says_so():
    results = usage_score_correlations(_plain_org())

    assert all(r.reason == "no previous round" for r in results if r.lag == 1)
