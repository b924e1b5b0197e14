#!/usr/bin/env bash
# Installs the Debian packages the test suite uses, when apt-get is available and we are root:
#   dataset-fashion-mnist  -> /usr/share/datasets/fashion-mnist/ (offline Fashion-MNIST)
#   chromium               -> /usr/bin/chromium (the browser tests/test_browser.py drives)
set -u
packages=(dataset-fashion-mnist chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
  echo "note: not installing ${missing[*]} (needs apt-get as root); tests that need them skip"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 || {
  apt-get update -q >/dev/null 2>&1
  apt-get install -y -q "${missing[@]}" >/dev/null
}
