#!/usr/bin/env bash
# CI: Prometheus' promtool (Debian's `prometheus` package) for the test that checks docs/alerts.yml
# (tests/WebApi.Tests/Telemetry). Source it (`. .ci/promtool.sh`) or run it; installs with apt-get
# when promtool is missing (needs root, as on CI), and does nothing when it is there.

orleans_promtool_main() {
  if ! command -v promtool >/dev/null 2>&1; then
    . "$(dirname "${BASH_SOURCE[0]}")/apt.sh"
    orleans_apt_install promtool.sh prometheus || return 1
  fi

  echo "promtool.sh: $(promtool --version 2>&1 | head -n 1) at $(command -v promtool)"
}

orleans_promtool_main "$@"
orleans_promtool_status=$?
unset -f orleans_promtool_main
# `return` when sourced, `exit` when run.
return "$orleans_promtool_status" 2>/dev/null || exit "$orleans_promtool_status"
