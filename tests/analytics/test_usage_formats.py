"""Each export format, on fixtures written to the vendors' documented schemas (see
tests/fixtures/usage/), including the awkward cases. The `org` fixture's aliases: api1 is
github `api-one`, aws `aws-1`, openai `user-api1`, upn `api1@acme.test`; boss is github
`boss-gh`; plat.lead is github `platlead`."""

from __future__ import annotations

import datetime as dt

import pytest

from analytics.models import TeamDayUsage, UsageImport
from analytics.services import usage_files_from_paths, usage_import
from analytics.usage import FORMATS, UsageFileError
from tests.conftest import FIXTURES

USAGE = FIXTURES / "usage"
API = "Engineering/Platform/API"
PLATFORM = "Engineering/Platform"
ENGINEERING = "Engineering"


def run(format_name: str, *names: str):
    return usage_import(
        format=format_name, files=usage_files_from_paths([USAGE / n for n in names])
    )


def cell(source: str, team: str, day: str, metric: str) -> tuple[float, int | None, float | None]:
    row = TeamDayUsage.objects.get(
        source=source, team__path=team, day=dt.date.fromisoformat(day), metric=metric
    )
    return row.total, row.contributors, row.max_single


def test_every_documented_format_has_an_adapter() -> None:
    assert set(FORMATS) == {
        "generic",
        "claude-code",
        "copilot-users",
        "copilot-user-teams",
        "amazon-q",
        "m365-copilot",
        "cursor",
        "openai-usage",
        "anthropic-usage",
        "litellm",
    }


def test_generic_csv_with_bom_sums_a_persons_rows_and_rolls_up_the_tree(org) -> None:
    result = run("generic", "generic.csv")
    assert (result.rows_read, result.rows_matched, result.rows_unmatched) == (6, 5, 1)
    # api1's two rows (1000 + 500) are one person; api2's timestamp date is the same UTC day.
    assert cell("chatgpt", API, "2026-05-04", "tokens") == (3500, 2, 2000)
    assert cell("chatgpt", PLATFORM, "2026-05-04", "tokens") == (3500, 2, 2000)
    # boss's epoch-seconds date (1777852800) is 2026-05-04 and counts at Engineering only.
    assert cell("chatgpt", ENGINEERING, "2026-05-04", "tokens") == (3800, 3, 2000)
    assert cell("chatgpt", ENGINEERING, "2026-05-04", "active_users") == (3, 3, 1)
    assert TeamDayUsage.objects.get(team__path=API, metric="tokens").unit == "tokens"
    assert TeamDayUsage.objects.get(team__path=API, metric="requests").unit == "requests"
    assert not TeamDayUsage.objects.filter(team__path__startswith="Sales").exists()
    assert result.unmatched == [{"identifier": "ghost@elsewhere.test", "rows": 1}]
    assert "comment" in result.ignored_fields


def test_generic_team_level_rows_roll_up_with_their_people_counts(org) -> None:
    result = run("generic", "generic_teams.csv")
    assert cell("copilot-legacy", API, "2026-05-04", "suggestions") == (120, 6, 30)
    assert cell("copilot-legacy", PLATFORM, "2026-05-04", "suggestions") == (200, 11, 30)
    assert result.unmatched == [{"identifier": "No/Such/Team", "rows": 1}]


def test_it_refuses_a_file_with_a_missing_required_column_and_names_it(org) -> None:
    with pytest.raises(UsageFileError) as exc:
        run("generic", "generic_missing_column.csv")
    assert "missing required column: metric" in str(exc.value)
    assert "generic_missing_column.csv, line 1" in str(exc.value)
    assert not TeamDayUsage.objects.exists()
    assert not UsageImport.objects.exists()


def test_it_names_the_line_and_field_of_a_bad_value_and_a_bad_date(org) -> None:
    with pytest.raises(UsageFileError) as exc:
        run("generic", "generic_bad_value.csv")
    assert "generic_bad_value.csv, line 3, field value: 'lots' is not a number" in str(exc.value)
    with pytest.raises(UsageFileError) as exc:
        run("generic", "generic_bad_date.csv")
    assert "generic_bad_date.csv, line 3, field date: '04/05/2026' is not a date" in str(exc.value)
    assert not TeamDayUsage.objects.exists()


