from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("favicon.ico", RedirectView.as_view(url=static("img/favicon.svg"), permanent=True)),
    path("accounts/", include("allauth.urls")),
    path("", include("inboxes.urls")),
    path("", include("conversations.urls")),
]
