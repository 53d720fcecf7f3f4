"""The attacker used to prove the disclosure control: it recovers what it can from a publication.

Used by tests (tests/analytics, tests/attacks), never by the product. Given everything a
publication shows - each shown cell's membership as a 0/1 row over respondents and its sum of
answers (counts are the same rows with every answer 1, so they add nothing) - and the bounds of
the answers, it tries two attacks:

- `linear_disclosures`: respondents whose unit vector e_i lies in the row space of the shown
  matrix (least squares recovers their answer exactly, whatever the answers are);
- `lp_disclosures`: respondents whose answer is pinned by the sums *and* the bounds: it
  minimises and maximises x_i subject to A x = b, lower <= x <= upper (scipy's HiGHS); if
  max - min < one answer step, the answer is disclosed. A cheap certificate skips the LPs for a
  respondent whose answer can be swapped with a different answer of a respondent with the same
  membership column (both are then feasible values).

Usage:
    matrix = membership_matrix(cells_as_group_sets, group_weights)   # (cells, respondents)
    report = recover_answers(matrix, matrix @ answers, answers=answers, lower=0, upper=4, step=1)
    report.disclosed  # respondent indices whose answer the attacker knows
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.linalg import null_space
from scipy.optimize import linprog

_TOL = 1e-7


@dataclass(frozen=True, slots=True)
class AttackReport:
    exact: tuple[int, ...]  # e_i in the row space: recovered from the sums alone
    bounded: tuple[int, ...]  # pinned by the sums and the answer bounds (includes `exact`)
    ranges: dict[int, tuple[float, float]]  # LP range for every respondent that needed an LP

    @property
    def disclosed(self) -> tuple[int, ...]:
        return tuple(sorted(set(self.exact) | set(self.bounded)))


def membership_matrix(cells: Iterable[Iterable[int]], group_weights: Sequence[int]) -> np.ndarray:
    """Rows = cells, columns = respondents (group g expanded to group_weights[g] columns)."""
    starts = np.concatenate([[0], np.cumsum(group_weights)]).astype(int)
    cell_list = [list(c) for c in cells]
    matrix = np.zeros((len(cell_list), int(starts[-1])), dtype=float)
    for row, groups in enumerate(cell_list):
        for g in groups:
            matrix[row, starts[g] : starts[g + 1]] = 1.0
    return matrix


def respondent_groups(group_weights: Sequence[int]) -> np.ndarray:
    """The group index of every respondent column of `membership_matrix`."""
    return np.repeat(np.arange(len(group_weights)), group_weights)


def linear_disclosures(matrix: np.ndarray) -> tuple[int, ...]:
    """Respondents i with e_i in the row space of `matrix` (a rank / null-space test)."""
    n = matrix.shape[1]
    if matrix.shape[0] == 0:
        return ()
    kernel = null_space(matrix)
    if kernel.shape[1] == 0:
        return tuple(range(n))
    norms = np.linalg.norm(kernel, axis=1)
    return tuple(int(i) for i in np.flatnonzero(norms < _TOL))


def in_row_space(matrix: np.ndarray, vector: np.ndarray) -> bool:
    """Whether `vector` is a linear combination of the rows of `matrix` (least squares)."""
    if matrix.shape[0] == 0:
        return not np.any(vector)
    coef, *_ = np.linalg.lstsq(matrix.T, vector, rcond=None)
    return bool(np.allclose(matrix.T @ coef, vector, atol=1e-6))


def lp_disclosures(
    matrix: np.ndarray,
    sums: np.ndarray,
    *,
    lower: float,
    upper: float,
    step: float,
    answers: np.ndarray | None = None,
) -> tuple[tuple[int, ...], dict[int, tuple[float, float]]]:
    """Respondents whose answer range under the published sums and bounds is < `step`.

    `answers` (the truth, known to the test only) enables the swap certificate that avoids
    most LPs; the verdicts are the same without it.
    """
    n = matrix.shape[1]
    columns = [tuple(matrix[:, i]) for i in range(n)]
    by_column: dict[tuple[float, ...], list[int]] = {}
    for i, col in enumerate(columns):
        by_column.setdefault(col, []).append(i)
    disclosed: list[int] = []
    ranges: dict[int, tuple[float, float]] = {}
    bounds = [(lower, upper)] * n
    for i in range(n):
        if answers is not None and any(
            abs(answers[j] - answers[i]) >= step - _TOL for j in by_column[columns[i]]
        ):
            continue
        lo = _extreme(matrix, sums, bounds, i, +1.0)
        hi = _extreme(matrix, sums, bounds, i, -1.0)
        ranges[i] = (lo, hi)
        if hi - lo < step - _TOL:
            disclosed.append(i)
    return tuple(disclosed), ranges


def _extreme(
    matrix: np.ndarray, sums: np.ndarray, bounds: list[tuple[float, float]], i: int, sign: float
) -> float:
    c = np.zeros(matrix.shape[1])
    c[i] = sign
    if matrix.shape[0] == 0:
        return bounds[i][0] if sign > 0 else bounds[i][1]
    result = linprog(c, A_eq=matrix, b_eq=sums, bounds=bounds, method="highs")
    if not result.success:
        raise RuntimeError(f"the published sums are inconsistent: {result.message}")
    return float(result.x[i])


def recover_answers(
    matrix: np.ndarray,
    sums: np.ndarray,
    *,
    lower: float,
    upper: float,
    step: float,
    answers: np.ndarray | None = None,
) -> AttackReport:
    """Run both attacks on a publication; see the module docstring."""
    exact = linear_disclosures(matrix)
    bounded, ranges = lp_disclosures(
        matrix, sums, lower=lower, upper=upper, step=step, answers=answers
    )
    return AttackReport(exact=exact, bounded=bounded, ranges=ranges)


__all__ = [
    "AttackReport",
    "in_row_space",
    "linear_disclosures",
    "lp_disclosures",
    "membership_matrix",
    "recover_answers",
    "respondent_groups",
]
