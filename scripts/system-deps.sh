#!/usr/bin/env bash
# Installs the Debian packages Manim, the render sandbox (bubblewrap), the player extension build (node:
# jupyter-builder brings its own jlpm) and, with --browser, the e2e tests need.
# As root on Debian/Ubuntu it installs what is missing; elsewhere it prints the command to run.
set -euo pipefail
packages=(libcairo2-dev libpango1.0-dev pkg-config fonts-dejavu-core bubblewrap)
[[ "${1:-}" == "--browser" ]] && packages+=(chromium)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# Any node 18+ builds the extension; a machine may have one from elsewhere (e.g. NodeSource, whose
# nodejs conflicts with Debian's npm package), so Debian's is installed only when there is none.
command -v node >/dev/null || missing+=(nodejs)
[[ ${#missing[@]} -eq 0 ]] && exit 0

command="apt-get install -y --no-install-recommends ${missing[*]}"
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  echo "Installing system packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $command -qq
else
  echo "Missing system packages: ${missing[*]}. Run as root:  $command" >&2
  exit 1
fi
