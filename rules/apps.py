from django.apps import AppConfig


class RulesConfig(AppConfig):
    name = "rules"
    label = "rules"

    def ready(self) -> None:
        # The webhook tasks live beside the webhook code; import them so the worker knows them.
        from rules import webhooks  # noqa: F401
