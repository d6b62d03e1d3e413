#!/usr/bin/env bash
# The main job (README quick start):
#   bash scripts/demo.sh        install what is missing, start the lab (control plane, real data
#                               plane, and a controller + compute host reachable over SSH) in the
#                               background, `pulumi up` the root service-chain stack (which prepares
#                               those hosts the way the seed's manual steps did)
#                               against it, and show traffic crossing the dockwall firewall
#   bash scripts/demo.sh down   destroy the stack and stop the lab (it removes what it recorded)
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\n[demo] %s\n' "$*"; }

lab_running() { node lib/test/lab/cli.js status >/dev/null 2>&1; }

case "${1:-up}" in
  up)
    bash scripts/setup.sh
    if lab_running; then
      say "the lab is already running (node lib/test/lab/cli.js status)"
    else
      say "starting the lab in the background (log: .lab/lab.log)"
      mkdir -p .lab
      rm -f .lab/endpoints.json
      setsid nohup node lib/test/lab/cli.js up --data-plane lib/test/lab/data-plane/index.js --hosts > .lab/lab.log 2>&1 < /dev/null &
      for _ in $(seq 1 300); do
        [ -s .lab/endpoints.json ] && break
        if ! kill -0 $! 2>/dev/null; then cat .lab/lab.log; echo "[demo] the lab did not start" >&2; exit 1; fi
        sleep 0.1
      done
      [ -s .lab/endpoints.json ] || { cat .lab/lab.log; echo "[demo] the lab did not come up within 30 s" >&2; exit 1; }
      node lib/test/lab/cli.js status
    fi
    say "deploying the service chain with pulumi (first run builds the dockwall image: about a minute)"
    node lib/test/e2e/demo.js up
    ;;
  down)
    if lab_running; then
      node lib/test/e2e/demo.js down
      node lib/test/lab/cli.js down
    else
      say "no lab is running"
      rm -rf .lab/state
    fi
    ;;
  *)
    echo "usage: bash scripts/demo.sh [up|down]" >&2
    exit 2
    ;;
esac
