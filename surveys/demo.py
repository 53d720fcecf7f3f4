"""The demo organisation that `make run` seeds: small, fixed, and safe to seed again."""

from __future__ import annotations

import random

DEMO_PASSWORD = "pulse-demo"  # noqa: S105 - printed by make run; demo data only
DEMO_HR = "hr"
DEMO_LEADER = "leader"
DEMO_LEADER_SCOPE = "Engineering/Platform"

_TEAMS = [
    ("Engineering/Platform/API", "Europe/Berlin", "Berlin"),
    ("Engineering/Platform/Infra", "Europe/Berlin", "Berlin"),
    ("Engineering/Product/Web", "Europe/Paris", "Paris"),
    ("Engineering/Product/Mobile", "America/New_York", "New York"),
    ("Engineering/Platform/Data", "Europe/Berlin", "Berlin"),
    ("Engineering/Product/Growth", "Europe/Paris", "Paris"),
    ("Sales/EMEA", "Europe/London", "London"),
    ("Sales/Americas", "America/Chicago", "Chicago"),
    ("Support/Frontline", "Europe/Lisbon", "Lisbon"),
    ("Support/Escalations", "Europe/Lisbon", "Lisbon"),
    ("People", "Europe/London", "London"),
]
# Two larger teams: the demo plants its hotspots there (analytics.demo.DEMO_HOTSPOTS).
_LARGER = {"Engineering/Platform/API": 19, "Sales/EMEA": 17}
_FIRST = [
    "Ada",
    "Ben",
    "Chloé",
    "Dev",
    "Emil",
    "Fatima",
    "Greta",
    "Hiro",
    "Ines",
    "Jonas",
    "Kofi",
    "Lena",
    "Mateo",
    "Nora",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tara",
]
_LAST = ["Adler", "Berg", "Costa", "Diaz", "Eze", "Fischer", "Gupta", "Hansen", "Ito", "Jansen"]


def demo_roster_csv(*, per_team: int = 11, seed: int = 7) -> bytes:
    """A roster CSV for the demo: one head of company, a lead per team, `per_team` members each
    (more in the two larger teams)."""
    rng = random.Random(seed)
    lines = ["email,name,team,manager_email,location,start_date,timezone,github_login,upn"]
    ceo = "ceo@demo.pulse"
    lines.append(f"{ceo},Morgan Lee,People,,London,2015-03-01,Europe/London,morgan-lee,{ceo}")
    n = 0
    for team, tz, location in _TEAMS:
        slug = team.lower().replace("/", "-")
        lead = f"lead.{slug}@demo.pulse"
        lines.append(
            f"{lead},Lead of {team.rsplit('/', 1)[-1]},{team},{ceo},{location},2018-01-15,{tz},"
            f"lead-{slug},{lead}"
        )
        for _ in range(_LARGER.get(team, per_team)):
            n += 1
            name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
            email = f"user{n:03d}@demo.pulse"
            year = rng.randint(2016, 2025)
            lines.append(
                f"{email},{name},{team},{lead},{location},{year}-{rng.randint(1, 12):02d}-01,{tz},"
                f"dev{n:03d},{email}"
            )
    return ("\n".join(lines) + "\n").encode()
