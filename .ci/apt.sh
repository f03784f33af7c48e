#!/usr/bin/env bash
# CI: the one way .ci/postgres.sh and .ci/chromium.sh install what a fresh machine lacks, from
# Debian's packages. Sourced by them; defines orleans_apt_install WHO PACKAGE...: needs root (as on
# CI), quiet, and says what failed.

orleans_apt_install() {
  local who=$1
  shift
  if [ "$(id -u)" -ne 0 ]; then
    echo "$who: $* is not installed and installing it needs root (apt-get install -y $*)" >&2
    return 1
  fi
  echo "$who: installing $* from Debian's packages"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null || {
      echo "$who: apt-get install $* failed" >&2
      return 1
    }
}
