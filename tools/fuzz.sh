#!/usr/bin/env bash
# Runs every fuzz target of the module (every `func FuzzXxx` in a _test.go
# file) for MINUTES minutes each, one after another. Not run by CI: CI's
# `go test ./...` replays each target's seeds and every crasher saved under
# the package's testdata/fuzz/FuzzXxx/, which is where `go test -fuzz`
# writes a failing input. Commit a crasher together with its fix.
#
#   tools/fuzz.sh [MINUTES] [PATTERN]   (default 1 minute; PATTERN filters
#                                        targets by package path or name)
#
# Prints one line per target (PASS, or FAIL with the crasher's path) and a
# summary; the full output of a failing target goes to
# $TMPDIR/fuzz-<target>.log. Exits 1 when any target failed.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
minutes="${1:-1}"
pattern="${2:-}"
case "$minutes" in
'' | *[!0-9]*) echo "usage: tools/fuzz.sh [MINUTES] [PATTERN]" >&2; exit 2 ;;
esac
cd "$root"
logdir="${TMPDIR:-/tmp}"
failed=0
total=0
# package directory and target name, one pair per line.
targets=$(grep -rn --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]*\(' . |
	sed -E 's|^\./(.*)/[^/]*_test\.go:[0-9]+:func (Fuzz[A-Za-z0-9_]*)\(.*|\1 \2|; s|^\./[^/]*_test\.go:[0-9]+:func (Fuzz[A-Za-z0-9_]*)\(.*|. \1|' |
	sort -u)
while read -r dir name; do
	[ -z "$name" ] && continue
	if [ -n "$pattern" ] && [[ "$dir/$name" != *"$pattern"* ]]; then
		continue
	fi
	total=$((total + 1))
	log="$logdir/fuzz-${dir//\//_}-$name.log"
	start=$(date +%s)
	# Minimizing a new input counts no executions and may take the whole
	# default minute on a large seed (a 4 KB CSV through the pipeline), so
	# it is capped to leave the time to fuzzing.
	# Its own process group, so an interrupt also stops the fuzz workers.
	set -m
	go test "./$dir" -run '^$' -fuzz "^$name\$" -fuzztime "${minutes}m" -fuzzminimizetime 10s >"$log" 2>&1 &
	child=$!
	set +m
	trap 'kill -TERM -- -"$child" 2>/dev/null; exit 130' INT TERM
	if wait "$child"; then
		printf 'PASS %-28s %-22s %4ss  %s\n' "$dir" "$name" "$(($(date +%s) - start))" \
			"$(grep -Eo 'execs: [0-9]+' "$log" | tail -1)"
		rm -f "$log"
	else
		failed=$((failed + 1))
		crasher=$(grep -Eo 'testdata/fuzz/[^ ]+' "$log" | head -1)
		printf 'FAIL %-28s %-22s %s (log %s)\n' "$dir" "$name" "${crasher:-see log}" "$log"
	fi
done <<<"$targets"
echo "$total targets, $((total - failed)) passed, $failed failed, ${minutes} min each"
[ "$failed" -eq 0 ]
