from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.http import HttpRequest


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        """People join through invitations unless the operator opens sign-up (OPEN_SIGNUP)."""
        return bool(settings.OPEN_SIGNUP)