def test_claude_code_accepts_timestamp_and_plain_dates_and_skips_api_keys(org) -> None:
    result = run("claude-code", "claude_code.json")
    assert (result.rows_read, result.rows_matched, result.rows_unmatched) == (4, 2, 1)
    assert result.rows_service == 1
    assert cell("claude-code", API, "2025-08-08", "sessions") == (17, 2, 15)
    assert cell("claude-code", API, "2025-08-08", "input_tokens") == (45330, 2, 45230)
    assert cell("claude-code", API, "2025-08-08", "estimated_cost_usd") == (190, 2, 186)
    assert TeamDayUsage.objects.filter(metric="estimated_cost_usd").first().unit == "cents"
    assert cell("claude-code", API, "2025-08-08", "tool_actions_accepted") == (8, 2, 4)
    # The API key's 90,000 tokens are organisation-wide service usage, never a team's.
    assert result.service_totals["input_tokens"] == 90000
    assert result.unmatched == [{"identifier": "stranger@elsewhere.test", "rows": 1}]


def test_claude_code_ndjson_gives_the_same_cells_as_the_paged_json(org) -> None:
    run("claude-code", "claude_code.ndjson")
    assert cell("claude-code", API, "2025-08-08", "sessions") == (17, 2, 15)


def test_claude_code_record_without_a_date_is_refused_naming_the_field(org) -> None:
    with pytest.raises(UsageFileError) as exc:
        run("claude-code", "claude_code_missing_date.ndjson")
    assert "claude_code_missing_date.ndjson, line 2, field date: required field date" in str(
        exc.value
    )
    assert not TeamDayUsage.objects.exists()


def test_copilot_users_match_github_logins_and_count_flags_as_people(org) -> None:
    result = run("copilot-users", "copilot_users.ndjson")
    assert (result.rows_matched, result.rows_unmatched) == (3, 1)
    assert cell("copilot-users", ENGINEERING, "2026-05-07", "user_initiated_interaction_count") == (
        65,
        3,
        50,
    )
    # used_chat is a flag: two people used chat, never a sum of anything.
    assert cell("copilot-users", ENGINEERING, "2026-05-07", "used_chat") == (2, 2, 1)
    assert cell("copilot-users", API, "2026-05-07", "used_agent") == (1, 1, 1)
    assert not TeamDayUsage.objects.filter(metric="used_cli").exists()
    assert not TeamDayUsage.objects.filter(metric="brand_new_metric").exists()


def test_copilot_user_teams_counts_people_once_whatever_their_github_teams(org) -> None:
    run("copilot-user-teams", "copilot_user_teams.ndjson")
    assert cell("copilot-user-teams", API, "2026-05-07", "people_in_github_teams") == (1, 1, 1)
    assert cell("copilot-user-teams", ENGINEERING, "2026-05-07", "people_in_github_teams") == (
        2,
        2,
        1,
    )
    assert not TeamDayUsage.objects.filter(metric__icontains="frontend").exists()


def test_amazon_q_part_files_are_imported_together_in_any_column_order(org) -> None:
    result = run(
        "amazon-q",
        "amazon_q_by_user_analytic_20260506_part1.csv",
        "amazon_q_by_user_analytic_20260506_part2.csv",
    )
    assert (result.rows_read, result.rows_matched, result.rows_unmatched) == (3, 2, 1)
    assert cell("amazon-q", API, "2026-05-04", "Inline_AcceptanceCount") == (12, 1, 12)
    assert cell("amazon-q", API, "2026-05-05", "Inline_AcceptanceCount") == (3, 1, 3)
    assert TeamDayUsage.objects.get(
        team__path=API, day="2026-05-04", metric="Chat_MessagesSent"
    ).unit == ("messages")
    assert "Kiro_NewThing" in result.ignored_fields
    assert result.unmatched[0]["identifier"] == "24a80dec-50e1-70f7-3155-4ccb9e69943f"


def test_amazon_q_file_without_userid_is_refused_naming_it(org) -> None:
    with pytest.raises(UsageFileError, match="missing required column: UserId"):
        run("amazon-q", "amazon_q_missing_userid.csv")


def test_m365_matches_md5_upns_and_counts_people_active_in_the_period(org) -> None:
    result = run("m365-copilot", "m365_copilot_user_detail.csv")
    assert (result.rows_read, result.rows_matched, result.rows_unmatched) == (4, 3, 1)
    # api1 (MD5 UPN) and boss active in the 30 days up to 2026-05-10; api2's activity is older.
    assert cell("m365-copilot", ENGINEERING, "2026-05-10", "active_any_30d") == (2, 2, 1)
    assert cell("m365-copilot", API, "2026-05-10", "active_any_30d") == (1, 1, 1)
    assert cell("m365-copilot", API, "2026-05-10", "active_teams_30d") == (1, 1, 1)
    assert cell("m365-copilot", ENGINEERING, "2026-05-10", "active_word_30d") == (1, 1, 1)
    assert not TeamDayUsage.objects.filter(metric="active_outlook_30d").exists()
    assert TeamDayUsage.objects.filter(metric__startswith="active_").first().unit == "people"


