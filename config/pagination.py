"""Pages of a list: `?page=` must be a page number, as the schema says (an integer); an empty
value is refused with 404 like any other page that does not exist, not read as page 1."""

from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination


class StrictPageNumberPagination(PageNumberPagination):
    def paginate_queryset(self, queryset, request, view=None):
        if request.query_params.get(self.page_query_param) == "":
            raise NotFound(self.invalid_page_message.format(page_number="", message="empty"))
        return super().paginate_queryset(queryset, request, view)
