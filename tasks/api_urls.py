from tasks import ticket_api

urlpatterns: list = []
urlpatterns += ticket_api.urlpatterns  # gateway deliveries, tickets, schedules
