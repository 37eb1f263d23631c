#!/bin/sh
# optgate-unsubd operations: version, refusing a bad config, privilege
# drop, SIGHUP reload (config and keys; a broken file keeps the running
# one), TLS with a certificate from the config, clean stop.
. "${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/tap.sh"
. "$TOP/tests/lib/unsubd.sh"
trap ud_cleanup EXIT INT TERM

like "-V prints the version" "$("$BIN/optgate-unsubd" -V)" "optgate-unsubd *"
"$BIN/optgate-unsubd" -x >/dev/null 2>&1
is "bad option: usage, exit 2" "$?" 2

ud_setup 18084 "user = nobody
listen = [::1]:18097" || { fail "setup"; done_testing; exit 1; }
cp "$CONF" "$UD_DIR/good.conf"
printf '[unsubd]\nlisten = 127.0.0.1:18084\nno_such_key = 1\n' >"$UD_DIR/bad.conf"
ERR=$("$BIN/optgate-unsubd" -c "$UD_DIR/bad.conf" -f 2>&1)
is "unknown key: refuses to start" "$?" 1
like "... and names file and line" "$ERR" "*bad.conf:3:*no_such_key*"
# A listen address without a port must not bind a random one.
sed 's|^listen = 127.0.0.1:18084|listen = 127.0.0.1:|' "$CONF" >"$UD_DIR/noport.conf"
ERR=$(timeout 5 "$BIN/optgate-unsubd" -c "$UD_DIR/noport.conf" -f 2>&1)
is "listen without a port: refuses to start" "$?" 1
like "... and says so" "$ERR" '*[[]unsubd] listen: "127.0.0.1:": expected HOST:PORT*'

# The unprivileged user owns the store; keys and config stay readable
# to it for reloads.
chmod 755 "$UD_DIR"
chown -R nobody:nogroup "$UD_DIR/store" "$UD_DIR/keys"
A=pessoa@example.com.br
ud_optin $A news
chown -R nobody:nogroup "$UD_DIR/store"
ok "daemon starts as root" ud_start
is "it runs as nobody" "$(awk '/^Uid:/ {print $2 $3 $4 $5}' /proc/$UD_PID/status)" \
    65534655346553465534
# Root's groups are gone; the user's own (initgroups) are what is left.
is "only nobody's groups" \
    "$(awk '/^Groups:/ {$1 = ""; print}' /proc/$UD_PID/status | tr -s ' ' '\n' | grep . | sort -n | tr '\n' ' ')" \
    "$(id -G nobody | tr ' ' '\n' | sort -n | tr '\n' ' ')"
is "second listen line: IPv6 loopback" \
    "$(curl -s -g --max-time 5 'http://[::1]:18097/healthz')" ok
TOK=$(ud_token $A news)
is "one-click as nobody 200" "$(ud_code POST "$UD_URL/u/$TOK" \
    -d List-Unsubscribe=One-Click)" 200
is "... and it is in the store" "$(ud_status $A news)" 1

# Reload: a new brand name appears after SIGHUP.
like "brand before reload" "$(curl -s "$UD_URL/u/$TOK")" "*Loja Exemplo*"
sed -i 's/^brand.name = Loja Exemplo/brand.name = Marca Nova/' "$CONF"
kill -HUP $UD_PID
i=0
while [ $i -lt 50 ]; do
	case "$(curl -s "$UD_URL/u/$TOK")" in *"Marca Nova"*) break ;; esac
	sleep 0.1
	i=$((i + 1))
done
like "SIGHUP reloads the config" "$(curl -s "$UD_URL/u/$TOK")" "*Marca Nova*"
like "reload logged" "$(cat "$UD_DIR/log")" "*reloaded*"
like "links are root paths without base_url" "$(curl -s "$UD_URL/u/$TOK")" \
    "*action=\"/u/$TOK/prefs\"*"
sed -i 's|^user = nobody|user = nobody\nbase_url = https://www.example.com/optout/|' "$CONF"
kill -HUP $UD_PID
i=0
while [ $i -lt 50 ]; do
	case "$(curl -s "$UD_URL/u/$TOK")" in *'"/optout/u/'*) break ;; esac
	sleep 0.1
	i=$((i + 1))
done
P=$(curl -s "$UD_URL/u/$TOK")
like "base_url with a path prefixes the form actions" "$P" \
    "*action=\"/optout/u/$TOK/prefs\"*"
like "... and the language links" "$P" "*href=\"/optout/u/$TOK?lang=es\"*"

