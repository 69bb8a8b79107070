# Sourced by bin/demo and bin/test after bin/_venv.sh. With DATABASE_URL set (CI, production-like
# runs), nothing happens. Unset, start (or reuse) the embedded PostgreSQL under var/postgres/
# (bin/_postgres.py) and export DATABASE_URL to its Unix socket for everything run from here,
# and PGHOST too, so that libpq clients given no host (psql, a URL without one) reach it as well.
# On exit, the last bin/ command using the server stops it, if one of them started it.
if [ -z "${DATABASE_URL:-}" ]; then
  embedded="$(.venv/bin/python -W "ignore:XDG_RUNTIME_DIR" bin/_postgres.py start $$)"
  trap '.venv/bin/python -W "ignore:XDG_RUNTIME_DIR" bin/_postgres.py stop $$' EXIT
  PGHOST="$(sed -n 1p <<<"$embedded")"
  DATABASE_URL="$(sed -n 2p <<<"$embedded")"
  export PGHOST DATABASE_URL
  echo "DATABASE_URL=$DATABASE_URL (embedded PostgreSQL)"
fi
