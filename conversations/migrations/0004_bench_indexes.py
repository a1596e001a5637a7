# The sidebar lists a user's pinned conversations on every page; without this index PostgreSQL
# reads all of the user's states to find the few pinned ones (bench/run.py measured ~40 ms at
# 100,000 conversations, 0.1 ms with it).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0003_email_in"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="conversationstate",
            index=models.Index(
                condition=models.Q(("pinned", True)), fields=["user", "-last_activity_at"], name="state_pinned"
            ),
        ),
    ]
