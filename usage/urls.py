urlpatterns: list = []  # /usage/ arrives with the usage page issue.
