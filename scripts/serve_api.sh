#!/usr/bin/env bash
# Start the HTTP API with bounded memory.
#
# glibc gives every thread that allocates its own malloc arena (up to 8 per core);
# with the API's request, store and CPU threads that grew RSS from ~220 MB to
# ~1.1 GB under 32 clients.  Two arenas keep it near 400 MB at the same
# throughput.  The variable is read when the process starts, so it is set here,
# before Python runs (setting it from inside the API would be too late).
#
#   scripts/serve_api.sh                 # 0.0.0.0:8000
#   HOST=127.0.0.1 PORT=9000 scripts/serve_api.sh --log-level warning
set -euo pipefail
cd "$(dirname "$0")/.."
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"
#
# vision.web.serve is uvicorn with a request-header deadline and a per-address
# connection cap (vision/web/connections.py: uvicorn's own options do not
# cover headers); it takes uvicorn's --host --port --workers --log-level ...
exec "${PYTHON:-python}" -m vision.web.serve api:app \
    --host "${HOST:-0.0.0.0}" --port "${PORT:-8000}" \
    --timeout-keep-alive 5 --limit-concurrency "${LIMIT_CONCURRENCY:-256}" "$@"
