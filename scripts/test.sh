#!/usr/bin/env bash
# Install everything the test suite needs, then run it.  Used by the README's
# quick start and by CI (.ci/run).  Safe to run again: installs are skipped
# when already present.
set -euo pipefail
cd "$(dirname "$0")/.."

# The end-to-end tests drive Debian's chromium (Playwright's own browser
# download cannot work here).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
  else
    echo "chromium is missing: sudo apt-get install chromium (the browser tests will be skipped)" >&2
  fi
fi

# The shared rate-limit tests start Debian's redis-server on loopback.
if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq redis-server >/dev/null
  else
    echo "redis-server is missing: sudo apt-get install redis-server (the shared-limit tests will fail)" >&2
  fi
fi

python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt

# Two workers (pytest-xdist), one test file per worker at a time: the files'
# session fixtures (scored sample sets, servers) stay within one process.
# PYTEST_WORKERS=0 runs everything in this process.
python -m pytest -n "${PYTEST_WORKERS:-2}" --dist loadfile "$@"
