"""Chunked request bodies (`Transfer-Encoding: chunked`, no `Content-Length`).

Django reads a body only up to `CONTENT_LENGTH`, so a chunked body reaches every view as
empty: a JSON client that streams its body would be told "this field is required", or worse,
an empty write would succeed. This WSGI wrapper reads such a body whole (at most
`DATA_UPLOAD_MAX_MEMORY_SIZE` bytes; more is a 400 `too_large`) when the server says its input
ends where the body ends (`wsgi.input_terminated`: gunicorn does), and hands Django a body with
its length. A server that cannot say so gets 411 `length_required`: never an empty body.
"""

import io
import json
from collections.abc import Callable, Iterable

from django.conf import settings


class ChunkedBodies:
    def __init__(self, application: Callable) -> None:
        self.application = application

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and not environ.get("CONTENT_LENGTH"):
            if not environ.get("wsgi.input_terminated"):
                return _refuse(
                    start_response,
                    "411 Length Required",
                    "length_required",
                    "Send the body with a Content-Length header; this server cannot read a "
                    "chunked body.",
                )
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            stream = environ["wsgi.input"]
            body = stream.read() if limit is None else stream.read(limit + 1)
            if limit is not None and len(body) > limit:
                return _refuse(
                    start_response,
                    "400 Bad Request",
                    "too_large",
                    f"The request body is over {limit:,} bytes, the most Tally reads; send "
                    "less at once.",
                )
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return self.application(environ, start_response)


def _refuse(start_response: Callable, status: str, code: str, detail: str) -> list[bytes]:
    body = json.dumps({"code": code, "detail": detail}).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]
