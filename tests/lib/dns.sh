# tests/lib/dns.sh - a real DNS server (dnsmasq) on loopback for tests,
# and a mount namespace whose /etc/resolv.conf points at it.
#
# POSIX sh; source after tap.sh.  Root only (port 53, unshare -m).
#   dns_init ADDR            temp folder $DNS_DIR, dnsmasq config for a
#                            server on ADDR:53 (e.g. 127.0.0.53) that is
#                            authoritative for .test and knows nothing
#                            else (no upstream, no /etc/hosts)
#   dns_txt NAME 'TEXT'      a TXT record (TEXT may hold '"' and '%')
#   dns_conf 'LINE'          any dnsmasq.conf line, e.g.
#                            'local-ttl=120' or 'server=/slow.test/127.0.0.54'
#   dns_start                start dnsmasq; returns once it listens
#   dns_silent ADDR          a UDP "server" on ADDR:53 that never answers
#                            (forward a zone there for timeouts)
#   dns_stop                 stop dnsmasq (and the silent server)
#   $DNS_NS CMD [ARGS]       run CMD in a new mount namespace where
#                            /etc/resolv.conf says "nameserver ADDR"; the
#                            wrapper execs, so CMD keeps the caller's pid
# dns_cleanup runs in the EXIT trap (through pf_cleanup_add when the
# Postfix fixture is loaded, else its own trap).
DNS_DIR=
DNS_PID=
DNS_SILENT_PID=

dns_cleanup() {
	dns_stop
	[ -n "$DNS_DIR" ] && rm -rf "$DNS_DIR"
	DNS_DIR=
}

dns_init() {
	DNS_ADDR=$1
	DNS_DIR=$(mktemp -d /tmp/optgate-dns.XXXXXX) || return 1
	chmod 755 "$DNS_DIR"
	if type pf_cleanup_add >/dev/null 2>&1; then
		pf_cleanup_add dns_cleanup
	elif type pd_cleanup >/dev/null 2>&1; then
		trap 'dns_cleanup; pd_cleanup' EXIT
	else
		trap 'dns_cleanup' EXIT
	fi
	cat >"$DNS_DIR/dnsmasq.conf" <<EOF
no-resolv
no-hosts
no-poll
listen-address=$DNS_ADDR
bind-interfaces
port=53
local=/test/
log-facility=$DNS_DIR/dnsmasq.log
log-queries
EOF
	printf 'nameserver %s\n' "$DNS_ADDR" >"$DNS_DIR/resolv.conf"
	cat >"$DNS_DIR/ns" <<EOF
#!/bin/sh
exec unshare -m sh -c 'mount --bind "$DNS_DIR/resolv.conf" /etc/resolv.conf && exec "\$0" "\$@"' "\$@"
EOF
	chmod 755 "$DNS_DIR/ns"
	DNS_NS=$DNS_DIR/ns
}

dns_conf() {
	printf '%s\n' "$1" >>"$DNS_DIR/dnsmasq.conf"
}

dns_txt() {
	# dnsmasq.conf: txt-record=NAME,"TEXT" with \" and \\ escaped.
	_t=$(printf '%s' "$2" | sed 's/\\/\\\\/g; s/"/\\"/g')
	printf 'txt-record=%s,"%s"\n' "$1" "$_t" >>"$DNS_DIR/dnsmasq.conf"
}

# Is something bound to ADDR:53/udp?  (We cannot bind it then.)
_dns_bound() {
	python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.bind((sys.argv[1], 53))
except OSError:
    sys.exit(0)
sys.exit(1)
EOF
}

dns_start() {
	if _dns_bound "$DNS_ADDR"; then
		echo "dns_start: $DNS_ADDR:53 already in use" >&2
		return 1
	fi
	dnsmasq -k --conf-file="$DNS_DIR/dnsmasq.conf" \
	    --pid-file="$DNS_DIR/dnsmasq.pid" >"$DNS_DIR/dnsmasq.out" 2>&1 &
	DNS_PID=$!
	_i=0
	while ! _dns_bound "$DNS_ADDR"; do
		if ! kill -0 "$DNS_PID" 2>/dev/null || [ $_i -ge 50 ]; then
			echo "dns_start: dnsmasq did not start:" >&2
			cat "$DNS_DIR/dnsmasq.out" >&2
			return 1
		fi
		sleep 0.1
		_i=$((_i + 1))
	done
	return 0
}

dns_silent() {
	python3 - "$1" <<'EOF' &
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 53))
while True:
    s.recvfrom(4096)
EOF
	DNS_SILENT_PID=$!
	_i=0
	while ! _dns_bound "$1" && [ $_i -lt 50 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
}

dns_stop() {
	if [ -n "$DNS_PID" ]; then
		kill "$DNS_PID" 2>/dev/null
		wait "$DNS_PID" 2>/dev/null
		DNS_PID=
	fi
	if [ -n "$DNS_SILENT_PID" ]; then
		kill "$DNS_SILENT_PID" 2>/dev/null
		wait "$DNS_SILENT_PID" 2>/dev/null
		DNS_SILENT_PID=
	fi
	return 0
}
