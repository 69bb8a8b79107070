"""Against a real gunicorn (3 workers, production-like settings, PostgreSQL): chunked bodies are
read, never taken as empty; 300 concurrent task creations with an API token against the free
tier's cap of 50 make exactly 50 tasks, the rest 403 task_cap_reached (SPEC §3, §6.1)."""

import http.client
import io
import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.apps import apps
from django.conf import settings

from config.chunked import ChunkedBodies
from config.env import BASE_DIR
from licensing.api_tokens.services import api_token_create

pytestmark = [pytest.mark.django_db(transaction=True)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def gunicorn(transactional_db):
    port = _free_port()
    database = settings.DATABASES["default"]
    url = f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": url,
        "DEBUG": "false",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "-w", "3", "-b", f"127.0.0.1:{port}"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        server.kill()
        pytest.fail(f"gunicorn did not start: {server.stderr.read().decode()[-2000:]}")
    yield port
    server.terminate()
    server.wait(timeout=20)


@pytest.fixture
def token(admin_a) -> str:
    return api_token_create(user=admin_a, name="load").secret


def _post(port: int, token: str, body, *, chunked: bool = False) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    connection.request("POST", "/api/v1/tasks/", body=body, headers=headers, encode_chunked=chunked)
    response = connection.getresponse()
    answer = response.status, json.loads(response.read() or b"{}")
    connection.close()
    return answer


def test_a_chunked_body_is_read_whole(gunicorn, token):
    parts = iter([b'{"title": ', b'"Sent in', b' chunks"}'])
    status, body = _post(gunicorn, token, parts, chunked=True)
    assert status == 201, body
    assert apps.get_model("tasks.Task").objects.get().title == "Sent in chunks"


def test_a_chunked_body_over_the_limit_is_400_too_large(gunicorn, token):
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    parts = iter([b'{"title": "', b"x" * limit, b'"}'])
    status, body = _post(gunicorn, token, parts, chunked=True)
    assert (status, body["code"]) == (400, "too_large")
    assert not apps.get_model("tasks.Task").objects.exists()


def test_a_deep_body_through_gunicorn_is_400_malformed(gunicorn, token):
    status, body = _post(gunicorn, token, b"[" * 100_000 + b"]" * 100_000)
    assert (status, body["code"]) == (400, "malformed")


def test_300_concurrent_creations_against_cap_50_make_exactly_50(gunicorn, token):
    def create(n: int) -> tuple[int, dict]:
        return _post(gunicorn, token, json.dumps({"title": f"Task {n}"}).encode())

    with ThreadPoolExecutor(max_workers=30) as pool:
        answers = list(pool.map(create, range(300)))
    statuses = [status for status, _ in answers]
    assert statuses.count(201) == 50
    assert statuses.count(403) == 250
    assert {body["code"] for status, body in answers if status == 403} == {"task_cap_reached"}
    assert apps.get_model("tasks.Task").objects.count() == 50


def test_a_server_that_cannot_end_a_chunked_body_answers_411():
    def application(environ, start_response):  # never reached
        raise AssertionError("the body would have been read as empty")

    statuses = []
    environ = {
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": io.BytesIO(b'{"title": "x"}'),
        "PATH_INFO": "/api/v1/tasks/",
    }
    body = ChunkedBodies(application)(environ, lambda status, headers: statuses.append(status))
    assert statuses == ["411 Length Required"]
    assert json.loads(b"".join(body))["code"] == "length_required"
