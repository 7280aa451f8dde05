#!/usr/bin/env bash
#
# profile.sh - the per-message path of rrtcp + the C echo worker
# (make -C bench profile).
#
#  1. syscalls per message: strace -c -f attached to the running server (all
#     its threads) and, separately, to its workers, while loadgen sends a
#     fixed number of messages (-n); startup is not traced at all.
#  2. instructions per message: valgrind --tool=callgrind on the server (and
#     on the workers, through the worker command), run twice with different
#     message counts; the difference cancels startup, connection setup and
#     shutdown.  perf stat -e instructions is used instead when the CPU
#     exposes the counter (it does not in this VM).
#  3. where the time goes: perf record -e cpu-clock on the server's CPU while
#     loadgen runs unperturbed (no strace, no valgrind), reported per process
#     and per symbol, kernel included.
#
# Output: a markdown summary on stdout and in build/profile.md; raw files in
# build/prof/.  Same environment knobs as run.sh (RRTCP_BIN, CPU_SRV, CPU_CLI,
# PORT); MSGS sets the message count (default 20000).

set -u

BENCH=$(cd "$(dirname "$0")" && pwd)
B=$BENCH/build
W=$B/prof
RRTCP_BIN=$(realpath -m "${RRTCP_BIN:-$BENCH/../build/rrtcp}")
CPU_SRV=${CPU_SRV:-1}
CPU_CLI=${CPU_CLI:-0}
PORT=${PORT:-17900}
MSGS=${MSGS:-20000}
CONNS=10
OUT=$B/profile.md
SRV_PID=

mkdir -p "$W"
rm -f "$W"/cg.* "$W"/strace.*
# A private copy: the tree may be rebuilt while this runs.
cp "$RRTCP_BIN" "$W/rrtcp" || exit 1
RRTCP_ORIG=$RRTCP_BIN
RRTCP_BIN=$W/rrtcp
log() { printf '%s\n' "$*" >&2; }

conf() {	# FILE WORKER_CMD
	cat >"$1" <<EOF
version: "3"
server:
  command: "$2"
tcp:
  reactors: 1
  servers:
    bench:
      addr: 127.0.0.1:$PORT
  pool:
    num_workers: 2
    allocate_timeout: 30s
    destroy_timeout: 10s
EOF
}

