"""Failed-login limits, kept by django-axes: after LABELER_LOGIN_ATTEMPTS failures for one
username from one address, logins for it are refused for LABELER_LOGIN_COOLOFF_MINUTES;
a successful login clears the count."""
from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.shortcuts import render


class LoginLimitBackend(AxesStandaloneBackend):
    """Axes' lockout check for every login that comes with a request (the login page, the
    admin's login). `authenticate()` without a request comes from code on the server (a
    management command, `Client.login()` in tests), which no remote client can reach, so
    it is let through instead of failing."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def cool_off_minutes() -> int:
    return max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))


def locked_out_response(request, original_response=None, credentials=None):
    """The login page's answer while logins are refused: 429, saying for how long."""
    context = {"minutes": cool_off_minutes(), "failure_limit": settings.AXES_FAILURE_LIMIT}
    return render(request, "frontend/login_locked.html", context, status=429)
