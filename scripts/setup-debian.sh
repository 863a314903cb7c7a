#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Installs the Debian 12 packages that building, the default guest image, the test host,
# the tests and the benchmarks need.  Idempotent and quick when everything is there: it
# asks dpkg first and calls apt-get only for what is missing.  Run as root.
set -eu

PACKAGES="
  gcc make pkg-config meson ninja-build
  clang libclang-rt-14-dev clang-format
  libcmocka-dev libjson-c-dev libmicrohttpd-dev libcurl4-openssl-dev
  libnftables-dev libnl-3-dev libnl-route-3-dev libcrypt-dev zlib1g-dev libncurses-dev libxxhash-dev
  python3 python3-dev python3-pytest python3-pytest-rerunfailures
  mandoc
  qemu-system-x86 qemu-utils linux-image-amd64
  busybox-static cpio kmod lz4 xz-utils binutils e2fsprogs
  iproute2 socat nftables tcpdump iperf3 openssh-client
"

missing=
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "setup-debian: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "setup-debian: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
