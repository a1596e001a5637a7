from django.apps import AppConfig


class InboxesConfig(AppConfig):
    name = "inboxes"
    verbose_name = "People, teams and accounts"

    def ready(self) -> None:
        from inboxes import mention_groups  # noqa: F401 - connects its signal handler
