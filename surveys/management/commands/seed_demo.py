"""`python manage.py seed_demo`: the demo organisation, its HR and leader logins, and its survey
history: closed rounds with answers, AI usage of three export formats, planted hotspots."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from analytics.demo import seed_hotspot_demo
from surveys.demo import DEMO_HR, DEMO_LEADER, DEMO_LEADER_SCOPE, DEMO_PASSWORD, demo_roster_csv
from surveys.models import Role
from surveys.services import roster_import, staff_user_create


class Command(BaseCommand):
    help = "Seed the demo organisation and logins. Safe to run again: nothing is duplicated."

    def handle(self, *args: Any, **options: Any) -> None:
        result = roster_import(data=demo_roster_csv())
        staff_user_create(
            username=DEMO_HR, password=DEMO_PASSWORD, kind=Role.Kind.HR, email="hr@demo.pulse"
        )
        staff_user_create(
            username=DEMO_LEADER,
            password=DEMO_PASSWORD,
            kind=Role.Kind.LEADER,
            team_paths=[DEMO_LEADER_SCOPE],
        )
        self.stdout.write(f"Demo roster: {result.summary()}")
        self.stdout.write(f"Demo history: {seed_hotspot_demo(today=timezone.localdate())}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo logins: HR '{DEMO_HR}' / '{DEMO_PASSWORD}'; "
                f"leader '{DEMO_LEADER}' / '{DEMO_PASSWORD}' (sees {DEMO_LEADER_SCOPE})"
            )
        )
