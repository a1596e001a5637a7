import os

from django.core.asgi import get_asgi_application

from missive.heap import freeze_startup_objects

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "missive.settings")

application = get_asgi_application()
freeze_startup_objects()