def test_cursor_epoch_millisecond_dates_are_utc_days(org) -> None:
    result = run("cursor", "cursor_daily_usage.json")
    assert result.rows_matched == 3
    assert cell("cursor", API, "2025-03-16", "totalLinesAdded") == (500, 1, 500)
    assert cell("cursor", API, "2025-03-17", "totalLinesAdded") == (100, 1, 100)
    # infra1 was not active that day: not counted as an active user.
    assert cell("cursor", PLATFORM, "2025-03-16", "active_users") == (1, 1, 1)


def test_openai_cached_tokens_are_inside_input_tokens_not_added_again(org) -> None:
    result = run("openai-usage", "openai_usage_completions.json")
    assert (result.rows_matched, result.rows_unmatched, result.rows_service) == (2, 1, 1)
    assert cell("openai-usage", API, "2024-11-01", "input_tokens") == (1000, 1, 1000)
    assert cell("openai-usage", API, "2024-11-01", "input_cached_tokens") == (800, 1, 800)
    assert cell("openai-usage", API, "2024-11-01", "input_uncached_tokens") == (200, 1, 200)
    assert cell("openai-usage", API, "2024-11-01", "total_tokens") == (1500, 1, 1500)
    assert cell("openai-usage", API, "2024-11-02", "total_tokens") == (11, 1, 11)
    assert result.service_totals["input_tokens"] == 1000


def test_anthropic_usage_is_api_keys_only_and_sums_every_input_kind(org) -> None:
    result = run("anthropic-usage", "anthropic_usage_report.json")
    assert (result.rows_read, result.rows_service, result.rows_matched) == (1, 1, 0)
    assert result.service_totals["input_tokens"] == 1500 + 200 + 1000 + 500
    assert not TeamDayUsage.objects.exists()


def test_litellm_spend_logs_csv_and_daily_spend_json(org) -> None:
    result = run("litellm", "litellm_spend_logs.csv", "litellm_daily_user_spend.json")
    assert (result.rows_matched, result.rows_service) == (3, 1)
    # api1 by email and by GitHub login: one person, two requests.
    assert cell("litellm", API, "2026-05-04", "requests") == (4, 2, 2)
    assert cell("litellm", API, "2026-05-04", "total_tokens") == (465, 2, 450)
    assert result.service_totals["spend"] == 1.5


def test_amazon_q_takes_every_non_zero_value_of_every_column_and_no_other(org) -> None:
    """Every metric column, first to last, with unmatched rows and empty cells between: each
    non-zero value lands in its own metric, zeros and empty cells make no cell."""
    from analytics.services import usage_files_from_bytes
    from analytics.usage.adapters import AMAZON_Q_METRICS

    header = "UserId,Date," + ",".join(AMAZON_Q_METRICS)
    every = ",".join(str(i + 1) for i in range(len(AMAZON_Q_METRICS)))
    last_only = "," + ",".join(["0"] * (len(AMAZON_Q_METRICS) - 2)) + ",7"  # first cell empty
    text = "\n".join(
        [
            header,
            f"nobody-1,2026-05-04,{every}",
            f"aws-1,2026-05-04,{every}",
            f"nobody-2,2026-05-05,{every}",
            f"aws-1,2026-05-05,{last_only}",
            "",
        ]
    )
    usage_import(format="amazon-q", files=usage_files_from_bytes([("q.csv", text.encode())]))
    first = TeamDayUsage.objects.filter(team__path=API, day="2026-05-04")
    assert dict(first.exclude(metric="active_users").values_list("metric", "total")) == {
        m: float(i + 1) for i, m in enumerate(AMAZON_Q_METRICS)
    }
    second = TeamDayUsage.objects.filter(team__path=API, day="2026-05-05")
    assert dict(second.values_list("metric", "total")) == {
        AMAZON_Q_METRICS[-1]: 7.0,
        "active_users": 1.0,
    }


def test_the_roster_loads_only_the_alias_maps_a_format_needs(org) -> None:
    from analytics.usage import adapter_for
    from analytics.usage.identity import Roster

    roster = Roster.load(adapter_for("amazon-q").roster_kinds())
    assert set(roster.by_kind) == {"aws"}
    assert roster.resolve("aws", "AWS-1 ") >= 0
    with pytest.raises(KeyError):  # a kind not loaded is a programming error, not a miss
        roster.resolve("email", "api1@acme.test")
    assert set(Roster.load(adapter_for("m365-copilot").roster_kinds()).by_kind) == {
        "upn",
        "email",
    }
    assert set(Roster.load().by_kind) == {"email", "upn", "github", "aws", "openai"}