workers_of() {
	cat /proc/"$1"/task/*/children 2>/dev/null | tr ' ' '\n' | grep -v '^$' | sort -un
}

start() {	# WORKER_CMD [wrapper...]
	local cmd=$1
	shift
	PORT=$((PORT + 1))
	conf "$W/p.$PORT.yaml" "$cmd"
	taskset -c "$CPU_SRV" "$@" "$RRTCP_BIN" serve -c "$W/p.$PORT.yaml" \
	    2>"$W/server.$PORT.log" &
	SRV_PID=$!
	if ! "$B/waitready" -f "$W/server.$PORT.log" -t 120 -p "$SRV_PID" >/dev/null; then
		log "server did not start; see $W/server.$PORT.log"
		exit 1
	fi
	sleep 0.3
}

stop() {
	local i
	kill -TERM "$SRV_PID" 2>/dev/null
	for i in $(seq 300); do
		kill -0 "$SRV_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$SRV_PID" 2>/dev/null
	wait "$SRV_PID" 2>/dev/null
	SRV_PID=
}

drive() {	# COUNT
	taskset -c "$CPU_CLI" "$B/loadgen" -q -p "$PORT" -c "$CONNS" -d 1 -s 64 \
	    -n "$1" -t 300 -T 60 | grep '^RESULT'
}

# strace -c summary -> "calls name" lines and the total.
strace_calls() {
	awk '$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" {
	    print $4, $NF, (NF == 6 ? $5 : 0) }' "$1"
}
strace_total() { awk '/ total$/ { print $4 }' "$1"; }

trap 'stop; exit 130' INT TERM

# ---------------------------------------------------------------------------
log "== strace: syscalls per message ($MSGS messages, $CONNS connections)"
start "$B/echo_worker"
WPIDS=$(workers_of "$SRV_PID")
strace -c -f -o "$W/strace.server" -p "$SRV_PID" 2>/dev/null &
ST1=$!
WARGS=()
for p in $WPIDS; do WARGS+=(-p "$p"); done
strace -c -o "$W/strace.workers" "${WARGS[@]}" 2>/dev/null &
ST2=$!
sleep 1
R_STRACE=$(drive "$MSGS")
sleep 0.5
kill -INT "$ST1" "$ST2"
wait "$ST1" "$ST2" 2>/dev/null
stop
S_TOTAL=$(strace_total "$W/strace.server")
W_TOTAL=$(strace_total "$W/strace.workers")

log "== strace: the floor, same load"
PORT=$((PORT + 1))
taskset -c "$CPU_SRV" "$B/echo_floor" -p "$PORT" 2>"$W/floor.log" &
FLOOR_PID=$!
"$B/waitready" -f "$W/floor.log" -t 10 -p "$FLOOR_PID" >/dev/null
strace -c -f -o "$W/strace.floor" -p "$FLOOR_PID" 2>/dev/null &
ST3=$!
sleep 1
R_FLOOR=$(drive "$MSGS")
sleep 0.5
kill -INT "$ST3"
wait "$ST3" 2>/dev/null
F_TOTAL=$(strace_total "$W/strace.floor")

# Context switches on the server CPU per message, rrtcp and the floor.
cs_per_msg() {	# PID-for-port-check -> "cs migrations msgs"
	local res
	perf stat -x, -e context-switches,cpu-migrations -C "$CPU_SRV" \
	    -o "$W/perf.stat" -- sleep 2.5 >/dev/null 2>&1 &
	local pf=$!
	sleep 0.2
	res=$(taskset -c "$CPU_CLI" "$B/loadgen" -q -p "$PORT" -c 100 -d 1 \
	    -s 64 -t 2 | grep '^RESULT')
	wait "$pf"
	echo "$(awk -F, '/context-switches/ { print $1 }' "$W/perf.stat") $(val "$res" msgs)"
}
val() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }
CS_FLOOR=$(cs_per_msg)
kill -TERM "$FLOOR_PID"
wait "$FLOOR_PID" 2>/dev/null
start "$B/echo_worker"
CS_RRTCP=$(cs_per_msg)
stop

# ---------------------------------------------------------------------------
log "== callgrind: instructions per message"
IR_BIG=0
IR_SMALL=0
WIR_BIG=0
WIR_SMALL=0
SMALL=$((MSGS / 10))
# The server's counters are zeroed once it is up, then dumped (callgrind_control)
# after SMALL and after MSGS more messages, so startup and shutdown never
# count.  Dumping instead of exiting also avoids depending on a clean exit
# under valgrind (pidfd_open is not supported there: see BENCHMARKS.md).
cg_dump_ir() {	# PID -> Ir of the newest dump of that process
	local f
	callgrind_control -d "$1" >/dev/null 2>&1
	sleep 0.5
	f=$(ls -t "$W"/cg.*"$1"* 2>/dev/null | head -1)
	[ -n "$f" ] && awk '/^(summary|totals):/ { print $2; exit }' "$f"
}
if command -v valgrind >/dev/null && command -v callgrind_control >/dev/null; then
	start "valgrind --tool=callgrind --callgrind-out-file=$W/cg.worker.%p $B/echo_worker" \
	    valgrind --tool=callgrind --callgrind-out-file="$W/cg.server.%p" -q
	WPIDS=$(workers_of "$SRV_PID")
	for p in $SRV_PID $WPIDS; do callgrind_control -z "$p" >/dev/null 2>&1; done
	drive "$SMALL" >"$W/cg.result.small"
	IR_SMALL=$(cg_dump_ir "$SRV_PID")
	WIR_SMALL=0
	for p in $WPIDS; do WIR_SMALL=$((WIR_SMALL + $(cg_dump_ir "$p"))); done
	drive "$MSGS" >"$W/cg.result.big"
	IR_BIG=$(cg_dump_ir "$SRV_PID")
	WIR_BIG=0
	for p in $WPIDS; do WIR_BIG=$((WIR_BIG + $(cg_dump_ir "$p"))); done
	CG_LAST=$(ls -t "$W"/cg.server.* | head -1)
	# Thread entry points (clone, start_thread, the reactor loop) hold
	# about 100 % inclusively; the rest is listed by share.
	callgrind_annotate --threshold=100 "$CG_LAST" 2>/dev/null |
	    grep -E '^ *[0-9,]+ \([ 0-9.]+%\)' | grep -v 'PROGRAM TOTALS' |
	    grep -vE '\((100\.0|99\.[0-9])%\)' | head -15 >"$W/cg.top"
	# Counters are in hand: no need for a slow shutdown under valgrind.
	kill -KILL "$SRV_PID" $WPIDS 2>/dev/null
	wait "$SRV_PID" 2>/dev/null
	SRV_PID=
fi

# ---------------------------------------------------------------------------
log "== perf: where the time goes (cpu-clock samples on CPU $CPU_SRV)"
PERF_OK=0
start "$B/echo_worker"
if perf record -e cpu-clock -C "$CPU_SRV" -g -o "$W/perf.data" -- sleep 0.1 \
    >/dev/null 2>&1; then
	PERF_OK=1
	perf record -e cpu-clock -C "$CPU_SRV" -o "$W/perf.data" -- sleep 3 \
	    >/dev/null 2>&1 &
	PF=$!
	sleep 0.2
	R_PERF=$(taskset -c "$CPU_CLI" "$B/loadgen" -q -p "$PORT" -c 100 -d 1 \
	    -s 64 -t 2.5 | grep '^RESULT')
	wait "$PF"
	perf report -i "$W/perf.data" --stdio --sort comm 2>/dev/null |
	    grep -E '^ +[0-9.]+%' | head -8 >"$W/perf.comm"
	perf report -i "$W/perf.data" --stdio --sort comm,sym 2>/dev/null |
	    grep -E '^ +[0-9.]+%' | head -25 >"$W/perf.sym"
fi
stop

# ---------------------------------------------------------------------------
per() { awk -v a="$1" -v n="$2" 'BEGIN { if (n > 0) printf "%.2f", a / n; else print "-" }'; }
{
	echo "## rrtcp per-message profile ($(date -u '+%Y-%m-%d %H:%M UTC'))"
	echo
	echo "rrtcp $RRTCP_ORIG (sha256 $(sha256sum "$RRTCP_BIN" | cut -c1-12)...) + C echo worker, 2 workers, 1 reactor, server on CPU $CPU_SRV, loadgen on CPU $CPU_CLI;"
	echo "$CONNS connections, 64-byte messages, depth 1."
	echo
	echo "### Syscalls per message (strace -c, $MSGS messages)"
	echo
	echo "loadgen under strace: $R_STRACE"
	echo
	echo "- server (all threads): $S_TOTAL calls = $(per "$S_TOTAL" "$MSGS") per message"
	echo "- workers (both): $W_TOTAL calls = $(per "$W_TOTAL" "$MSGS") per message"
	echo "- floor (echo_floor, same load): $F_TOTAL calls = $(per "$F_TOTAL" "$MSGS") per message"
	set -- $CS_RRTCP
	echo "- context switches on CPU $CPU_SRV (perf stat, 100 connections, 2 s): rrtcp + workers $(per "${1:-0}" "${2:-0}") per message"
	set -- $CS_FLOOR
	echo "  (floor: $(per "${1:-0}" "${2:-0}") per message)"
	echo
	echo "| process | syscall | calls | errors (EAGAIN etc.) | per message |"
	echo "|---|---|---:|---:|---:|"
	strace_calls "$W/strace.server" | sort -rn | head -12 |
	    while read -r c n e; do echo "| server | $n | $c | $e | $(per "$c" "$MSGS") |"; done
	strace_calls "$W/strace.workers" | sort -rn | head -6 |
	    while read -r c n e; do echo "| workers | $n | $c | $e | $(per "$c" "$MSGS") |"; done
	strace_calls "$W/strace.floor" | sort -rn | head -4 |
	    while read -r c n e; do echo "| floor | $n | $c | $e | $(per "$c" "$MSGS") |"; done
	echo
	echo "### Instructions per message (callgrind, user space only)"
	echo
	if [ "$IR_BIG" -gt 0 ]; then
		echo "- server: $IR_BIG instructions for $MSGS messages = $(per "$IR_BIG" "$MSGS") per message ($(per "$IR_SMALL" "$SMALL") in the $SMALL-message run)"
		echo "- workers (both): $WIR_BIG for $MSGS messages = $(per "$WIR_BIG" "$MSGS") per message ($(per "$WIR_SMALL" "$SMALL") in the $SMALL-message run)"
		echo "- each run also carries $CONNS connects and $CONNS closes (CONNECTED/CLOSE exchanges)"
		echo
		echo "Top functions of the server ($MSGS-message run; callgrind_annotate --threshold=100, inclusive counts, thread entry points left out):"
		echo
		echo '```'
		cat "$W/cg.top"
		echo '```'
	else
		echo "valgrind not available"
	fi
	echo
	echo "### Where the time goes (perf record -e cpu-clock on CPU $CPU_SRV, 100 connections, depth 1)"
	echo
	if [ "$PERF_OK" = 1 ]; then
		echo "loadgen: $R_PERF"
		echo
		echo '```'
		cat "$W/perf.comm"
		echo
		cat "$W/perf.sym"
		echo '```'
	else
		echo "perf record not usable here"
	fi
} >"$OUT"
cat "$OUT"
