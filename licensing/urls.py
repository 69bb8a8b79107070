urlpatterns: list = []  # /settings/license/ arrives with the licensing issue.
