from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView

from channels_app.api.core import api

# Resolved on first request: the production static storage needs collectstatic's manifest,
# which commands such as check and migrate must not depend on.
favicon = lazy(static, str)("img/favicon.svg")

# The API first: Django tries the patterns in order, and each app's "" include that does not match
# costs a walk through its patterns (with the list of those tried) on every API request.
urlpatterns = [
    path("v1/", api.urls),
    path("favicon.ico", RedirectView.as_view(url=favicon, permanent=True)),
    path("accounts/", include("allauth.urls")),
    path("", include("inboxes.urls")),
    path("", include("conversations.urls")),
    path("", include("conversations.live_urls")),
    path("", include("conversations.canned_urls")),
    path("", include("conversations.cowrite_urls")),
    path("", include("conversations.signature_urls")),
    path("", include("channels_app.urls")),
    path("", include("rules.urls")),
    path("", include("contacts.urls")),
]
