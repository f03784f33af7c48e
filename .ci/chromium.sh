#!/usr/bin/env bash
# CI: Debian's chromium at /usr/bin/chromium for the dashboard's browser tests
# (tests/EndToEnd.Tests/Dashboard), which drive it through Playwright; Playwright's own browser
# download cannot work here. Source it (`. .ci/chromium.sh`) or run it; installs with apt-get when
# the browser is missing (needs root, as on CI), and does nothing when it is there.

orleans_chromium_main() {
  local browser=/usr/bin/chromium
  if [ ! -x "$browser" ]; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "chromium.sh: $browser is missing and installing it needs root (apt-get install -y chromium)" >&2
      return 1
    fi
    echo "chromium.sh: installing chromium from Debian's packages"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null || {
        echo "chromium.sh: apt-get install chromium failed" >&2
        return 1
      }
  fi

  # The Debian wrapper script prints noise on some machines; the version line is what matters.
  echo "chromium.sh: $("$browser" --version 2>/dev/null | head -n 1) at $browser"
}

orleans_chromium_main "$@"
orleans_chromium_status=$?
unset -f orleans_chromium_main
# `return` when sourced, `exit` when run.
return "$orleans_chromium_status" 2>/dev/null || exit "$orleans_chromium_status"
