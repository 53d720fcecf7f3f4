"""Register the delivery tasks with django-celery-beat (HR can change them at run time)."""

from django.db import migrations

TASKS = [
    ("Pulse: open due rounds", "surveys.tasks.open_due_rounds", 5),
    ("Pulse: send reminders", "surveys.tasks.send_reminders", 15),
    ("Pulse: close due rounds", "surveys.tasks.close_due_rounds", 5),
]


def register(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, minutes in TASKS:
        schedule, _ = IntervalSchedule.objects.get_or_create(every=minutes, period="minutes")
        PeriodicTask.objects.update_or_create(
            name=name, defaults={"task": task, "interval": schedule, "enabled": True}
        )


def unregister(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[name for name, _, _ in TASKS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("surveys", "0003_question_bank"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(register, unregister)]
