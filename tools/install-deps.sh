#!/bin/sh
# Install the Debian 12 packages optgate needs to build, test and benchmark.
# Called by `make check`/`make deps`; installs only what is missing.
# Exit 2 with a clear message when something is missing and we are not root.
set -eu

PKGS="build-essential pkg-config clang libclang-rt-14-dev llvm
liblmdb-dev lmdb-utils libssl-dev libidn2-dev libinih-dev libcmocka-dev
libmilter-dev miltertest libgmime-3.0-dev libmicrohttpd-dev libspf2-dev
postfix opendkim opendkim-tools dnsmasq-base faketime libfaketime
curl chromium python3 iproute2 postfwd util-linux procps psmisc
nginx-light openssl m4 libwrap0 strace netcat-openbsd
bsdextrautils miller jq"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
	    grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "optgate: missing Debian packages:$missing" >&2
	echo "optgate: run 'make deps' as root, or: apt-get install$missing" >&2
	exit 2
fi

echo "optgate: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# Postfix must not ask questions nor become this machine's mailer.
echo "postfix postfix/main_mailer_type select No configuration" |
    debconf-set-selections
if ! apt-get install -y -q --no-install-recommends $missing >/tmp/optgate-apt.log 2>&1; then
	apt-get update -q >>/tmp/optgate-apt.log 2>&1 || true
	apt-get install -y -q --no-install-recommends $missing >>/tmp/optgate-apt.log 2>&1 || {
		tail -20 /tmp/optgate-apt.log >&2
		echo "optgate: apt-get install failed (log: /tmp/optgate-apt.log)" >&2
		exit 2
	}
fi
# Debian starts services from postinst where it can; tests run their own.
for s in postfix opendkim nginx; do
	service "$s" stop >/dev/null 2>&1 || true
done
exit 0