# Keys: a new signing key is honoured after SIGHUP, the old one still is.
FORM=$(curl -s "$UD_URL/u/$TOK")
CSRF=$(printf '%s' "$FORM" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p')
TS=$(printf '%s' "$FORM" | sed -n 's/.*name="ts" value="\([^"]*\)".*/\1/p')
like "the form is protected under key 1" "$CSRF" "1.*"
"$BIN/optgate" keygen --id 2 >>"$UD_DIR/keys"
NEW=$(ud_token $A tips)
is "token of a key not loaded yet: 400" "$(ud_code GET "$UD_URL/u/$NEW")" 400
kill -HUP $UD_PID
i=0
while [ $i -lt 50 ] && [ "$(ud_code GET "$UD_URL/u/$NEW")" != 200 ]; do
	sleep 0.1
	i=$((i + 1))
done
is "after SIGHUP the new key verifies" "$(ud_code GET "$UD_URL/u/$NEW")" 200
is "the old key still verifies" "$(ud_code GET "$UD_URL/u/$TOK")" 200
is "a form from before the rotation is still accepted" \
    "$(ud_code POST "$UD_URL/u/$TOK/prefs" -d "$(ud_form "$FORM")&s=news&action=save")" 200
like "new forms are protected under the new key" "$(curl -s "$UD_URL/u/$TOK")" \
    '*name="csrf" value="2.*'
# The old key retired (its line removed, as the file's owner): the
# reload says so, and its links get the 400 page, logged, not a 500.
sed -i '/^1 /d' "$UD_DIR/keys"
kill -HUP $UD_PID
i=0
while [ $i -lt 50 ] && [ "$(ud_code GET "$UD_URL/u/$TOK")" != 400 ]; do
	sleep 0.1
	i=$((i + 1))
done
like "old key retired: the reload says its links fail" "$(cat "$UD_DIR/log")" \
    "*keys: key 1 no longer in $UD_DIR/keys: links signed with it fail (reason=unknown-key)*"
P=$(curl -s "$UD_URL/u/$TOK")
like "... a link of key 1 gets the page that says so" "$P" "*This link does not work*"
is "... one-click with it: 400" "$(ud_code POST "$UD_URL/u/$TOK" \
    -d List-Unsubscribe=One-Click)" 400
like "... logged as unknown-key" "$(cat "$UD_DIR/log")" "*reject: *reason=unknown-key*"
is "... a link of key 2 still works" "$(ud_code GET "$UD_URL/u/$NEW")" 200
TOK=$NEW

# A broken config on reload: keep serving with the running one.
echo "this is not ini" >>"$CONF"
kill -HUP $UD_PID
i=0
while [ $i -lt 50 ] && ! grep -q "reload failed" "$UD_DIR/log"; do
	sleep 0.1
	i=$((i + 1))
done
like "broken config on reload: logged" "$(cat "$UD_DIR/log")" \
    "*reload failed: keeping the running configuration*"
is "... and still serving" "$(ud_code GET "$UD_URL/u/$TOK")" 200
ok "SIGTERM: clean exit" ud_stop
like "stop logged" "$(cat "$UD_DIR/log")" "*optgate-unsubd*stopped*"

# TLS: certificate and key from the config (read before dropping root).
cp "$UD_DIR/good.conf" "$CONF"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -days 2 \
    -keyout "$UD_DIR/tls.key" -out "$UD_DIR/tls.crt" >/dev/null 2>&1
chmod 600 "$UD_DIR/tls.key"
sed -i "s|^listen = 127.0.0.1:18084|listen = 127.0.0.1:18085\ntls_cert = $UD_DIR/tls.crt\ntls_key = $UD_DIR/tls.key|" "$CONF"
"$BIN/optgate-unsubd" -c "$CONF" -f >>"$UD_DIR/log" 2>&1 &
UD_PID=$!
UD_PIDS="$UD_PIDS $UD_PID"
i=0
while [ $i -lt 100 ] && ! curl -s -o /dev/null --cacert "$UD_DIR/tls.crt" \
    https://127.0.0.1:18085/healthz; do
	sleep 0.1
	i=$((i + 1))
done
is "HTTPS healthz 200 (certificate verified)" "$(curl -s -o /dev/null \
    -w '%{http_code}' --cacert "$UD_DIR/tls.crt" https://127.0.0.1:18085/healthz)" 200
B=outra@example.com
ud_optin $B news
chown -R nobody:nogroup "$UD_DIR/store"
TB=$(ud_token $B news)
is "one-click over HTTPS 200" "$(curl -s -o /dev/null -w '%{http_code}' \
    --cacert "$UD_DIR/tls.crt" -d List-Unsubscribe=One-Click \
    https://127.0.0.1:18085/u/$TB)" 200
is "... and it is in the store" "$(ud_status $B news)" 1
is "plain HTTP to the TLS port gets no page" "$(curl -s -o /dev/null \
    -w '%{http_code}' --max-time 3 http://127.0.0.1:18085/healthz)" 000
# Only TLS 1.2 and 1.3, as the example nginx config (RFC 8996: 1.0 and
# 1.1 are not to be used; GnuTLS's default offered them).
tls_version() { # openssl s_client option: the version agreed, or (NONE)
	echo | timeout 10 openssl s_client -connect 127.0.0.1:18085 "$1" \
	    -cipher 'DEFAULT@SECLEVEL=0' 2>/dev/null |
	    sed -n 's/^New, \([^,]*\), Cipher is.*/\1/p'
}
is "TLS 1.0 refused" "$(tls_version -tls1)" "(NONE)"
is "TLS 1.1 refused" "$(tls_version -tls1_1)" "(NONE)"
is "TLS 1.2 agreed" "$(tls_version -tls1_2)" "TLSv1.2"
is "TLS 1.3 agreed" "$(tls_version -tls1_3)" "TLSv1.3"
ok "TLS daemon stops cleanly" ud_stop
is "config check of the pair: no tls warning" \
    "$("$BIN/optgate" -c "$CONF" config check 2>&1 | grep -c tls_)" 0
# A key that is not the certificate's (a renewed certificate, the old
# key left): config check said ok, and optgate-unsubd died with "cannot
# start the HTTP server on 127.0.0.1:18085", no reason given.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 \
    -out "$UD_DIR/other.key" >/dev/null 2>&1
sed -i "s|^tls_key = .*|tls_key = $UD_DIR/other.key|" "$CONF"
like "config check: a key that is not the certificate's is warned" \
    "$("$BIN/optgate" -c "$CONF" config check 2>&1)" \
    "*warning: [[]unsubd] tls_key $UD_DIR/other.key is not the key of tls_cert $UD_DIR/tls.crt: optgate-unsubd will not start*"
timeout 10 "$BIN/optgate-unsubd" -c "$CONF" -f >"$UD_DIR/tls.log" 2>&1
is "... optgate-unsubd does not start" "$?" 1
like "... and says the same" "$(cat "$UD_DIR/tls.log")" \
    "*cannot start the HTTP server on 127.0.0.1:18085: [[]unsubd] tls_key $UD_DIR/other.key is not the key of tls_cert $UD_DIR/tls.crt*"
sed -i "s|^tls_cert = .*|tls_cert = $UD_DIR/no.crt|" "$CONF"
like "config check: a missing certificate is noted" \
    "$("$BIN/optgate" -c "$CONF" config check 2>&1)" \
    "*note: [[]unsubd] tls_cert $UD_DIR/no.crt: No such file or directory on this host: optgate-unsubd will not start*"

# Detached (no -f) with a relative config path: daemon() goes to "/",
# and SIGHUP must still find the file.
REL=rel$$.conf
sed -e 's|^listen = 127.0.0.1:18084|listen = 127.0.0.1:18098|' \
    -e '/^listen = \[::1\]/d' "$UD_DIR/good.conf" >"$UD_DIR/$REL"
(cd "$UD_DIR" && "$BIN/optgate-unsubd" -c "$REL")
i=0
while [ $i -lt 50 ] && ! curl -s -o /dev/null --max-time 1 \
    http://127.0.0.1:18098/healthz; do
	sleep 0.1
	i=$((i + 1))
done
DPID=$(pgrep -f "optgate-unsubd -c $REL")
UD_PIDS="$UD_PIDS $DPID"
like "detached daemon serves" "$(curl -s http://127.0.0.1:18098/u/$TB)" \
    "*Loja Exemplo*"
sed -i 's/^brand.name = Loja Exemplo/brand.name = Marca Relativa/' "$UD_DIR/$REL"
kill -HUP $DPID
i=0
while [ $i -lt 50 ]; do
	case "$(curl -s http://127.0.0.1:18098/u/$TB)" in *"Marca Relativa"*) break ;; esac
	sleep 0.1
	i=$((i + 1))
done
like "detached, relative -c: SIGHUP reloads the config" \
    "$(curl -s http://127.0.0.1:18098/u/$TB)" "*Marca Relativa*"
kill $DPID
done_testing
