# Minimal TAP helpers for integration scripts (POSIX sh).
#   . "$OPTGATE_TOP/tests/lib/tap.sh"
#   ok "name" test -f x        run a command; ok if it exits 0
#   is "name" "$got" "$want"   compare strings
#   like "name" "$got" 'glob*' match a shell pattern
#   done_testing               exit non-zero if anything failed
TOP=${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${BUILD:-build}
BIN=${OPTGATE_BIN:-$TOP/$BUILD/bin}
_tap_n=0
_tap_fail=0
pass() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $1"; }
fail() {
	_tap_n=$((_tap_n + 1)); _tap_fail=$((_tap_fail + 1))
	echo "not ok $_tap_n - $1"
	[ $# -gt 1 ] && printf '#   %s\n' "$2"
	return 0
}
ok() {
	_n=$1; shift
	if "$@"; then pass "$_n"; else fail "$_n" "command failed: $*"; fi
}
is() {
	if [ "$2" = "$3" ]; then pass "$1"
	else fail "$1" "got '$2', want '$3'"; fi
}
like() {
	case "$2" in $3) pass "$1" ;; *) fail "$1" "got '$2', want like '$3'" ;; esac
}
done_testing() {
	echo "1..$_tap_n"
	[ "$_tap_fail" -eq 0 ]
}
