from django.urls import path

from tasks import ticket_views, views

urlpatterns = [
    path("", views.home, name="home"),
]
urlpatterns += ticket_views.urlpatterns  # /tickets/, /schedules/
