from django.apps import AppConfig


class RulesConfig(AppConfig):
    name = "rules"
    label = "rules"

    def ready(self) -> None:
        # Connect the signal receivers, and let the worker know the webhook tasks.
        from rules import receivers, webhooks  # noqa: F401
