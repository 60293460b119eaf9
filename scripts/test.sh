#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run): set up .venv if needed, then pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
# A domain of its own, so a demo running beside the tests does not talk to them.
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-$(( $$ % 100 + 1 ))}"
exec .venv/bin/python -m pytest test -q -p no:cacheprovider "$@"
