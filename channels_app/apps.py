from django.apps import AppConfig


class ChannelsAppConfig(AppConfig):
    name = "channels_app"
