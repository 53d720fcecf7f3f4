"""Per-person usage during an import, reduced one UTC day at a time to team x day cells.

Memory is bounded independently of the file's size. Adapters add per-person values as numpy
arrays of (day, packed key, value), the key packing (source, metric, person) into one int64.
Those triples are held in memory up to `SPILL_AT` of them, then sorted by day and appended to
one anonymous temporary file on local disk (`tempfile.TemporaryFile`: unlinked from the
start, so no other process can open it, and closed - which frees it - by `close()`, which the
import service calls in a `finally`). Per-person values are never written anywhere else and
never reach the database. At the end, `day_cells` reads the triples back one day at a time
(in pieces of at most `SPILL_AT`), reduces them to one value per person, rolls those up to
every team level and yields that day's cells; only one day's per-person values are in memory
at once, so the peak grows with the people and metrics of one day, not with rows or days.
A small delivery (fewer than `SPILL_AT` values) never touches the disk.

Within one import, additive metrics (`SUM`: tokens, lines, requests, cents) are summed over a
person's rows of a day; non-additive ones (`MAX`: active flags, last-activity snapshots) are
combined with max, so a person is counted once however many rows say they were active.

Per (source, team, day, metric) a cell holds the total, the number of distinct people with a
value (exact: every person is in exactly one team, so the people of a subtree are counted once
each), the largest single person's value, and the largest value among the people sitting
directly in the team (not in a child team): the release gate needs it to bound one person's
share of "a parent minus some of its children" (`analytics.gate`).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from itertools import repeat
from types import TracebackType
from typing import IO, NamedTuple

import numpy as np

from analytics.usage.identity import Roster
from analytics.usage.parsing import UsageFileError, UsageProblem, day_from_number

SUM = "sum"
MAX = "max"

_PERSON_BITS = 24
_METRIC_BITS = 12
_SOURCE_LIMIT = 1 << (63 - _PERSON_BITS - _METRIC_BITS)
_PERSON_MASK = (1 << _PERSON_BITS) - 1
_METRIC_MASK = (1 << _METRIC_BITS) - 1
# Per-person values held in memory before they go to the temporary file: 64k x 18 bytes,
# a few MiB; also the largest piece of one day read back at once.
SPILL_AT = 1 << 16
UNMATCHED_KEPT = 10_000


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    unit: str
    how: str


class UsageCell(NamedTuple):
    """One (source, team, day, metric) aggregate, ready to store (fields in the order of the
    table's columns, so that a cell is also the row inserted)."""

    source: str
    team_id: int
    day: dt.date
    metric: str
    unit: str
    total: float
    contributors: int | None
    max_single: float | None
    direct_max_single: float | None


_new_cell = partial(tuple.__new__, UsageCell)  # UsageCell from one iterable, at C speed


class _DayStore:
    """(day, key, value) triples, partitioned by day: in memory while small, then in an
    anonymous temporary file, written in day order, with the file positions of each day's
    runs (`_segments`) kept in memory."""

    def __init__(self) -> None:
        self._parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._size = 0
        self._file: IO[bytes] | None = None
        self._segments: dict[int, list[tuple[int, int]]] = {}

    def add(self, days: np.ndarray, keys: np.ndarray, values: np.ndarray) -> None:
        # Held, not copied, when already float64: callers pass arrays of their own.
        self._parts.append((days.astype(np.uint16), keys, values.astype(np.float64, copy=False)))
        self._size += len(keys)
        if self._size >= SPILL_AT:
            self._spill()

    def _take_parts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        days = np.concatenate([d for d, _, _ in self._parts])
        keys = np.concatenate([k for _, k, _ in self._parts])
        values = np.concatenate([v for _, _, v in self._parts])
        self._parts.clear()
        self._size = 0
        order = np.argsort(days, kind="stable")  # a radix sort for 16-bit days
        return days[order], keys[order], values[order]

    def _spill(self) -> None:
        days, keys, values = self._take_parts()
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="pulse-usage-")  # noqa: SIM115
        file = self._file
        file.seek(0, 2)
        for start, end in _runs(days):
            # Key and value of one run side by side: one read per run later.
            self._segments.setdefault(int(days[start]), []).append((file.tell(), end - start))
            file.write(keys[start:end].data)  # the array's own buffer: no bytes copy
            file.write(values[start:end].data)

    def day_pieces(self) -> Iterator[tuple[int, Iterator[tuple[np.ndarray, np.ndarray]]]]:
        """Every day in order, with its (keys, values) in pieces of at most `SPILL_AT`."""
        if self._file is None:
            if not self._parts:
                return
            days, keys, values = self._take_parts()
            for start, end in _runs(days):
                yield int(days[start]), iter([(keys[start:end], values[start:end])])
            return
        if self._parts:
            self._spill()
        for day in sorted(self._segments):
            yield day, self._read(self._segments[day])

    def _read(self, segments: list[tuple[int, int]]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        assert self._file is not None
        keys: list[np.ndarray] = []
        values: list[np.ndarray] = []
        held = 0
        for position, count in segments:
            self._file.seek(position)
            data = self._file.read(16 * count)
            keys.append(np.frombuffer(data, dtype=np.int64, count=count))
            values.append(np.frombuffer(data, dtype=np.float64, count=count, offset=8 * count))
            held += count
            if held >= SPILL_AT:
                yield np.concatenate(keys), np.concatenate(values)
                keys, values, held = [], [], 0
        if keys:
            yield np.concatenate(keys), np.concatenate(values)

    def close(self) -> None:
        self._parts.clear()
        self._segments.clear()
        if self._file is not None:
            self._file.close()
            self._file = None


class Accumulator:
    """Collects one delivery's usage. Callers: the adapters (adding), the import service
    (counts, `day_cells`, `close`). Use it as a context manager, or call `close()`: it may
    hold a temporary file of per-person values."""

    def __init__(self, roster: Roster) -> None:
        self.roster = roster
        self.source_names: list[str] = []
        self._sources: dict[str, int] = {}
        self.metrics: list[Metric] = []
        self._metrics: dict[str, int] = {}
        self._how = np.empty(0, dtype=bool)
        self._store = _DayStore()
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

    def __enter__(self) -> Accumulator:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Drop every per-person value held, in memory and in the temporary file."""
        self._store.close()

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
            self._how = np.append(self._how, how == MAX)
        return code

    def count_active_users(self, source: int) -> None:
        """Derive `active_users` (people with any value that day) for `source` when the day
        is reduced, instead of holding one more value per row."""
        self._active_sources.add(source)

    # --- adding --------------------------------------------------------------------------------

    def cover_days(self, sources: np.ndarray | int, days: np.ndarray) -> None:
        """Record the days each source's export covers (matched or not): an import replaces
        exactly those days of that source."""
        if isinstance(sources, int):
            self.days[sources].update(np.unique(days).tolist())
            return
        for packed in np.unique(sources.astype(np.int64) << 16 | days).tolist():
            self.days[packed >> 16].add(packed & 0xFFFF)

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
        keys = ((src << _METRIC_BITS) | met) << _PERSON_BITS | persons.astype(np.int64, copy=False)
        self._store.add(days, keys, values)

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

    # --- result --------------------------------------------------------------------------------

    def day_cells(self) -> Iterator[tuple[dt.date, set[str], list[UsageCell]]]:
        """Every covered day in order: the day, the sources whose export covers it, and its
        cells for every team level. Per-person values of a day are dropped once its cells are
        made. Raises `UsageFileError` before yielding anything when team-level rows give a
        team and one of its ancestors for the same day and metric."""
        team_level = self._team_level_cells()
        active = self.metric("active_users", "people", MAX) if self._active_sources else -1
        covered: dict[int, set[str]] = {}
        for code, numbers in self.days.items():
            for number in numbers:
                covered.setdefault(number, set()).add(self.source_names[code])
        pieces = self._store.day_pieces()
        pending = next(pieces, None)
        for number in sorted(covered):
            cells: list[UsageCell] = []
            if pending is not None and pending[0] == number:
                cells = self._person_cells(number, pending[1], active)
                pending = next(pieces, None)
            cells.extend(team_level.pop(number, []))
            yield day_from_number(number), covered[number], cells

    def _person_cells(
        self, day: int, pieces: Iterator[tuple[np.ndarray, np.ndarray]], active: int
    ) -> list[UsageCell]:
        keys = np.empty(0, dtype=np.int64)
        values = np.empty(0, dtype=np.float64)
        for piece_keys, piece_values in pieces:
            # The day so far, one value per key, plus the next piece: bounded by the day's
            # distinct (source, metric, person) values plus `SPILL_AT`.
            keys, values = self._reduce(
                np.concatenate((keys, piece_keys)), np.concatenate((values, piece_values))
            )
        if self._active_sources and len(keys):
            # One `active_users` value per person with any value that day, per source: marked
            # in a bitmap of the roster (no sort, no hash).
            sources = keys >> (_PERSON_BITS + _METRIC_BITS)
            persons = keys & _PERSON_MASK
            people = len(self.roster.person_team)
            extra = []
            for source in sorted(self._active_sources):
                seen = np.zeros(people, dtype=bool)
                seen[persons[sources == source]] = True
                head = ((source << _METRIC_BITS) | active) << _PERSON_BITS
                extra.append(head | np.flatnonzero(seen))
            keys, values = self._reduce(
                np.concatenate((keys, *extra)),
                np.concatenate((values, np.ones(sum(len(e) for e in extra)))),
            )
        return self._roll_up(day, keys, values)

    def _reduce(self, keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One value per key, sorted: summed for additive metrics, max for the others."""
        # Stable (radix/timsort) for the already sorted runs it is often given, e.g. a reduced
        # day plus its `active_users` values.
        order = np.argsort(keys, kind="stable")
        keys, values = keys[order], values[order]
        starts = _run_starts(keys)
        if len(starts) == len(keys):
            return keys, values
        keys = keys[starts]
        reduced = np.add.reduceat(values, starts)
        is_max = self._how[(keys >> _PERSON_BITS) & _METRIC_MASK]
        if is_max.any():
            reduced[is_max] = np.maximum.reduceat(values, starts)[is_max]
        return keys, reduced

    def _roll_up(self, day: int, keys: np.ndarray, values: np.ndarray) -> list[UsageCell]:
        """Sum, distinct-people count and max per (source, metric, team) for every team level.

        First per person's own team (one pass over the people), then up the tree on the small
        (team x metric) arrays: every person is in exactly one team, so the subtrees of
        different children are disjoint and their counts add up exactly; sums add, maxima
        take the max."""
        if not len(keys):
            return []
        roster = self.roster
        teams = len(roster.team_ids)
        # Keys are sorted, so their (source, metric) part is too: number its runs densely.
        starts = _run_starts(keys >> _PERSON_BITS)
        source_metric = (keys >> _PERSON_BITS)[starts]
        run = np.zeros(len(keys), dtype=np.int64)
        run[starts[1:]] = 1
        run = np.cumsum(run)
        own = roster.person_team[keys & _PERSON_MASK] * len(starts) + run  # team x run
        shape = (teams, len(starts))
        own_count = np.bincount(own, minlength=teams * len(starts)).reshape(shape)
        own_total = np.bincount(own, weights=values, minlength=own_count.size).reshape(shape)
        own_top = np.full(own_count.size, -np.inf)
        np.maximum.at(own_top, own, values)
        own_top = own_top.reshape(shape)
        count = np.zeros(shape, dtype=np.int64)
        total = np.zeros(shape)
        top = np.full(shape, -np.inf)
        for level in roster.ancestors.T:  # each team's ancestor at that level, -1 if none
            has = level >= 0
            np.add.at(count, level[has], own_count[has])
            np.add.at(total, level[has], own_total[has])
            np.maximum.at(top, level[has], own_top[has])
        # Back to (run x team) order, the order the cells are made in.
        count, total, top = count.T.ravel(), total.T.ravel(), top.T.ravel()
        direct = np.maximum(own_top, 0.0).T.ravel()  # -inf (nobody directly in it) -> 0
        used = np.flatnonzero(count)
        run_of_cell = used // teams
        # Names per (source, metric) run, then per cell by numpy indexing: no Python call per
        # cell (an import can make tens of thousands of them).
        sources = np.array(
            [self.source_names[sm >> _METRIC_BITS] for sm in source_metric.tolist()], object
        )
        specs = [self.metrics[sm & _METRIC_MASK] for sm in source_metric.tolist()]
        metric_names = np.array([m.name for m in specs], object)
        units = np.array([m.unit for m in specs], object)
        team_ids = np.array(roster.team_ids, object)
        return list(
            map(
                _new_cell,
                zip(
                    sources[run_of_cell].tolist(),
                    team_ids[used % teams].tolist(),
                    repeat(day_from_number(day), len(used)),
                    metric_names[run_of_cell].tolist(),
                    units[run_of_cell].tolist(),
                    total[used].tolist(),
                    count[used].tolist(),
                    top[used].tolist(),
                    direct[used].tolist(),
                    strict=True,
                ),
            )
        )

    def _team_level_cells(self) -> dict[int, list[UsageCell]]:
        """Team-level rows roll up to ancestors: distinct people in disjoint subtrees add up,
        so the sum of `people` is exact as long as a file never gives a team and one of its
        ancestors for the same day and metric (refused here). A given team's `max_single`
        also bounds its direct members' largest value (who sits directly in it is unknown);
        an ancestor only has what its given descendants roll up, so nobody directly in it."""
        if not self._team_level:
            return {}
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
        by_day: dict[int, list[UsageCell]] = {}
        for (source, metric, day, team), (total, people, top) in sorted(rolled.items()):
            given_here = team in given[(source, metric, day)]
            by_day.setdefault(day, []).append(
                UsageCell(
                    self.source_names[source],
                    self.roster.team_ids[team],
                    day_from_number(day),
                    self.metrics[metric].name,
                    self.metrics[metric].unit,
                    float(total or 0),
                    None if people is None else int(people),
                    None if top is None else float(top),
                    None if top is None else float(top) if given_here else 0.0,
                )
            )
        return by_day


def _run_starts(sorted_keys: np.ndarray) -> np.ndarray:
    if not len(sorted_keys):
        return np.empty(0, dtype=np.int64)
    return np.flatnonzero(np.concatenate(([True], sorted_keys[1:] != sorted_keys[:-1])))


def _runs(sorted_values: np.ndarray) -> Iterator[tuple[int, int]]:
    """(start, end) of each run of equal values."""
    starts = _run_starts(sorted_values).tolist()
    yield from zip(starts, [*starts[1:], len(sorted_values)], strict=True)
