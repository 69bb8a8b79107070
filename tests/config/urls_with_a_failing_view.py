"""Tally's URLs plus two views that fail, to see what a 500 looks like (tests only)."""

from django.urls import path

from config.urls import handler400, handler404, handler500  # noqa: F401
from config.urls import urlpatterns as tally_urlpatterns


def fail(request):
    raise RuntimeError("a bug")


urlpatterns = [
    path("api/v1/fails/", fail),
    path("fails/", fail),
    *tally_urlpatterns,
]
