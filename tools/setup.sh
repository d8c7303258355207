#!/usr/bin/env bash
# Installs the Debian 12 packages confide needs, only those that are missing.
# Idempotent: a second run installs nothing and prints one line.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  clang libclang-rt-14-dev          # sanitizer build and libFuzzer
  clang-format
  libssl-dev                        # host crypto (OpenSSL 3)
  libexpected-dev                   # Status/StatusOr (tl::expected)
  libgtest-dev libgmock-dev librapidcheck-dev libbenchmark-dev
  libcli11-dev nlohmann-json3-dev libfmt-dev
  gnuplot-nox                       # plots of `make reproduce` (pngcairo terminal)
  musl-tools musl-dev               # libc of the code inside enclaves (src/runtime)
  liblua5.4-dev                     # the Lua runtime plugin (liblua5.4.a)
  libsodium-dev                     # crypto inside enclaves
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
