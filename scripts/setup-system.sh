#!/usr/bin/env bash
# Debian packages windowqa needs: PortAudio for live capture, PostgreSQL for the server
# database and its tests, Redis for the Celery broker (`windowqa worker`) and its tests, Chromium
# for the browser end-to-end test, a C++ compiler for pyworld (the demo's WORLD vocoder, on PyPI
# as source only). Idempotent.
set -euo pipefail
PKGS=(libportaudio2 libsndfile1 postgresql redis-server chromium chromium-driver fonts-wqy-microhei g++)
missing=()
for p in "${PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "windowqa set-up: please install Debian packages: ${missing[*]} (needs root)" >&2
  exit 0
fi
echo "windowqa set-up: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
