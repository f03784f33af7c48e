#!/usr/bin/env bash
# CI: Debian's chromium at /usr/bin/chromium for the dashboard's browser tests
# (tests/EndToEnd.Tests/Dashboard), which drive it through Playwright; Playwright's own browser
# download cannot work here. Source it (`. .ci/chromium.sh`) or run it; installs with apt-get when
# the browser is missing (needs root, as on CI), and does nothing when it is there.

orleans_chromium_main() {
  local browser=/usr/bin/chromium
  if [ ! -x "$browser" ]; then
    . "$(dirname "${BASH_SOURCE[0]}")/apt.sh"
    orleans_apt_install chromium.sh chromium || return 1
  fi

  # The Debian wrapper script prints noise on some machines; the version line is what matters.
  echo "chromium.sh: $("$browser" --version 2>/dev/null | head -n 1) at $browser"
}

orleans_chromium_main "$@"
orleans_chromium_status=$?
unset -f orleans_chromium_main
# `return` when sourced, `exit` when run.
return "$orleans_chromium_status" 2>/dev/null || exit "$orleans_chromium_status"
