"""Per-person usage in memory during an import, reduced to team x day cells at the end.

Per-person values live only here, as numpy arrays keyed by one packed int64 per
(source, metric, day, person); parts are merged (sorted, numpy) whenever the pending parts
outgrow the merged state, so memory is bounded by the number of distinct
person-day-metric keys (people x days x metrics), not by the number of rows read.

Within one import, additive metrics (`SUM`: tokens, lines, requests, cents) are summed over a
person's rows of a day; non-additive ones (`MAX`: active flags, last-activity snapshots) are
combined with max, so a person is counted once however many rows say they were active.

`finalize` rolls every person's value up to their team and every ancestor, and per
(source, team, day, metric) returns the total, the number of distinct people with a non-zero
value, and the largest single person's value.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analytics.usage.identity import Roster
from analytics.usage.parsing import UsageFileError, UsageProblem, day_from_number

SUM = "sum"
MAX = "max"

_PERSON_BITS = 24
_DAY_BITS = 16
_METRIC_BITS = 12
_SOURCE_LIMIT = 1 << (63 - _PERSON_BITS - _DAY_BITS - _METRIC_BITS)
_PERSON_MASK = (1 << _PERSON_BITS) - 1
_DAY_MASK = (1 << _DAY_BITS) - 1
_METRIC_MASK = (1 << _METRIC_BITS) - 1
_MERGE_AT = 500_000
UNMATCHED_KEPT = 10_000


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    unit: str
    how: str


@dataclass(frozen=True, slots=True)
class UsageCell:
    """One (source, team, day, metric) aggregate, ready to store."""

    source: str
    team_id: int
    day: dt.date
    metric: str
    unit: str
    total: float
    contributors: int | None
    max_single: float | None


@dataclass(slots=True)
class _State:
    keys: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    values: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.float64))
    pending: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    pending_size: int = 0


class Accumulator:
    """Collects one delivery's usage. Callers: the adapters (adding), the import service
    (counts, `finalize`)."""

    def __init__(self, roster: Roster) -> None:
        self.roster = roster
        self.source_names: list[str] = []
        self._sources: dict[str, int] = {}
        self.metrics: list[Metric] = []
        self._metrics: dict[str, int] = {}
        self._how = np.empty(0, dtype=np.int8)
        self._states = {SUM: _State(), MAX: _State()}
        self.days: dict[int, set[int]] = {}
        self._active_sources: set[int] = set()
        self.rows_read = 0
        self.rows_matched = 0
        self.rows_unmatched = 0
        self.rows_service = 0
        self.unmatched: Counter[str] = Counter()
        self.unmatched_dropped = 0
        self.service_totals: dict[str, float] = {}
        self.ignored_fields: set[str] = set()
        # Team-level sources: (source, metric, day, team index) -> [total, people, max_single]
        self._team_level: dict[tuple[int, int, int, int], list[float | None]] = {}

    # --- codes ---------------------------------------------------------------------------------

    def source(self, name: str) -> int:
        code = self._sources.get(name)
        if code is None:
            if len(self.source_names) >= _SOURCE_LIMIT:
                raise UsageFileError([UsageProblem("", None, None, "too many sources")])
            code = len(self.source_names)
            self._sources[name] = code
            self.source_names.append(name)
            self.days[code] = set()
        return code

    def metric(self, name: str, unit: str, how: str = SUM) -> int:
        code = self._metrics.get(name)
        if code is None:
            if len(self.metrics) > _METRIC_MASK:
                raise UsageFileError([UsageProblem("", None, None, "too many metrics")])
            code = len(self.metrics)
            self._metrics[name] = code
            self.metrics.append(Metric(name, unit, how))
            self._how = np.append(self._how, np.int8(how == MAX))
        return code

    def count_active_users(self, source: int) -> None:
        """Derive `active_users` (people with any non-zero value that day) for `source` at the
        end, from the keys already held, instead of holding one more key per row."""
        self._active_sources.add(source)

    # --- adding --------------------------------------------------------------------------------

    def cover_days(self, sources: np.ndarray | int, days: np.ndarray) -> None:
        """Record the days each source's export covers (matched or not): an import replaces
        exactly those days of that source."""
        if isinstance(sources, int):
            self.days[sources].update(np.unique(days).tolist())
            return
        for packed in np.unique(sources.astype(np.int64) * (_DAY_MASK + 1) + days).tolist():
            self.days[packed >> _DAY_BITS].add(packed & _DAY_MASK)

    def add(
        self,
        sources: np.ndarray | int,
        persons: np.ndarray,
        days: np.ndarray,
        metrics: np.ndarray | int,
        values: np.ndarray,
    ) -> None:
        """Add matched people's values (persons >= 0). Zero and NaN values are dropped."""
        keep = (values != 0) & ~np.isnan(values)
        if not keep.all():
            persons, days, values = persons[keep], days[keep], values[keep]
            if not isinstance(sources, int):
                sources = sources[keep]
            if not isinstance(metrics, int):
                metrics = metrics[keep]
        if not len(values):
            return
        src = np.asarray(sources, dtype=np.int64)
        met = np.asarray(metrics, dtype=np.int64)
        keys = (
            (((src << _METRIC_BITS) | met) << _DAY_BITS) | days.astype(np.int64)
        ) << _PERSON_BITS | persons.astype(np.int64)
        if isinstance(metrics, int):
            self._push(MAX if self.metrics[metrics].how == MAX else SUM, keys, values)
            return
        is_max = self._how[metrics].astype(bool)
        if is_max.any():
            self._push(MAX, keys[is_max], values[is_max])
        if not is_max.all():
            self._push(SUM, keys[~is_max], values[~is_max])

    def add_team_level(
        self,
        source: int,
        team: int,
        day: int,
        metric: int,
        total: float,
        people: int | None,
        max_single: float | None,
    ) -> None:
        """A team-level row (a source without per-person rows). Repeated rows are summed."""
        key = (source, metric, day, team)
        cell = self._team_level.get(key)
        if cell is None:
            self._team_level[key] = [total, people, max_single]
            return
        cell[0] = float(cell[0] or 0) + total
        cell[1] = None if cell[1] is None or people is None else int(cell[1]) + people
        cell[2] = None if cell[2] is None or max_single is None else max(cell[2], max_single)

    def add_unmatched(self, identifiers: Counter[str] | dict[str, int]) -> None:
        for identifier, rows in identifiers.items():
            if identifier in self.unmatched or len(self.unmatched) < UNMATCHED_KEPT:
                self.unmatched[identifier] += rows
            else:
                self.unmatched_dropped += 1

    def add_service(self, metric: str, value: float) -> None:
        if value == value and value:  # not NaN, not zero
            self.service_totals[metric] = self.service_totals.get(metric, 0.0) + float(value)

    def _push(self, how: str, keys: np.ndarray, values: np.ndarray) -> None:
        state = self._states[how]
        state.pending.append((keys, values.astype(np.float64, copy=False)))
        state.pending_size += len(keys)
        if state.pending_size > max(_MERGE_AT, len(state.keys) // 2):
            self._merge(how)

    def _merge(self, how: str) -> None:
        """Fold the pending parts into the sorted, duplicate-free state. Sort-based (numpy) rather
        than a hashed group-by: no hash tables and one copy of the state, so the peak stays
        close to the state itself."""
        state = self._states[how]
        if not state.pending:
            return
        keys = np.concatenate([k for k, _ in state.pending])
        values = np.concatenate([v for _, v in state.pending])
        state.pending.clear()
        state.pending_size = 0
        keys, values = _reduce_sorted(*_sorted(keys, values), how)
        if len(state.keys):
            # Update the keys already held in place; insert only the new ones (one copy).
            at = np.searchsorted(state.keys, keys)
            held = at < len(state.keys)
            held[held] = state.keys[at[held]] == keys[held]
            if how == MAX:
                state.values[at[held]] = np.maximum(state.values[at[held]], values[held])
            else:
                state.values[at[held]] += values[held]
            fresh = ~held
            keys = np.insert(state.keys, at[fresh], keys[fresh])
            values = np.insert(state.values, at[fresh], values[fresh])
        state.keys, state.values = keys, values

    # --- result --------------------------------------------------------------------------------

    def _derive_active_users(self) -> None:
        if not self._active_sources:
            return
        metric = self.metric("active_users", "people", MAX)
        parts = []
        for state in self._states.values():
            keys = state.keys
            source = keys >> (_PERSON_BITS + _DAY_BITS + _METRIC_BITS)
            wanted = np.isin(source, list(self._active_sources))
            day_person = keys[wanted] & ((1 << (_PERSON_BITS + _DAY_BITS)) - 1)
            parts.append(source[wanted] << (_PERSON_BITS + _DAY_BITS + _METRIC_BITS) | day_person)
        unique = np.unique(np.concatenate(parts))
        self._push(MAX, unique | (metric << (_PERSON_BITS + _DAY_BITS)), np.ones(len(unique)))
        self._merge(MAX)

    @property
    def person_keys(self) -> int:
        """Distinct (source, metric, day, person) values held (after merging)."""
        return sum(len(s.keys) + s.pending_size for s in self._states.values())

    def finalize(self) -> list[UsageCell]:
        """Team x day cells for every team level. Per-person values are dropped afterwards."""
        for how in (SUM, MAX):
            self._merge(how)
        self._derive_active_users()
        keys = np.concatenate([s.keys for s in self._states.values()])
        values = np.concatenate([s.values for s in self._states.values()])
        for state in self._states.values():
            state.keys = np.empty(0, dtype=np.int64)
            state.values = np.empty(0, dtype=np.float64)
        cells: list[UsageCell] = []
        if len(keys):
            cells.extend(self._cells(self._roll_up(keys, values)))
        cells.extend(self._team_level_cells())
        return cells

    def _roll_up(self, keys: np.ndarray, values: np.ndarray) -> pd.DataFrame:
        """Sum, distinct-people count and max per (source, metric, day, team subtree).

        First per person's own team (one group-by over the person keys), then up the tree:
        every person is in exactly one team, so subtrees of different children are disjoint
        and their counts add up exactly; sums add, maxima take the max."""
        persons = keys & _PERSON_MASK
        own = (keys >> _PERSON_BITS << _PERSON_BITS) | self.roster.person_team[persons]
        own, values = _sorted(own, values)
        starts = _run_starts(own)
        own_keys = own[starts]
        table = pd.DataFrame(
            {
                "sum": np.add.reduceat(values, starts),
                "count": np.diff(np.append(starts, len(own))),
                "max": np.maximum.reduceat(values, starts),
            },
            index=own_keys,
        )
        head = own_keys >> _PERSON_BITS << _PERSON_BITS
        levels = self.roster.ancestors[own_keys & _PERSON_MASK]
        parts = []
        for level in range(levels.shape[1]):
            team = levels[:, level]
            present = team >= 0
            part = table[present].copy()
            part.index = head[present] | team[present]
            parts.append(part)
        stacked = pd.concat(parts)
        grouped = stacked.groupby(level=0, sort=True)
        return pd.DataFrame(
            {
                "sum": grouped["sum"].sum(),
                "count": grouped["count"].sum(),
                "max": grouped["max"].max(),
            }
        )

    def _cells(self, table: pd.DataFrame) -> list[UsageCell]:
        keys = table.index.to_numpy(dtype=np.int64)
        teams = (keys & _PERSON_MASK).tolist()
        days = ((keys >> _PERSON_BITS) & _DAY_MASK).tolist()
        metrics = ((keys >> (_PERSON_BITS + _DAY_BITS)) & _METRIC_MASK).tolist()
        sources = (keys >> (_PERSON_BITS + _DAY_BITS + _METRIC_BITS)).tolist()
        team_ids = self.roster.team_ids
        day_cache: dict[int, dt.date] = {}
        out = []
        for source, metric, day, team, total, count, top in zip(
            sources,
            metrics,
            days,
            teams,
            table["sum"].tolist(),
            table["count"].tolist(),
            table["max"].tolist(),
            strict=True,
        ):
            spec = self.metrics[metric]
            date = day_cache.get(day) or day_cache.setdefault(day, day_from_number(day))
            out.append(
                UsageCell(
                    self.source_names[source],
                    team_ids[team],
                    date,
                    spec.name,
                    spec.unit,
                    float(total),
                    int(count),
                    float(top),
                )
            )
        return out

    def _team_level_cells(self) -> list[UsageCell]:
        """Team-level rows roll up to ancestors: distinct people in disjoint subtrees add up,
        so the sum of `people` is exact as long as a file never gives a team and one of its
        ancestors for the same day and metric (refused here)."""
        if not self._team_level:
            return []
        given: dict[tuple[int, int, int], set[int]] = {}
        for source, metric, day, team in self._team_level:
            given.setdefault((source, metric, day), set()).add(team)
        ancestors = self.roster.ancestors
        rolled: dict[tuple[int, int, int, int], list[float | None]] = {}
        for (source, metric, day, team), (total, people, top) in self._team_level.items():
            chain = [t for t in ancestors[team].tolist() if t >= 0]
            overlap = given[(source, metric, day)].intersection(chain[:-1])
            if overlap:
                raise UsageFileError(
                    [
                        UsageProblem(
                            "",
                            None,
                            "team",
                            f"{self.metrics[metric].name} on {day_from_number(day)} is given "
                            "both for a team and for one of its parent teams; give leaf "
                            "teams only (parents are computed)",
                        )
                    ]
                )
            for ancestor in chain:
                key = (source, metric, day, ancestor)
                cell = rolled.get(key)
                if cell is None:
                    rolled[key] = [total, people, top]
                    continue
                cell[0] = float(cell[0] or 0) + float(total or 0)
                cell[1] = None if cell[1] is None or people is None else cell[1] + people
                cell[2] = None if cell[2] is None or top is None else max(cell[2], top)
        return [
            UsageCell(
                self.source_names[source],
                self.roster.team_ids[team],
                day_from_number(day),
                self.metrics[metric].name,
                self.metrics[metric].unit,
                float(total or 0),
                None if people is None else int(people),
                None if top is None else float(top),
            )
            for (source, metric, day, team), (total, people, top) in sorted(rolled.items())
        ]


def _sorted(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(keys, kind="stable")
    return keys[order], values[order]


def _run_starts(sorted_keys: np.ndarray) -> np.ndarray:
    if not len(sorted_keys):
        return np.empty(0, dtype=np.int64)
    return np.flatnonzero(np.concatenate(([True], sorted_keys[1:] != sorted_keys[:-1])))


def _reduce_sorted(keys: np.ndarray, values: np.ndarray, how: str) -> tuple[np.ndarray, np.ndarray]:
    """Combine equal adjacent keys: sum, or max for non-additive metrics."""
    starts = _run_starts(keys)
    if len(starts) == len(keys):
        return keys, values
    reduce = np.maximum.reduceat if how == MAX else np.add.reduceat
    return keys[starts], reduce(values, starts)
