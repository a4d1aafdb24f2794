#!/usr/bin/env bash
# The whole suite, as `npm test` runs it: back ends up (compose/up installs and starts ActiveMQ,
# RabbitMQ, Prosody, ngIRCd and Redis when they are not running), build, type-check, the unit
# tier, then the integration tier in band against the real servers.
set -uo pipefail
cd "$(dirname "$0")/.."

compose/up || { echo "test: the back ends did not start (see above); nothing was tested" >&2; exit 1; }
# shellcheck source=/dev/null
. compose/env.sh || exit 1

npm run --silent build || { echo "test: build failed" >&2; exit 1; }
npm run --silent typecheck || { echo "test: type-check failed" >&2; exit 1; }

npx jest --selectProjects unit "$@"
unit=$?
npx jest --selectProjects integration --runInBand "$@"
integration=$?
[ "$unit" -eq 0 ] && [ "$integration" -eq 0 ]
