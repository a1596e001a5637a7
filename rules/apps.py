from django.apps import AppConfig


class RulesConfig(AppConfig):
    name = "rules"
    label = "rules"

    def ready(self) -> None:
        from rules import receivers  # noqa: F401 - connects the signal receivers
