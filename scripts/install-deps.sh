#!/bin/sh
# Installs what vkattn builds and tests with, from Debian/Ubuntu packages.
set -eu
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends \
    gcc g++ meson ninja-build pkg-config git \
    libvulkan-dev glslc glslang-tools mesa-vulkan-drivers vulkan-validationlayers vulkan-tools \
    check libcjson-dev libpng-dev \
    clang libclang-rt-dev
