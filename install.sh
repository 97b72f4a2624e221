#!/usr/bin/env bash
# Installs everything pytest-scaling needs on a fresh Debian machine with Python 3.11:
# the offline dataset (Fashion-MNIST), Chromium for the report's render check, and the package.
set -euo pipefail
cd "$(dirname "$0")"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
need_apt=()
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || need_apt+=(dataset-fashion-mnist)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
# These pins come from the local wheel cache; a looser torch pin would download a multi-GB CUDA build.
python -m pip install -q torch==2.14.1 torchvision==0.29.1
python -m pip install -q -e ".[dev,ray]"
