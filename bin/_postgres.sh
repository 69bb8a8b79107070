# Sourced by bin/demo and bin/test after bin/_venv.sh. With DATABASE_URL set (CI, production-like
# runs), nothing happens. Unset, start (or reuse) the embedded PostgreSQL under var/postgres/
# (bin/_postgres.py), export DATABASE_URL to its Unix socket for everything run from here, and
# leave it on exit: the last bin/ command using the server stops it, if one of them started it.
if [ -z "${DATABASE_URL:-}" ]; then
  DATABASE_URL="$(.venv/bin/python -W "ignore:XDG_RUNTIME_DIR" bin/_postgres.py start $$)"
  export DATABASE_URL
  trap '.venv/bin/python -W "ignore:XDG_RUNTIME_DIR" bin/_postgres.py stop $$' EXIT
  echo "DATABASE_URL=$DATABASE_URL (embedded PostgreSQL)"
fi
