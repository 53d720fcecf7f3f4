"""One adapter per export format (field names from the vendors' public docs), and the registry.

Every adapter maps columns/fields by name (case, spaces and punctuation ignored), ignores
unknown ones, refuses a file whose required fields are missing by naming them, treats rows that
identify no person (API keys, service accounts) as service rows, and counts the identifiers
that match nobody. Sources are the format names, except for `generic`, whose `tool` column
names the source.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from analytics.usage.accumulate import MAX, SUM, Accumulator
from analytics.usage.base import (
    Adapter,
    DayParser,
    MissingField,
    Problems,
    ProgressCallback,
    RecordAdapter,
    Row,
    UsageFile,
    Values,
    codes_and_uniques,
    csv_chunks,
    get,
    guess_unit,
    map_columns,
    normalise,
    number,
    read_header,
    resolve_column,
)
from analytics.usage.parsing import JsonRecord, UsageFileError, UsageProblem

# --- generic CSV ------------------------------------------------------------------------------


class GenericCsv(Adapter):
    """`email,date,tool,metric,value[,unit]` (one person's value), or
    `team,date,tool,metric,value[,unit,people,max_value]` for team-level sources (`team` is a
    roster path; without `people` and `max_value` the release gate can never show the figure).
    Values of the same person, day, tool and metric are summed."""

    name = "generic"
    identity_kinds = ("email",)
    title = "Generic CSV (email or team, date, tool, metric, value)"
    columns: ClassVar[dict[str, tuple[str, ...]]] = {
        "email": ("email", "user_email", "upn"),
        "team": ("team", "team_path"),
        "date": ("date", "day"),
        "tool": ("tool", "source"),
        "metric": ("metric",),
        "value": ("value",),
        "unit": ("unit",),
        "people": ("people", "contributors"),
        "max_value": ("max_value", "max_single"),
    }

    def read(self, file: UsageFile, acc: Accumulator, progress: ProgressCallback | None) -> None:
        header = read_header(file)
        has_team = "team" in {normalise(h) for h in header}
        has_email = any(normalise(h) in ("email", "useremail", "upn") for h in header)
        identity = "team" if has_team and not has_email else "email"
        cols = map_columns(
            file, header, self.columns, [identity, "date", "tool", "metric", "value"], acc
        )
        cols.pop("team" if identity == "email" else "email", None)
        if identity == "email":
            cols.pop("people", None)
            cols.pop("max_value", None)
        problems = Problems()
        days = DayParser()
        for line, chunk in csv_chunks(file, cols, ("value", "people", "max_value"), progress):
            n = len(chunk)
            acc.rows_read += n
            day, ok = days.column(chunk[cols["date"]], file.name, line, cols["date"], problems)
            tool_codes, tools = codes_and_uniques(chunk[cols["tool"]])
            if (tool_codes < 0).any():
                row = int(np.argmax(tool_codes < 0))
                problems.add(file.name, line + row, cols["tool"], "the tool is empty")
                ok &= tool_codes >= 0
            source_lut = np.array([acc.source(_slug(str(t))) for t in tools] + [0], dtype=np.int64)
            sources = source_lut[tool_codes]
            metric_codes, metric_names = codes_and_uniques(chunk[cols["metric"]])
            if (metric_codes < 0).any():
                row = int(np.argmax(metric_codes < 0))
                problems.add(file.name, line + row, cols["metric"], "the metric is empty")
                ok &= metric_codes >= 0
            units = _first_units(chunk, cols, metric_codes, len(metric_names))
            metric_lut = np.array(
                [
                    acc.metric(_slug(str(m)), units[j] or guess_unit(str(m)), SUM)
                    for j, m in enumerate(metric_names)
                ]
                + [0],
                dtype=np.int64,
            )
            metrics = metric_lut[metric_codes]
            values = chunk[cols["value"]].to_numpy(dtype=np.float64, na_value=np.nan)
            if problems.total:
                continue  # keep scanning for more problems; nothing will be written
            acc.cover_days(sources[ok], day[ok])
            if identity == "team":
                self._team_rows(file, acc, chunk, cols, line, ok, sources, day, metrics, values)
                continue
            persons = resolve_column(acc, "email", chunk[cols["email"]])
            matched = ok & (persons >= 0)
            acc.rows_matched += int(matched.sum())
            acc.rows_unmatched += int((ok & (persons < 0)).sum())
            acc.add(
                sources[matched], persons[matched], day[matched], metrics[matched], values[matched]
            )
            for code in np.unique(sources[matched]).tolist():
                acc.count_active_users(code)
        problems.raise_if_any()

    def _team_rows(
        self,
        file: UsageFile,
        acc: Accumulator,
        chunk: pd.DataFrame,
        cols: dict[str, str],
        line: int,
        ok: np.ndarray,
        sources: np.ndarray,
        day: np.ndarray,
        metrics: np.ndarray,
        values: np.ndarray,
    ) -> None:
        teams = chunk[cols["team"]].tolist()
        people = chunk[cols["people"]].tolist() if "people" in cols else [None] * len(chunk)
        tops = chunk[cols["max_value"]].tolist() if "max_value" in cols else [None] * len(chunk)
        for i in np.flatnonzero(ok).tolist():
            path = "/".join(p.strip() for p in str(teams[i]).split("/"))
            team = acc.roster.team_index.get(path)
            if team is None:
                acc.rows_unmatched += 1
                acc.add_unmatched({path: 1})
                continue
            acc.rows_matched += 1
            count = people[i]
            top = tops[i]
            acc.add_team_level(
                int(sources[i]),
                team,
                int(day[i]),
                int(metrics[i]),
                float(values[i]) if values[i] == values[i] else 0.0,
                None if count is None or count != count else int(count),
                None if top is None or top != top else float(top),
            )


def _first_units(
    chunk: pd.DataFrame, cols: dict[str, str], codes: np.ndarray, n: int
) -> list[str | None]:
    if "unit" not in cols:
        return [None] * n
    units: list[str | None] = [None] * n
    first = pd.Series(np.arange(len(codes))).groupby(codes).first()
    unit_values = chunk[cols["unit"]].tolist()
    for code, row in first.items():
        if int(code) >= 0:
            value = unit_values[int(row)]
            units[int(code)] = str(value).strip()[:20] if isinstance(value, str) else None
    return units


def _slug(value: str) -> str:
    return re.sub(r"[^a-z0-9_.:-]+", "_", value.strip().lower())[:60] or "unknown"


# --- Amazon Q Developer / Kiro ----------------------------------------------------------------

AMAZON_Q_METRICS = [
    "Chat_AICodeLines",
    "Chat_MessagesInteracted",
    "Chat_MessagesSent",
    "CodeFix_AcceptanceEventCount",
    "CodeFix_AcceptedLines",
    "CodeFix_GeneratedLines",
    "CodeFix_GenerationEventCount",
    "CodeReview_FailedEventCount",
    "CodeReview_FindingsCount",
    "CodeReview_SucceededEventCount",
    "Dev_AcceptanceEventCount",
    "Dev_AcceptedLines",
    "Dev_GeneratedLines",
    "Dev_GenerationEventCount",
    "DocGeneration_AcceptedFileUpdates",
    "DocGeneration_AcceptedFilesCreations",
    "DocGeneration_AcceptedLineAdditions",
    "DocGeneration_AcceptedLineUpdates",
    "DocGeneration_EventCount",
    "DocGeneration_RejectedFileCreations",
    "DocGeneration_RejectedFileUpdates",
    "DocGeneration_RejectedLineAdditions",
    "DocGeneration_RejectedLineUpdates",
    "InlineChat_AcceptanceEventCount",
    "InlineChat_AcceptedLineAdditions",
    "InlineChat_AcceptedLineDeletions",
    "InlineChat_DismissalEventCount",
    "InlineChat_DismissedLineAdditions",
    "InlineChat_DismissedLineDeletions",
    "InlineChat_RejectedLineAdditions",
    "InlineChat_RejectedLineDeletions",
    "InlineChat_RejectionEventCount",
    "InlineChat_TotalEventCount",
    "Inline_AICodeLines",
    "Inline_AcceptanceCount",
    "Inline_SuggestionsCount",
    "TestGeneration_AcceptedLines",
    "TestGeneration_AcceptedTests",
    "TestGeneration_EventCount",
    "TestGeneration_GeneratedLines",
    "TestGeneration_GeneratedTests",
    "Transformation_EventCount",
    "Transformation_LinesGenerated",
    "Transformation_LinesIngested",
]


def _amazon_q_unit(metric: str) -> str:
    if "Line" in metric:
        return "lines"
    if "Messages" in metric:
        return "messages"
    if "Tests" in metric:
        return "tests"
    if "File" in metric:
        return "files"
    return "events"


class AmazonQ(Adapter):
    """Amazon Q Developer / Kiro user activity report (`..._by_user_analytic_*.csv`), one row
    per active user per UTC day, `UserId` an IAM Identity Center id. Import the part files of
    one delivery together. `Chat_MessagesSent` counts prompts and responses."""

    name = "amazon-q"
    identity_kinds = ("aws",)
    title = "Amazon Q Developer / Kiro user activity report (CSV parts)"

    def read(self, file: UsageFile, acc: Accumulator, progress: ProgressCallback | None) -> None:
        header = read_header(file)
        wanted: dict[str, tuple[str, ...]] = {
            "user": ("UserId", "user_id"),
            "date": ("Date", "day"),
        }
        wanted.update({m: (m,) for m in AMAZON_Q_METRICS})
        cols = map_columns(file, header, wanted, ["user", "date"], acc)
        present = [m for m in AMAZON_Q_METRICS if m in cols]
        if not present:
            raise UsageFileError(
                [
                    UsageProblem(
                        file.name, 1, None, "no activity column (e.g. Inline_AcceptanceCount)"
                    )
                ]
            )
        codes = np.array([acc.metric(m, _amazon_q_unit(m), SUM) for m in present], np.int64)
        source = acc.source(self.name)
        acc.count_active_users(source)
        problems = Problems()
        days = DayParser()
        for line, chunk in csv_chunks(file, cols, present, progress):
            acc.rows_read += len(chunk)
            day, ok = days.column(chunk[cols["date"]], file.name, line, cols["date"], problems)
            if problems.total:
                continue
            acc.cover_days(source, day[ok])
            persons = resolve_column(acc, "aws", chunk[cols["user"]])
            matched = ok & (persons >= 0)
            acc.rows_matched += int(matched.sum())
            acc.rows_unmatched += int((ok & (persons < 0)).sum())
            # Metric x row: pandas holds same-typed columns as one block, so this is usually a
            # view, and the scan below runs along memory. Per-person zeros are not
            # contributions. One flat scan of a boolean mask (several times cheaper than a
            # scan of the numbers, or a 2-D nonzero; NaN counts as non-zero either way and
            # `acc.add` drops it); the indexes come out metric by metric, so each value's
            # metric follows from how many each metric row holds, and its row from the
            # metric's offset (no division per value).
            block = np.ascontiguousarray(chunk[[cols[m] for m in present]].to_numpy().T)
            width = block.shape[1]
            flat = np.flatnonzero(block != 0)
            per_metric = np.diff(np.searchsorted(flat, np.arange(len(present) + 1) * width))
            which = np.repeat(np.arange(len(present)), per_metric)
            rows = flat - which * width
            if not matched.all():
                keep = matched[rows]
                flat, which, rows = flat[keep], which[keep], rows[keep]
            values = block.ravel()[flat].astype(np.float64)
            acc.add(source, persons[rows], day[rows], codes[which], values)
        problems.raise_if_any()


# --- Microsoft 365 Copilot usage, user detail -----------------------------------------------

_M365_APPS = {
    "lastactivitydate": "any",
    "microsoftteamscopilotlastactivitydate": "teams",
    "copilotchatlastactivitydate": "chat",
}


class M365Copilot(Adapter):
    """Microsoft 365 Copilot usage user detail: a snapshot of last-activity dates. For each app
    column, a person counts as active (unit `people`, never summed) when their last activity
    lies within the report period ending on the refresh date; the cell's day is the refresh
    date and the metric names the period (`active_word_30d`). UPNs may be MD5-anonymised."""

    name = "m365-copilot"
    identity_kinds = ("upn",)
    title = "Microsoft 365 Copilot usage, user detail (CSV)"

    def read(self, file: UsageFile, acc: Accumulator, progress: ProgressCallback | None) -> None:
        header = read_header(file)
        wanted: dict[str, tuple[str, ...]] = {
            "user": ("User Principal Name", "upn", "user_principal_name"),
            "refresh": ("Report Refresh Date",),
            "period": ("Report Period",),
        }
        apps: dict[str, str] = {}
        for h in header:
            key = normalise(h)
            app = _M365_APPS.get(key)
            if app is None and key.endswith("copilotlastactivitydate"):
                app = key.removesuffix("copilotlastactivitydate")
            if app:
                apps[h] = app
                wanted[h] = (h,)
        cols = map_columns(file, header, wanted, ["user", "refresh", "period"], acc)
        if not apps:
            raise UsageFileError(
                [UsageProblem(file.name, 1, "Last Activity Date", "no last-activity column")]
            )
        source = acc.source(self.name)
        problems = Problems()
        days = DayParser()
        for line, chunk in csv_chunks(file, cols, (), progress):
            acc.rows_read += len(chunk)
            refresh, ok = days.column(
                chunk[cols["refresh"]], file.name, line, cols["refresh"], problems
            )
            period = self._periods(chunk[cols["period"]], file.name, line, cols, problems)
            ok &= period > 0
            if problems.total:
                continue
            acc.cover_days(source, refresh[ok])
            persons = resolve_column(acc, "upn", chunk[cols["user"]])
            matched = ok & (persons >= 0)
            acc.rows_matched += int(matched.sum())
            acc.rows_unmatched += int((ok & (persons < 0)).sum())
            for column, app in apps.items():
                values = chunk[column]
                has = values.notna().to_numpy() & matched
                if not has.any():
                    continue
                last, valid = days.column(
                    values.where(has, None), file.name, line, column, problems, allow_empty=True
                )
                active = has & valid & (last <= refresh) & (last > refresh - period)
                for n in np.unique(period[active]).tolist():
                    rows = active & (period == n)
                    metric = acc.metric(f"active_{app}_{n}d", "people", MAX)
                    acc.add(source, persons[rows], refresh[rows], metric, np.ones(int(rows.sum())))
        problems.raise_if_any()

    def _periods(
        self, series: pd.Series, file: str, line: int, cols: dict[str, str], problems: Problems
    ) -> np.ndarray:
        codes, uniques = codes_and_uniques(series)
        lut = np.zeros(len(uniques) + 1, dtype=np.int64)
        for j, value in enumerate(uniques):
            digits = re.sub(r"\D", "", str(value))
            if not digits or int(digits) == 0 or int(digits) > 3660:
                row = int(np.argmax(codes == j))
                problems.add(file, line + row, cols["period"], f"'{value}' is not a period")
            else:
                lut[j] = int(digits)
        return lut[codes]


# --- JSON formats ---------------------------------------------------------------------------


class ClaudeCode(RecordAdapter):
    """Claude Code analytics (`/v1/organizations/usage_report/claude_code`). `date` may be a
    day or a timestamp; `api_actor` records are API keys, not people; cost is in cents."""

    name = "claude-code"
    title = "Claude Code analytics (JSON / NDJSON)"

    def row(self, record: JsonRecord) -> Row:
        rec = record.value
        actor = get(rec, "actor")
        day = get(rec, "date")
        identifier = None
        if isinstance(actor, dict) and get(actor, "type", default="") != "api_actor":
            identifier = str(get(rec, "actor", "email_address"))
        core = get(rec, "core_metrics", default={}) or {}
        values: Values = [
            ("sessions", "sessions", SUM, number(get(core, "num_sessions", default=0), "")),
            (
                "lines_added",
                "lines",
                SUM,
                number(get(core, "lines_of_code", "added", default=0), "lines_of_code.added"),
            ),
            (
                "lines_removed",
                "lines",
                SUM,
                number(get(core, "lines_of_code", "removed", default=0), "lines_of_code.removed"),
            ),
            ("commits", "count", SUM, number(get(core, "commits_by_claude_code", default=0), "")),
            (
                "pull_requests",
                "count",
                SUM,
                number(get(core, "pull_requests_by_claude_code", default=0), ""),
            ),
        ]
        tokens = {"input": 0.0, "output": 0.0, "cache_read": 0.0, "cache_creation": 0.0}
        costs: dict[str, float] = {}
        for model in get(rec, "model_breakdown", default=[]) or []:
            for kind in tokens:
                tokens[kind] += number(get(model, "tokens", kind, default=0), f"tokens.{kind}")
            cost = get(model, "estimated_cost", default=None)
            if isinstance(cost, dict):
                currency = str(get(cost, "currency", default="USD")).lower()[:3]
                costs[currency] = costs.get(currency, 0.0) + number(
                    get(cost, "amount", default=0), "estimated_cost.amount"
                )
        values += [(f"{kind}_tokens", "tokens", SUM, v) for kind, v in tokens.items()]
        values += [(f"estimated_cost_{c}", "cents", SUM, v) for c, v in costs.items()]
        accepted = rejected = 0.0
        for action in (get(rec, "tool_actions", default={}) or {}).values():
            if isinstance(action, dict):
                accepted += number(action.get("accepted", 0), "tool_actions.accepted")
                rejected += number(action.get("rejected", 0), "tool_actions.rejected")
        values += [
            ("tool_actions_accepted", "count", SUM, accepted),
            ("tool_actions_rejected", "count", SUM, rejected),
        ]
        return Row(identifier, day, values)


_COPILOT_SUMS = (
    ("user_initiated_interaction_count", "count"),
    ("code_generation_activity_count", "count"),
    ("code_acceptance_activity_count", "count"),
    ("loc_suggested_to_add_sum", "lines"),
    ("loc_suggested_to_delete_sum", "lines"),
    ("loc_added_sum", "lines"),
    ("loc_deleted_sum", "lines"),
)
_COPILOT_FLAGS = ("used_chat", "used_agent", "used_cli")


class CopilotUsers(RecordAdapter):
    """GitHub Copilot `users-1-day` NDJSON records, identified by `user_login` (the roster's
    `github_login`). `used_*` flags become counts of people, never sums."""

    name = "copilot-users"
    title = "GitHub Copilot users-1-day report (NDJSON)"
    identity_kind = "github"
    day_field = "day"

    def row(self, record: JsonRecord) -> Row:
        rec = record.value
        login = get(rec, "user_login")
        day = get(rec, "day")
        values: Values = [
            (name, unit, SUM, number(get(rec, name, default=0), name))
            for name, unit in _COPILOT_SUMS
        ]
        values += [
            (name, "people", MAX, 1.0 if get(rec, name, default=False) is True else 0.0)
            for name in _COPILOT_FLAGS
        ]
        return Row(str(login) if login is not None else None, day, values)


class CopilotUserTeams(RecordAdapter):
    """GitHub Copilot `user-teams-1-day` records (user -> GitHub team on a day). GitHub teams are
    not Pulse teams: this yields, per Pulse team and day, the number of people listed in any
    GitHub team (`people_in_github_teams`). Team slugs are not stored."""

    name = "copilot-user-teams"
    title = "GitHub Copilot user-teams-1-day report (NDJSON)"
    identity_kind = "github"
    day_field = "day"
    counts_active_users = False

    def row(self, record: JsonRecord) -> Row:
        rec = record.value
        login = get(rec, "user_login")
        day = get(rec, "day")
        get(rec, "team_id")
        return Row(
            str(login) if login is not None else None,
            day,
            [("people_in_github_teams", "people", MAX, 1.0)],
        )


_CURSOR_FIELDS = (
    ("totalLinesAdded", "lines"),
    ("totalLinesDeleted", "lines"),
    ("acceptedLinesAdded", "lines"),
    ("acceptedLinesDeleted", "lines"),
    ("totalApplies", "count"),
    ("totalAccepts", "count"),
    ("totalRejects", "count"),
    ("totalTabsShown", "count"),
    ("totalTabsAccepted", "count"),
    ("composerRequests", "requests"),
    ("chatRequests", "requests"),
    ("agentRequests", "requests"),
    ("cmdkUsages", "count"),
    ("subscriptionIncludedReqs", "requests"),
    ("usageBasedReqs", "requests"),
    ("apiKeyReqs", "requests"),
    ("bugbotUsages", "count"),
)


class Cursor(RecordAdapter):
    """Cursor admin API daily usage; `date` is epoch milliseconds (UTC). `isActive` is counted
    as people (`is_active`), and the `active_users` metric counts only active records."""

    name = "cursor"
    title = "Cursor admin API daily usage (JSON)"
    counts_active_users = False

    def row(self, record: JsonRecord) -> Row:
        rec = record.value
        email = get(rec, "email")
        day = get(rec, "date")
        values: Values = [
            (name, unit, SUM, number(get(rec, name, default=0), name))
            for name, unit in _CURSOR_FIELDS
        ]
        is_active = get(rec, "isActive", default=True) is True
        values.append(("active_users", "people", MAX, 1.0 if is_active else 0.0))
        return Row(str(email) if email else None, day, values)


class OpenAIUsage(RecordAdapter):
    """OpenAI usage API, completions buckets. `input_tokens` already includes
    `input_cached_tokens`: it is stored as is, with the cached part beside it, and
    `total_tokens` is input + output (cached tokens are not added again). Results without a
    `user_id` are API-key usage, not a person."""

    name = "openai-usage"
    title = "OpenAI usage API, completions (JSON buckets)"
    identity_kind = "openai"
    day_field = "start_time"

    def row(self, record: JsonRecord) -> Row:
        rec = record.value
        day = get(record.bucket or rec, "start_time")
        user = get(rec, "user_id", default=None)
        inputs = number(get(rec, "input_tokens", default=0), "input_tokens")
        cached = number(get(rec, "input_cached_tokens", default=0), "input_cached_tokens")
        outputs = number(get(rec, "output_tokens", default=0), "output_tokens")
        if cached > inputs:
            raise ValueError("input_cached_tokens is larger than input_tokens")
        values: Values = [
            ("input_tokens", "tokens", SUM, inputs),
            ("input_cached_tokens", "tokens", SUM, cached),
            ("input_uncached_tokens", "tokens", SUM, inputs - cached),
            ("output_tokens", "tokens", SUM, outputs),
            ("total_tokens", "tokens", SUM, inputs + outputs),
            (
                "model_requests",
                "requests",
                SUM,
                number(get(rec, "num_model_requests", default=0), "num_model_requests"),
            ),
        ]
        return Row(str(user) if user else None, day, values)


class AnthropicUsage(RecordAdapter):
    """Anthropic messages usage report (legacy): buckets by API key / workspace / model. None of
    its groupings is a person, so every row is a service row: it adds to the import's
    organisation-wide service totals and never to a team. Total input = uncached + cache read
    + every cache-creation kind."""

    name = "anthropic-usage"
    title = "Anthropic messages usage report (JSON buckets; API keys, not people)"
    day_field = "starting_at"

    def row(self, record: JsonRecord) -> Row:
        rec = record.value
        day = get(record.bucket or rec, "starting_at")
        uncached = number(get(rec, "uncached_input_tokens"), "uncached_input_tokens")
        cache_read = number(get(rec, "cache_read_input_tokens", default=0), "cache_read")
        creation = get(rec, "cache_creation", default={}) or {}
        created = (
            sum(number(v, "cache_creation") for v in creation.values())
            if isinstance(creation, dict)
            else number(creation, "cache_creation")
        )
        outputs = number(get(rec, "output_tokens", default=0), "output_tokens")
        values: Values = [
            ("input_tokens", "tokens", SUM, uncached + cache_read + created),
            ("uncached_input_tokens", "tokens", SUM, uncached),
            ("cache_read_input_tokens", "tokens", SUM, cache_read),
            ("cache_creation_input_tokens", "tokens", SUM, created),
            ("output_tokens", "tokens", SUM, outputs),
        ]
        return Row(None, day, values)


class LiteLLM(RecordAdapter):
    """LiteLLM proxy: SpendLogs rows (one per request: `startTime`, `user`) or DailyUserSpend
    rows (`date`, `user_id`), as CSV or JSON. Users are LiteLLM internal user ids, matched
    against any roster alias (usually the email); rows without a user are API-key usage.
    `spend` is in USD."""

    name = "litellm"
    title = "LiteLLM spend logs or daily user spend (CSV or JSON)"
    identity_kind = "any"
    container = "auto"

    def row(self, record: JsonRecord) -> Row:
        rec = record.value
        spend_log = get(rec, "startTime", default=None) is not None
        if spend_log:
            day = get(rec, "startTime")
            user = get(rec, "user", default=None)
            requests = 1.0
        else:
            try:
                day = get(rec, "date")
            except MissingField as exc:
                raise MissingField("date (or startTime)") from exc
            user = get(rec, "user_id", default=None)
            requests = number(get(rec, "api_requests", default=0), "api_requests")
        prompt = number(get(rec, "prompt_tokens", default=0), "prompt_tokens")
        completion = number(get(rec, "completion_tokens", default=0), "completion_tokens")
        total: Any = get(rec, "total_tokens", default=None)
        values: Values = [
            ("prompt_tokens", "tokens", SUM, prompt),
            ("completion_tokens", "tokens", SUM, completion),
            (
                "total_tokens",
                "tokens",
                SUM,
                number(total, "total_tokens") if total not in (None, "") else prompt + completion,
            ),
            ("spend", "USD", SUM, number(get(rec, "spend", default=0), "spend")),
            ("requests", "requests", SUM, requests),
        ]
        if not spend_log:
            values.append(
                (
                    "failed_requests",
                    "requests",
                    SUM,
                    number(get(rec, "failed_requests", default=0), "failed_requests"),
                )
            )
        return Row(str(user) if user else None, day, values)


ADAPTERS: dict[str, type[Adapter]] = {
    a.name: a
    for a in (
        GenericCsv,
        ClaudeCode,
        CopilotUsers,
        CopilotUserTeams,
        AmazonQ,
        M365Copilot,
        Cursor,
        OpenAIUsage,
        AnthropicUsage,
        LiteLLM,
    )
}
FORMATS: tuple[str, ...] = tuple(ADAPTERS)


def adapter_for(format_name: str) -> Adapter:
    try:
        return ADAPTERS[format_name]()
    except KeyError:
        raise UsageFileError(
            [
                UsageProblem(
                    "",
                    None,
                    "format",
                    f"unknown format '{format_name}' (one of: {', '.join(FORMATS)})",
                )
            ]
        ) from None
