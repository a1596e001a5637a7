from django.apps import AppConfig


class ChannelsAppConfig(AppConfig):
    name = "channels_app"

    def ready(self) -> None:
        from channels_app import receivers  # noqa: F401 - connects the signal handlers
        from channels_app.custom import checks, sender  # noqa: F401 - the custom channel's sender and checks
        from channels_app.twilio import sender as twilio_sender  # noqa: F401 - Twilio's sender and send checks
