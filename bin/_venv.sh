# Sourced by bin/demo and bin/test: make .venv and install the pinned dependencies
# (requirements-dev.lock, made by bin/lock) and the project, again whenever either file changes.
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.installed-$(cat requirements-dev.lock pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "Installing Tally and its pinned dependencies (requirements-dev.lock) into .venv"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r requirements-dev.lock
  .venv/bin/python -m pip install --quiet --no-deps -e .
  rm -f .venv/.installed-* && touch "$stamp"
fi
