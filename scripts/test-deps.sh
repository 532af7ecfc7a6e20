#!/usr/bin/env bash
# The system packages the tests need, checked and, as root with apt-get, installed:
# chromium (the browser tests, tests/e2e/browser.py; $CHROMIUM_PATH if set), certutil
# (libnss3-tools: the e2e trusts the proxy's CA in a Chromium NSS database), the
# ShellCheck linter (`make lint`), the PostgreSQL server binaries initdb and pg_ctl (the
# prediction-log tests) and make. The Docker engine, Compose and the base images are
# tests/e2e/run.sh's own business.
#   scripts/test-deps.sh [chromium|certutil|shellcheck|postgresql|make ...]   (default: all)
# `make test`, `make lint` and .ci/run call it. Without root or apt-get it installs
# nothing: it prints one line naming what is missing and how to install it, and fails.
set -euo pipefail

have() {
  case "$1" in
    chromium) { [ -n "${CHROMIUM_PATH:-}" ] && [ -x "$CHROMIUM_PATH" ]; } ||
      [ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1 ;;
    postgresql) command -v initdb >/dev/null 2>&1 ||
      compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null ;;
    shellcheck | make | certutil) command -v "$1" >/dev/null 2>&1 ;;
  esac
}

# The Debian package that provides a dependency.
package_of() { case "$1" in certutil) echo libnss3-tools ;; *) echo "$1" ;; esac; }

missing_of() {
  local dep
  for dep in "$@"; do have "$dep" || printf '%s\n' "$dep"; done
}

all=(chromium certutil shellcheck postgresql make)
deps=("$@")
[ "${#deps[@]}" -gt 0 ] || deps=("${all[@]}")
for dep in "${deps[@]}"; do
  case " ${all[*]} " in
    *" $dep "*) ;;
    *) echo "test-deps: unknown dependency '$dep' (known: ${all[*]})" >&2; exit 2 ;;
  esac
done
mapfile -t missing < <(missing_of "${deps[@]}")
[ "${#missing[@]}" -eq 0 ] && exit 0
mapfile -t packages < <(for dep in "${missing[@]}"; do package_of "$dep"; done)

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test-deps: installing ${missing[*]} (apt-get)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${packages[@]}" >/dev/null
  mapfile -t missing < <(missing_of "${missing[@]}")
  [ "${#missing[@]}" -eq 0 ] && exit 0
  echo "test-deps: still missing after apt-get install: ${missing[*]}" >&2
  exit 1
fi

list="$(printf '%s, ' "${missing[@]}")"
echo "test-deps: missing ${list%, } (not root or no apt-get, so not installed); as root on" \
  "Debian/Ubuntu: apt-get update && apt-get install -y --no-install-recommends ${packages[*]}" >&2
exit 1
