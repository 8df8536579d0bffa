#!/usr/bin/env bash
# Installs the Debian packages wirewatch needs to build, test and run, only when one is
# missing (a fresh Debian 12 machine needs nothing by hand). Needs root for apt-get.
# python3-fake-factory is Debian 12's name for Python Faker (`import faker`, 0.9.3), used by
# tests/pii/generate_faker_py.py; it has no python3-faker package.
# libbrotli-dev and libzstd-dev decode br and zstd HTTP bodies (libbrotli1, libzstd1 at run
# time; the unit tests encode with them too); tests/integration/http_live.sh has nginx send
# br with libnginx-mod-http-brotli-filter and a file compressed by the zstd tool.
# wamerican is the word list config/pii.yaml's common_words names ("Mr. Student" is no name).
set -euo pipefail

packages=(
	build-essential clang llvm pkg-config git python3
	libbpf-dev libelf-dev bpftool zlib1g-dev
	libbrotli-dev libbrotli1 libzstd-dev libzstd1 zstd
	liburing-dev libck-dev libyaml-dev libmicrohttpd-dev libjemalloc-dev
	libpcap-dev libxxhash-dev libcmocka-dev
	libpq-dev postgresql postgresql-client
	libhyperscan-dev libpcre2-dev libpsl-dev libjansson-dev publicsuffix
	mariadb-server mariadb-client libmariadb-dev
	nginx-light libnginx-mod-http-brotli-filter redis-server redis-tools memcached libmemcached-tools
	dnsmasq-base dnsutils openssl tcpreplay
	clang-format curl procps iproute2 bc tcpdump tshark
	python3-fake-factory wamerican
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages and not root: run 'sudo make deps'" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# the servers are started by the tests themselves, on private ports: keep the packages'
# init scripts from starting system instances while they install
policy=/usr/sbin/policy-rc.d
made_policy=
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1
fi
trap '[ -z "$made_policy" ] || rm -f "$policy"' EXIT
# tshark asks whether non-root users may capture: no (and no prompt)
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -qq
# Intel's Hyperscan, not Debian 12's Vectorscan 5.4.9, which misses matches (pii/README.md):
# the two conflict, so an earlier install of the latter goes first
if dpkg-query -W -f='${Status}' libvectorscan5 2>/dev/null | grep -q 'install ok installed'; then
	apt-get remove -y -qq libvectorscan-dev libvectorscan5 >/dev/null
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
