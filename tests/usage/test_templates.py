"""Templates name their links by URL name, and share one pagination partial."""

import re
from pathlib import Path

from django.core.paginator import Paginator
from django.template.loader import render_to_string
from django.test import RequestFactory

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
# A link, form or htmx request to a path written out, e.g. href="/usage/".
HARD_CODED_PATH = re.compile(r'\b(href|action|src|hx-get|hx-post)="/')


def test_no_template_writes_out_a_path_instead_of_its_url_name():
    written_out = [
        f"{path.relative_to(TEMPLATES)}:{number}: {line.strip()}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if HARD_CODED_PATH.search(line)
    ]
    assert written_out == []


def test_the_pagination_partial_keeps_the_other_query_parameters():
    request = RequestFactory().get("/tickets/", {"status": "pending", "page": "2"})
    page = Paginator(range(120), 50).page(2)

    html = render_to_string("_pagination.html", {"page": page}, request=request)

    assert 'href="?status=pending&amp;page=1">Newer</a>' in html
    assert 'href="?status=pending&amp;page=3">Older</a>' in html
    assert "Page 2 of 3" in html


def test_a_single_page_has_no_pager():
    request = RequestFactory().get("/tasks/")
    page = Paginator(range(3), 50).page(1)

    assert render_to_string("_pagination.html", {"page": page}, request=request).strip() == ""
