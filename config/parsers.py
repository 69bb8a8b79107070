"""JSON bodies as the API takes them (SPEC §6.1: no input makes a 500).

`read_json(raw)` parses a request body once and refuses, with a `JsonRefused` naming the
problem and, for text, the field path (`events[3].model`):
- a body that is not UTF-8 JSON, uses NaN/Infinity, or holds a number Python will not read
  (`parse_error`, DRF's own code for it);
- nesting deeper than `MAX_DEPTH` (deep nesting is how a parser is made to recurse to death)
  (`malformed`);
- a NUL character or an unpaired UTF-16 surrogate in any string, key or value: PostgreSQL
  cannot store either (text refuses NUL, UTF-8 has no surrogates), so without this the
  first save would be a 500 (`invalid_text`, with `errors` naming the field path).

`config.middleware.InputGuardMiddleware` runs it on every JSON request under /api/, whatever
parser the view names, and answers a refusal as JSON 400; `JSONParser` (the API's default
parser) hands DRF the value already parsed, so a body is parsed once.
"""

import json
from typing import Any

from django.conf import settings
from rest_framework import exceptions, parsers

# Tally's deepest real body is a usage batch: {"events": [{"...": ...}]}, three levels.
MAX_DEPTH = 32
# Where `InputGuardMiddleware` leaves the parsed body on the Django request.
PARSED_ATTRIBUTE = "_tally_parsed_json"


class JsonRefused(Exception):
    def __init__(self, code: str, detail: str, *, path: str | None = None) -> None:
        super().__init__(detail)
        self.code, self.detail, self.path = code, detail, path

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "detail": self.detail}
        if self.path is not None:
            body["errors"] = {self.path: [self.detail]}
        return body


def read_json(raw: bytes) -> Any:
    """The JSON value of `raw`, or `JsonRefused` (see the module docstring)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise JsonRefused("parse_error", "The body is not UTF-8 text.") from None
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise _too_deep() from None
    except ValueError as error:  # JSONDecodeError, and integers of more than 4,300 digits
        raise JsonRefused("parse_error", f"The body is not valid JSON: {error}.") from None
    # A NUL or a lone surrogate can only arrive escaped (\u0000, \ud800): json.loads refuses
    # raw control characters in strings, and decode() refuses UTF-8-encoded surrogates.
    _check_tree(value, texts="\\u" in text)
    return value


def unstorable_character(text: str) -> str | None:
    """What in `text` PostgreSQL cannot store (a NUL, a lone surrogate), or None."""
    if "\x00" in text:
        return "a NUL character (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # json.loads joins valid pairs; any surrogate left is alone
        return "an unpaired UTF-16 surrogate"
    return None


_Path = tuple[Any, str | int] | None  # (parent path, key or index); None: the body itself


def _check_tree(value: Any, *, texts: bool) -> None:
    """Refuse nesting deeper than MAX_DEPTH and, when `texts`, unstorable text anywhere."""
    # Iterative, so the check itself never recurses however the value is shaped. A node's
    # path stays a chain of tuples, made text only for a refusal (most bodies have none).
    stack: list[tuple[Any, _Path, int]] = [(value, None, 1)]
    while stack:
        node, path, depth = stack.pop()
        if isinstance(node, str):
            _check_text(node, path)
            continue
        if not isinstance(node, dict | list):  # the body itself: a number, true, null
            continue
        if depth > MAX_DEPTH:
            raise _too_deep()
        if isinstance(node, dict):
            if texts:
                for key in node:
                    _check_text(key, (path, key))
            items: Any = node.items()
        else:
            items = enumerate(node)
        stack.extend(
            (item, (path, step), depth + 1)
            for step, item in items
            if isinstance(item, dict | list) or (texts and isinstance(item, str))
        )


def _check_text(text: str, path: _Path) -> None:
    problem = unstorable_character(text)
    if problem is not None:
        where = _path_text(path)
        raise JsonRefused(
            "invalid_text",
            f"The text at {where or 'the body'} holds {problem}, which Tally cannot store; "
            "remove it.",
            path=where or "body",
        )


def _path_text(path: _Path) -> str:
    """`events[3].model` for the chain (((None, "events"), 3), "model")."""
    steps: list[str | int] = []
    while path is not None:
        path, step = path
        steps.append(step)
    text = ""
    for step in reversed(steps):
        if isinstance(step, int):
            text += f"[{step}]"
        else:
            text += f".{_shown(step)}" if text else _shown(step)
    return text


def _shown(key: str) -> str:
    # A key may itself hold a NUL or a surrogate: escape it so the answer can be encoded.
    return json.dumps(key)[1:-1]


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _too_deep() -> JsonRefused:
    return JsonRefused(
        "malformed", f"The JSON is nested more than {MAX_DEPTH} levels deep, more than Tally reads."
    )


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser on `read_json`: the value the middleware parsed, else parsed here."""

    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        django_request = getattr(request, "_request", None)
        if hasattr(django_request, PARSED_ATTRIBUTE):
            return getattr(django_request, PARSED_ATTRIBUTE)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(raw) > limit:
            raise exceptions.ParseError(
                f"The request body is over {limit:,} bytes, the most Tally reads.",
                code="too_large",
            )
        try:
            return read_json(raw)
        except JsonRefused as refusal:
            raise exceptions.ParseError(refusal.detail, code=refusal.code) from None
