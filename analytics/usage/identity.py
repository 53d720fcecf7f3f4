"""Who is who in an export: identifiers resolved through the roster's aliases, never guessed.

An identifier resolves to one employee or to nobody. Kinds:
- `email`: the roster email (lower-cased);
- `upn`: the roster UPN, or the email when the UPN column is empty (UPNs usually are emails);
  a 32-hex-digit value is the unsalted MD5 of the lower-cased UPN (or email) that Microsoft's
  "anonymous identifiers" setting puts in reports;
- `github`: the roster's GitHub login; `aws`: the IAM Identity Center user id;
- `openai`: the OpenAI user id;
- `any`: any of the above (LiteLLM's internal user ids and similar free-form ids).
Employees are attributed to their current team on the roster.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pandas as pd

from surveys.models import Employee, Team

_MD5 = re.compile(r"^[0-9a-fA-F]{32}$")
KINDS = ("email", "upn", "github", "aws", "openai", "any")
# The roster columns (alias maps) each kind of identifier is resolved through.
_MAPS = {
    "email": ("email",),
    "upn": ("upn", "email"),
    "github": ("github",),
    "aws": ("aws",),
    "openai": ("openai",),
    "any": ("email", "upn", "github", "aws", "openai"),
}
_COLUMNS = {
    "email": "email",
    "upn": "upn",
    "github": "github_login",
    "aws": "aws_user_id",
    "openai": "openai_user_id",
}


def md5_hex(value: str) -> str:
    return hashlib.md5(value.encode("utf-8"), usedforsecurity=False).hexdigest()


@dataclass(slots=True)
class Roster:
    """The roster in memory, as dense person indexes. Built once per import."""

    person_team: np.ndarray  # person index -> team index
    team_ids: list[int]  # team index -> Team pk
    team_index: dict[str, int]  # team path -> team index
    ancestors: np.ndarray  # team index x level -> team index of the ancestor at that level, -1
    by_kind: dict[str, dict[str, int]] = field(default_factory=dict)
    _cache: dict[tuple[str, str], int] = field(default_factory=dict)
    _indexes: dict[str, tuple[pd.Index, np.ndarray]] = field(default_factory=dict)
    _exact: ClassVar[frozenset[str]] = frozenset(("email", "github", "aws", "openai"))

    @classmethod
    def load(cls, kinds: Iterable[str] = KINDS) -> Roster:
        """The roster with the alias maps that identifiers of `kinds` are resolved through
        (an Amazon Q report needs the Identity Center ids only: one column read and one map
        built, not five). Resolving a kind that was not loaded is a programming error
        (`KeyError`), never a silent miss."""
        needed = sorted({name for kind in kinds for name in _MAPS[kind]})
        teams = list(Team.objects.order_by("depth", "path").values_list("id", "path"))
        team_index = {path: i for i, (_, path) in enumerate(teams)}
        depth = max((p.count("/") + 1 for _, p in teams), default=1)
        ancestors = np.full((max(len(teams), 1), depth), -1, dtype=np.int64)
        for i, (_, path) in enumerate(teams):
            parts = path.split("/")
            for level in range(len(parts)):
                ancestors[i, level] = team_index["/".join(parts[: level + 1])]
        maps: dict[str, dict[str, int]] = {name: {} for name in needed}
        team_of = {pk: team_index[path] for pk, path in teams}
        rows = Employee.objects.values_list("team_id", *(_COLUMNS[n] for n in needed)).order_by(
            "pk"
        )
        person_team: list[int] = []
        for person, (team_id, *aliases) in enumerate(rows.iterator()):
            person_team.append(team_of[team_id])
            for name, alias in zip(needed, aliases, strict=True):
                if alias:
                    maps[name][alias.lower()] = person
        return cls(
            person_team=np.array(person_team, dtype=np.int64),
            team_ids=[pk for pk, _ in teams],
            team_index=team_index,
            ancestors=ancestors,
            by_kind=maps,
        )

    def resolve(self, kind: str, identifier: str) -> int:
        """The person index for `identifier`, or -1 when it matches nobody."""
        key = (kind, identifier)
        found = self._cache.get(key)
        if found is None:
            found = self._lookup(kind, identifier.strip().lower())
            self._cache[key] = found
        return found

    def _lookup(self, kind: str, value: str) -> int:
        if not value:
            return -1
        maps = self.by_kind
        if kind == "email":
            return maps["email"].get(value, -1)
        if kind == "upn":
            if _MD5.match(value):
                return self._md5s().get(value, -1)
            return maps["upn"].get(value, maps["email"].get(value, -1))
        if kind == "github":
            return maps["github"].get(value, -1)
        if kind == "aws":
            return maps["aws"].get(value, -1)
        if kind == "openai":
            return maps["openai"].get(value, -1)
        found = {
            maps[k][value] for k in ("email", "upn", "github", "aws", "openai") if value in maps[k]
        }
        # Two employees claiming the same free-form id under different aliases: not guessed.
        return found.pop() if len(found) == 1 else -1

    def _md5s(self) -> dict[str, int]:
        """MD5 of every UPN and email -> person (a UPN's wins over another person's email),
        computed on first use: only Microsoft 365 reports need it."""
        if "md5" not in self.by_kind:
            md5s = {md5_hex(upn): person for upn, person in self.by_kind["upn"].items()}
            for email, person in self.by_kind["email"].items():
                md5s.setdefault(md5_hex(email), person)
            self.by_kind["md5"] = md5s
        return self.by_kind["md5"]

    def resolve_exact(self, kind: str, identifiers: np.ndarray | pd.Index) -> np.ndarray:
        """Person indexes (-1: not found) of identifiers already written as the roster stores
        them (lower case, no spaces: the usual case), in one hashed pass (pandas, in C); -1
        for every identifier of the kinds that need more (`upn`, `any`). Callers pass the
        misses to `resolve_many`."""
        if kind not in self._exact:
            return np.full(len(identifiers), -1, dtype=np.int64)
        if kind not in self._indexes:
            mapping = self.by_kind[kind]
            self._indexes[kind] = (
                pd.Index(list(mapping), dtype=object),
                np.array([*mapping.values(), -1], dtype=np.int64),
            )
        index, persons = self._indexes[kind]
        return persons[index.get_indexer(identifiers)]  # get_indexer's -1 picks the final -1

    def resolve_many(self, kind: str, identifiers: list[str] | pd.Index) -> np.ndarray:
        """Person indexes (-1: nobody) for many identifiers, each through `resolve`."""
        return np.array([self.resolve(kind, str(i)) for i in identifiers], dtype=np.int64)
