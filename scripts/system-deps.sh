#!/usr/bin/env bash
# Installs the Debian packages Manim, its TeX (MathTex, Tex, axis labels, DecimalNumber...), the render
# sandbox (bubblewrap), the player extension build (node: jupyter-builder brings its own jlpm), JupyterHub's proxy (npm) and, with
# --browser, the e2e tests need. As root on Debian/Ubuntu it installs what is missing; elsewhere it prints
# the command to run. When everything is there it checks that with one dpkg-query call and exits (~50 ms).
set -euo pipefail
packages=(libcairo2-dev libpango1.0-dev pkg-config fonts-dejavu-core bubblewrap)
# The TeX Manim's gallery needs (about 740 MB, under 2 minutes; Manim's docs name only texlive-full, 5 GB).
# A TeX Live or TinyTeX of the user's own, with latex and dvisvgm on the PATH, is used instead.
tex=(texlive-latex-base texlive-latex-extra texlive-fonts-recommended texlive-science dvisvgm cm-super tipa)
if ! { command -v latex && command -v dvisvgm; } >/dev/null || dpkg-query -W texlive-latex-base >/dev/null 2>&1; then
  packages+=("${tex[@]}")
fi
[[ "${1:-}" == "--browser" ]] && packages+=(chromium)

installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${packages[@]}" 2>/dev/null | awk '$NF == "installed" {print $1}' || true)
missing=()
for p in "${packages[@]}"; do
  grep -qx -- "$p" <<<"$installed" || missing+=("$p")
done
# Any node 18+ builds the extension; a machine may have one from elsewhere (e.g. NodeSource, whose
# nodejs conflicts with Debian's npm package), so Debian's is installed only when there is none.
command -v node >/dev/null || missing+=(nodejs)
# npm installs JupyterHub's configurable-http-proxy for tests/hub (NodeSource's node brings its own npm).
command -v npm >/dev/null || missing+=(npm)
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
