#!/usr/bin/env bash
#
# run.sh - the whole rrtcp benchmark in one go (make -C bench run).
#
# For every case: start the server under test pinned with taskset, wait for
# its "msg=ready" log line, run loadgen pinned elsewhere, stop the server
# with SIGTERM, keep loadgen's RESULT line.  Everything talks to 127.0.0.1
# only.  At the end the tables go to stdout and to build/results.md; the raw
# RESULT lines go to build/raw.txt and every server log to build/run/.
#
# Environment (all optional):
#   RRTCP_BIN  server binary (default ../build/rrtcp)
#   DUR, WARM  seconds measured and warm-up seconds per case (3, 1)
#   CPU_SRV    CPUs of the server and its workers (default 1)
#   CPU_CLI    CPUs of loadgen (default 0)
#   PORT       first TCP port to use (default 17400)
#   SKIP_PHP   1 = leave out the PHP cases
#   CASES      all (default) or workload: only the workload cases (blocking
#              workers, churn, slow-event mix), tables to build/workload.md
#   SLOW_US    the workload cases' slow service time in us (default 1000)
#   RRTCP_BIN_B  A/B mode: only the headline case (100 conns, 64 B, depth 1,
#              2 reactors, unpinned), alternated ROUNDS times (default 3)
#              between RRTCP_BIN (A), RRTCP_BIN_B (B) and B with
#              tcp.fence: always; prints that table alone
#
# Placement "split" (the main one): loadgen alone on CPU_CLI, the server and
# all its workers on CPU_SRV; echo_floor gets exactly the same CPU.  Placement
# "shared": everything may run on both CPUs (taskset -c 0,1, like an unpinned
# RoadRunner), used for a few key cases and the reactor comparison.

set -u

BENCH=$(cd "$(dirname "$0")" && pwd)
B=$BENCH/build
W=$B/run
RRTCP_BIN=$(realpath -m "${RRTCP_BIN:-$BENCH/../build/rrtcp}")
DUR=${DUR:-3}
WARM=${WARM:-1}
CPU_SRV=${CPU_SRV:-1}
CPU_CLI=${CPU_CLI:-0}
CPU_ALL=0-$(($(nproc) - 1))
PORT=${PORT:-17400}
SKIP_PHP=${SKIP_PHP:-0}
PHP=$(command -v php || true)
EXAMPLE=$BENCH/../conf/worker.php

RAW=$B/raw.txt
MD=$B/results.md
CASES=${CASES:-all}
case $CASES in
all) ;;
workload) MD=$B/workload.md ;;
*) printf 'CASES must be all or workload, not %s\n' "$CASES" >&2; exit 2 ;;
esac
SRV_PID=
SRV_LOG=
SRV_WORKERS=

mkdir -p "$W"
: >"$RAW"
log() { printf '%s\n' "$*" >&2; }

# ---------------------------------------------------------------------------
# servers

# rrtcp_conf FILE WORKER_CMD NUM_WORKERS REACTORS
rrtcp_conf() {
	cat >"$1" <<EOF
version: "3"
server:
  command: "$2"
tcp:
  reactors: $4
  max_connections: 200000
${RRTCP_TCP_EXTRA:-}
  servers:
    bench:
      addr: 127.0.0.1:$PORT
  pool:
    num_workers: $3
    allocate_timeout: 10s
    destroy_timeout: 5s
EOF
}

# Children of the server: its workers (any thread may have forked them).
workers_of() {
	cat /proc/"$1"/task/*/children 2>/dev/null | tr ' ' '\n' | grep -v '^$' |
	    sort -un | tr '\n' ',' | sed 's/,$//'
}

# start_server NAME CPUS ENV... -- CMD...   sets SRV_PID, READY_MS
start_server() {
	local name=$1 cpus=$2 t0 out
	shift 2
	local envs=()
	while [ "$1" != "--" ]; do envs+=("$1"); shift; done
	shift
	SRV_LOG=$W/$name.$PORT.log
	t0=$EPOCHREALTIME
	env "${envs[@]}" taskset -c "$cpus" "$@" 2>"$SRV_LOG" &
	SRV_PID=$!
	out=$("$B/waitready" -f "$SRV_LOG" -s "$t0" -t 60 -p "$SRV_PID")
	case $? in
	0) READY_MS=${out#ready_ms=} ;;
	*)	log "!! $name did not become ready; log tail:"
		tail -5 "$SRV_LOG" >&2
		stop_server
		return 1 ;;
	esac
	sleep 0.2
	SRV_WORKERS=$(workers_of "$SRV_PID")
	return 0
}

# Stops the server (SIGTERM, 10 s grace, then SIGKILL) and any worker it left.
stop_server() {
	local i
	[ -n "$SRV_PID" ] || return 0
	SRV_WORKERS=$(workers_of "$SRV_PID")
	kill -TERM "$SRV_PID" 2>/dev/null
	for i in $(seq 100); do
		kill -0 "$SRV_PID" 2>/dev/null || break
		[ "$(awk '{print $3}' /proc/"$SRV_PID"/stat 2>/dev/null)" = Z ] && break
		sleep 0.1
	done
	if kill -0 "$SRV_PID" 2>/dev/null &&
	    [ "$(awk '{print $3}' /proc/"$SRV_PID"/stat 2>/dev/null)" != Z ]; then
		log "!! server $SRV_PID ignored SIGTERM for 10 s; killing it"
		echo "NOTE server $SRV_PID needed SIGKILL ($SRV_LOG)" >>"$RAW"
		kill -KILL "$SRV_PID" 2>/dev/null
	fi
	wait "$SRV_PID" 2>/dev/null
	for i in ${SRV_WORKERS//,/ }; do
		if kill -0 "$i" 2>/dev/null; then
			sleep 0.5
			kill -0 "$i" 2>/dev/null &&
			    { log "!! worker $i outlived its server"; kill -KILL "$i"; }
		fi
	done
	SRV_PID=
}

# Every server start gets a fresh port, so nothing lingering from the last
# case (TIME_WAIT, a slow shutdown) can meet the next one.
start_floor() {	# CPUS [greeting]
	local g=()
	[ $# -ge 2 ] && g=(-g "$2")
	PORT=$((PORT + 1))
	start_server floor "$1" -- "$B/echo_floor" -p "$PORT" "${g[@]}"
}

start_rrtcp() {	# NAME CPUS WORKER_CMD NUM_WORKERS REACTORS [ENV...]
	local name=$1 cpus=$2 cmd=$3 n=$4 r=$5 cfg
	shift 5
	PORT=$((PORT + 1))
	cfg=$W/$name.$PORT.yaml
	rrtcp_conf "$cfg" "$cmd" "$n" "$r"
	start_server "$name" "$cpus" "$@" -- "$RRTCP_BIN" serve -c "$cfg"
}

# ---------------------------------------------------------------------------
# load

declare -A FLOOR_RATE FLOOR_P99 RATE P99 MEMPC STARTMED
ROWS=()

# Pulls key=value out of a RESULT line.
val() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }

# Busy CPU of the whole machine over 0.3 s, in % of one CPU.
host_busy() {
	local a b
	a=$(awk '/^cpu / { print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat)
	sleep 0.3
	b=$(awk '/^cpu / { print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat)
	awk -v a="$a" -v b="$b" -v n="$(nproc)" 'BEGIN { split(a, x, " "); split(b, y, " ");
	    t = y[2] - x[2]; if (t <= 0) { print 0; exit } printf "%.0f", (y[1] - x[1]) * 100 * n / t }'
}

# The box may be shared (other sessions compiling or fuzzing).  Wait up to
# 5 s for it to calm down before a case, and run a case again (once) when
# something else used more than NOISY % of a CPU while it was measured; the
# quieter attempt is kept and the "other CPU %" column shows what remained.
NOISY=${NOISY:-20}
quiet_wait() {
	local i busy
	for i in $(seq 15); do
		busy=$(host_busy)
		[ "$busy" -le 15 ] && return 0
	done
	log "   (machine busy: ${busy}% of a CPU used by others)"
}

# load LABEL PLACEMENT LOADGEN-ARGS...   (server must be up)
load() {
	local label=$1 place=$2 res cli try best= best_other=999 other
	shift 2
	LAST_RES=
	if [ "$place" = split ]; then cli=$CPU_CLI; else cli=$CPU_ALL; fi
	for try in 1 2; do
		if [ -z "$SRV_PID" ] || ! kill -0 "$SRV_PID" 2>/dev/null; then
			log "!! $label: server not running"
			echo "FAIL $label $place $* (server not running)" >>"$RAW"
			return 1
		fi
		SRV_WORKERS=$(workers_of "$SRV_PID")
		quiet_wait
		res=$(taskset -c "$cli" "$B/loadgen" -q -p "$PORT" -t "$DUR" \
		    -w "$WARM" -T 5 -P "$SRV_PID${SRV_WORKERS:+,$SRV_WORKERS}" \
		    "$@" | grep '^RESULT')
		echo "$label $place try=$try $res" >>"$RAW"
		other=$(other_cpu "$res")
		if [ "$other" -lt "$best_other" ]; then
			best=$res
			best_other=$other
		fi
		[ "$other" -le "$NOISY" ] && break
		log "   (noisy: other ${other}% of a CPU; trying again)"
	done
	LAST_RES=$best
	row "$label" "$place" "$best"
}

other_cpu() {
	awk -v h="$(val "$1" host_cpu_pct)" -v s="$(val "$1" srv_cpu_pct)" \
	    -v c="$(val "$1" cli_cpu_pct)" 'BEGIN { o = h - s - c; if (o < 0 || h == "") o = 0; printf "%.0f", o }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0 && a != "") printf "%.2f", a / b; else printf "-" }'; }

row() {
	local label=$1 place=$2 res=$3 key rate p99 other
	local mode conns size depth
	mode=$(val "$res" mode); conns=$(val "$res" conns)
	size=$(val "$res" size); depth=$(val "$res" depth)
	rate=$(val "$res" msgs_per_s); p99=$(val "$res" p99_us)
	key=$place:$mode:$conns:$size:$depth
	RATE[$label:$key]=$rate
	P99[$label:$key]=$p99
	if [ "$label" = floor ]; then
		FLOOR_RATE[$key]=$rate
		FLOOR_P99[$key]=$p99
	fi
	other=$(other_cpu "$res")
	ROWS+=("| $label | $place | $mode | $conns | $size | $depth | $rate | $(ratio "$rate" "${FLOOR_RATE[$key]:-}") | $(val "$res" p50_us) | $p99 | $(ratio "$p99" "${FLOOR_P99[$key]:-}") | $(val "$res" p999_us) | $(val "$res" max_us) | $(val "$res" srv_cpu_pct) | $(val "$res" srv_cpu_us_per_msg) | $(val "$res" cli_cpu_pct) | $other | $(val "$res" errors) |")
	log "   $label $place $mode c=$conns s=$size d=$depth: $rate msgs/s p99 $p99 us errors $(val "$res" errors)"
}

# matrix LABEL PLACEMENT: the 16 closed-loop cases
matrix() {
	local c s d
	for s in 64 4096; do
		for c in 1 10 100 1000; do
			for d in 1 16; do
				load "$1" "$2" -c $c -s $s -d $d
			done
		done
	done
}

# ---------------------------------------------------------------------------
# memory: RSS per idle connection

rss_kb() { awk '/^VmRSS:/ {print $2}' /proc/"$1"/status 2>/dev/null || echo 0; }
rss_sum() {
	local p sum=0
	for p in ${1//,/ }; do sum=$((sum + $(rss_kb "$p"))); done
	echo $sum
}

MEMROWS=()
# idle_mem LABEL N   (server up, greeting on connect)
idle_mem() {
	local label=$1 n=$2 r0 w0 rn wn r_after fifo lg line
	sleep 0.5
	r0=$(rss_kb "$SRV_PID"); w0=$(rss_sum "$SRV_WORKERS")
	fifo=$W/idle.$$.fifo
	rm -f "$fifo"; mkfifo "$fifo"
	taskset -c "$CPU_CLI" "$B/loadgen" -q -I -g -c "$n" -p "$PORT" -t 30 \
	    -T 20 >"$fifo" &
	lg=$!
	line=
	# "idle N" arrives once every connection is open and greeted.
	if read -r -t 60 line <"$fifo" && [ "$line" = "idle $n" ]; then
		sleep 1
		rn=$(rss_kb "$SRV_PID"); wn=$(rss_sum "$(workers_of "$SRV_PID")")
		kill -TERM "$lg" 2>/dev/null
		wait "$lg" 2>/dev/null
		sleep 1.5
		r_after=$(rss_kb "$SRV_PID")
		MEMPC[$label]=$(awk -v a="$rn" -v b="$r0" -v n="$n" 'BEGIN { printf "%.0f", (a - b) * 1024 / n }')
		MEMROWS+=("| $label | $n | $r0 | $rn | ${MEMPC[$label]} | $w0 | $wn | $r_after |")
		echo "MEM $label n=$n rss0_kb=$r0 rssn_kb=$rn workers0_kb=$w0 workersn_kb=$wn rss_after_close_kb=$r_after" >>"$RAW"
		log "   $label: $n idle conns: RSS $r0 -> $rn KiB"
	else
		log "!! $label: loadgen did not open $n connections (got '$line')"
		kill -TERM "$lg" 2>/dev/null
		wait "$lg" 2>/dev/null
		MEMROWS+=("| $label | $n | $r0 | failed | - | $w0 | - | - |")
		echo "MEM $label n=$n failed line='$line'" >>"$RAW"
	fi
	rm -f "$fifo"
}

# ---------------------------------------------------------------------------
# workload cases: what users run into.  Shared placement (everything on
# CPUs CPU_ALL), 64-byte messages, depth 1; the C echo worker made slow with
# ECHO_SLEEP_US (and ECHO_SLOW_PREFIX: only messages starting with it).

SLOW_US=${SLOW_US:-1000}
WL_BLOCK=()
WL_CHURN=()
WL_MIX=()

# pct RESULT: p50 | p99 | p99.9 | max cells
pcts() {
	echo "$(val "$1" p50_us) | $(val "$1" p99_us) | $(val "$1" p999_us) | $(val "$1" max_us)"
}

# Workers that block SLOW_US per event, like a database call: the rate
# should reach workers / service time and the tail stay near the median.
wl_block() {
	local n=16 c ideal
	ideal=$((n * 1000000 / SLOW_US))
	start_rrtcp block-c "$CPU_ALL" "$CW" $n 2 "ECHO_SLEEP_US=$SLOW_US" ||
	    return 0
	for c in 100 1000; do
		load "block-c-$SLOW_US" shared -c $c -s 64 -d 1 || continue
		WL_BLOCK+=("| $n | $SLOW_US | $c | $(val "$LAST_RES" msgs_per_s) | $ideal | $(ratio "$(val "$LAST_RES" msgs_per_s)" $ideal) | $(pcts "$LAST_RES") | $(val "$LAST_RES" srv_cpu_pct) | $(other_cpu "$LAST_RES") | $(val "$LAST_RES" errors) |")
	done
	stop_server
}

# Churn: connect, one message, reply, close; loadgen's -C counts
# connections (conns_per_s), and its latency runs from connect() to the reply.
wl_churn_row() {
	WL_CHURN+=("| $1 | 10 | $(val "$LAST_RES" conns_per_s) | $(pcts "$LAST_RES") | $(val "$LAST_RES" srv_cpu_pct) | $(other_cpu "$LAST_RES") | $(val "$LAST_RES" errors) |")
}
wl_churn() {
	start_floor "$CPU_ALL" && {
		load floor shared -C -c 10 && wl_churn_row "floor (echo_floor)"
		stop_server; }
	start_rrtcp churn-c "$CPU_ALL" "$CW" 2 2 && {
		load churn-c shared -C -c 10 &&
		    wl_churn_row "rrtcp + C worker (2 workers, 2 reactors)"
		stop_server; }
}

# lg ARGS...: one loadgen on all CPUs against the running server; RESULT line.
lg() {
	taskset -c "$CPU_ALL" "$B/loadgen" -q -p "$PORT" -t "$DUR" -w "$WARM" \
	    -T 5 "$@" | grep '^RESULT'
}

# Slow events mixed in: NS connections send messages starting with SLOW
# (the worker sleeps SLOW_US on them), NF send normal ones, from two
# loadgens at once.  With fewer slow connections than workers a worker is
# always free, so the fast class should keep the p99 it has alone.  At 100
# connections the fast class saturates the CPUs and queues for ms anyway;
# 4 + 4 connections keep its latency in the tens of us, where a 1 ms wait
# behind a slow worker would show.
wl_mix() {
	local n=8 pair ns nf fast slow text other share pids f_slow
	text=SLOW$(printf '%058d' 0)	# 62 bytes + CRLF = 64
	f_slow=$W/mix-slow.$$.txt
	start_rrtcp mix-c "$CPU_ALL" "$CW" $n 2 "ECHO_SLEEP_US=$SLOW_US" \
	    ECHO_SLOW_PREFIX=SLOW || return 0
	for pair in 4:96 10:90 4:4; do
		ns=${pair%:*}
		nf=${pair#*:}
		pids=$SRV_PID${SRV_WORKERS:+,$SRV_WORKERS}
		quiet_wait
		fast=$(lg -c $nf -s 64 -d 1 -P "$pids")
		echo "mix-fast-alone ns=$ns $fast" >>"$RAW"
		WL_MIX+=("| fast alone | $n | 0 | $nf | $(val "$fast" msgs_per_s) | $(pcts "$fast") | - | - | - | - | $(other_cpu "$fast") | $(val "$fast" errors) |")
		quiet_wait
		lg -c "$ns" -m "$text" -R 64 -d 1 >"$f_slow" &
		fast=$(lg -c $nf -s 64 -d 1 -P "$pids")
		wait $!
		slow=$(cat "$f_slow")
		rm -f "$f_slow"
		echo "mix-fast ns=$ns $fast" >>"$RAW"
		echo "mix-slow ns=$ns $slow" >>"$RAW"
		other=$(awk -v o="$(other_cpu "$fast")" -v c="$(val "$slow" cli_cpu_pct)" \
		    'BEGIN { o -= c; if (o < 0) o = 0; printf "%.0f", o }')
		share=$(awk -v f="$(val "$fast" msgs)" -v s="$(val "$slow" msgs)" \
		    'BEGIN { if (f + s > 0) printf "%.1f", 100 * s / (f + s); else print "-" }')
		WL_MIX+=("| fast + slow | $n | $ns | $nf | $(val "$fast" msgs_per_s) | $(pcts "$fast") | $(val "$slow" msgs_per_s) | $(val "$slow" p50_us) | $(val "$slow" p99_us) | $share | $other | $(( $(val "$fast" errors) + $(val "$slow" errors) )) |")
		log "   mix ns=$ns: fast p99 $(val "$fast" p99_us) us, slow $(val "$slow" msgs_per_s) msgs/s"
	done
	stop_server
}

workload() {
	log "== workload: blocking workers, churn, slow-event mix (shared, CPUs $CPU_ALL)"
	wl_block
	wl_churn
	wl_mix
}

workload_tables() {
	local ideal=$((16 * 1000000 / SLOW_US))
	echo "### Workload: workers that block ${SLOW_US} us per event (C echo worker, ECHO_SLEEP_US; 2 reactors, 64 B, depth 1, shared)"
	echo
	echo "Ideal = workers / service time = $ideal msgs/s."
	echo
	echo "| workers | sleep us | conns | msgs/s | ideal msgs/s | x ideal | p50 us | p99 us | p99.9 us | max us | srv CPU % | other CPU % | errors |"
	echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	printf '%s\n' "${WL_BLOCK[@]}"
	echo
	echo "### Workload: churn (connect, 1 message of 64 B, reply, close; 10 connections in flight, shared)"
	echo
	echo "Latency: from connect() to the reply."
	echo
	echo "| server | in flight | connections/s | p50 us | p99 us | p99.9 us | max us | srv CPU % | other CPU % | errors |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	printf '%s\n' "${WL_CHURN[@]}"
	echo
	echo "### Workload: slow events mixed in (8 C workers, 2 reactors; messages starting with SLOW sleep ${SLOW_US} us; two loadgens at once, shared)"
	echo
	echo "| run | workers | slow conns | fast conns | fast msgs/s | fast p50 us | fast p99 us | fast p99.9 us | fast max us | slow msgs/s | slow p50 us | slow p99 us | slow % of msgs | other CPU % | errors |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	printf '%s\n' "${WL_MIX[@]}"
}

# report_head TITLE: the title and the lines every report starts with.
report_head() {
	echo "## $1"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); total run time $(awk -v a="$T_START" -v b="$T_END" 'BEGIN { printf "%.0f", b - a }') s"
	echo "- machine: $(nproc) CPUs, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), kernel $(uname -r), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
	echo "- rrtcp: $RRTCP_ORIG, built $(date -u -r "$RRTCP_ORIG" '+%Y-%m-%d %H:%M UTC'), sha256 $RRTCP_SUM... ($("$RRTCP_BIN" -v 2>&1 | head -1))"
	echo "- each case: ${WARM} s warm-up + ${DUR} s measured, closed loop, loopback"
	echo "- placement split: loadgen on CPU $CPU_CLI; server and all its workers on CPU $CPU_SRV (taskset; echo_floor on the same CPU). shared: everything on CPUs $CPU_ALL"
	echo "- srv CPU: server + workers (schedstat), % of one CPU; other CPU: busy time of the machine not used by loadgen or the server (other users of the box)"
}

# ---------------------------------------------------------------------------

T_START=$EPOCHREALTIME
if [ ! -x "$RRTCP_BIN" ]; then
	log "rrtcp binary $RRTCP_BIN not found; build it first (make -C ..)"
	exit 1
fi
if [ -z "$PHP" ] && [ "$SKIP_PHP" != 1 ]; then
	log "php not found: PHP cases skipped"
	SKIP_PHP=1
fi
# Run a private copy: the tree may be rebuilt while the benchmark runs.
cp "$RRTCP_BIN" "$W/rrtcp" || exit 1
RRTCP_ORIG=$RRTCP_BIN
RRTCP_BIN=$W/rrtcp
RRTCP_SUM=$(sha256sum "$RRTCP_BIN" | cut -c1-12)
ulimit -n "$(ulimit -Hn)" 2>/dev/null
trap 'stop_server; exit 130' INT TERM

CW="$B/echo_worker"
PW="$PHP $BENCH/php/echo_worker.php"

# A/B: the same case on two binaries in one sitting, alternated so drift of
# the machine falls on both alike.
ab_run() {
	local round v bin extra w label
	cp "$RRTCP_BIN_B" "$W/rrtcp-b" || exit 1
	log "== A/B: A=$RRTCP_ORIG B=$RRTCP_BIN_B, ${ROUNDS:-3} rounds"
	start_floor "$CPU_ALL" && { load floor shared -c 100 -s 64 -d 1; stop_server; }
	for round in $(seq "${ROUNDS:-3}"); do
		for v in A B B-fence; do
			bin=$W/rrtcp; extra=
			[ "$v" != A ] && bin=$W/rrtcp-b
			[ "$v" = B-fence ] && extra="  fence: always"
			for w in c php; do
				[ "$w" = php ] && [ "$SKIP_PHP" = 1 ] && continue
				label="$v-$w-r$round"
				RRTCP_BIN=$bin RRTCP_TCP_EXTRA=$extra start_rrtcp "$label" \
				    "$CPU_ALL" "$([ "$w" = c ] && echo "$CW" || echo "$PW")" \
				    2 2 && { load "$label" shared -c 100 -s 64 -d 1; stop_server; }
			done
		done
	done
	{
		echo "## rrtcp A/B: 100 conns, 64 B, depth 1, 2 workers, 2 reactors, unpinned"
		echo
		echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $(nproc) CPUs, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), kernel $(uname -r)"
		echo "- A: $RRTCP_ORIG ($("$W/rrtcp" -v 2>&1 | head -1)); B: $RRTCP_BIN_B; B-fence: B with tcp.fence: always"
		echo "- each case: ${WARM} s warm-up + ${DUR} s measured; rounds alternate A, B, B-fence"
		echo
		echo "| server | place | mode | conns | msg B | depth | msgs/s | x floor | p50 us | p99 us | p99 x floor | p99.9 us | max us | srv CPU % | srv us/msg | loadgen CPU % | other CPU % | errors |"
		echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
		printf '%s\n' "${ROWS[@]}"
	} >"$B/ab.md"
	cat "$B/ab.md"
}
if [ -n "${RRTCP_BIN_B:-}" ]; then
	ab_run
	exit 0
fi
if [ "$CASES" = workload ]; then
	workload
	T_END=$EPOCHREALTIME
	{ report_head "rrtcp workload cases"; echo; workload_tables; } >"$MD"
	cat "$MD"
	exit 0
fi

log "== pipe ping-pong"
PP_SAME=$(taskset -c "$CPU_SRV" "$B/pingpong" -n 100000 2>/dev/null)
PP_CROSS=$("$B/pingpong" -n 20000 -a "$CPU_CLI,$CPU_SRV" 2>/dev/null)
echo "$PP_SAME" | sed 's/^/PP same-cpu /' >>"$RAW"
echo "$PP_CROSS" | sed 's/^/PP cross-cpu /' >>"$RAW"

log "== floor, split placement (server CPU $CPU_SRV, loadgen CPU $CPU_CLI)"
start_floor "$CPU_SRV" && { matrix floor split; load floor split -C -c 10; stop_server; }

log "== rrtcp + C echo worker, 2 workers, 1 reactor, split"
start_rrtcp rrtcp-c "$CPU_SRV" "$CW" 2 1 &&
    { matrix rrtcp-c split; load rrtcp-c split -C -c 10; stop_server; }

if [ "$SKIP_PHP" != 1 ]; then
	log "== rrtcp + PHP echo worker, 2 workers, 1 reactor, split"
	start_rrtcp rrtcp-php "$CPU_SRV" "$PW" 2 1 &&
	    { matrix rrtcp-php split; load rrtcp-php split -C -c 10; stop_server; }

	if [ -f "$EXAMPLE" ]; then
		log "== rrtcp + conf/worker.php (NOOP), 2 workers, 1 reactor, split"
		# The example greets (220) and answers NOOP with "250 OK".
		start_rrtcp example-noop "$CPU_SRV" "$PHP $(realpath "$EXAMPLE")" 2 1 &&
		    { for c in 10 100 1000; do
			load example-noop split -g -m NOOP -R 8 -c $c -d 1
		      done
		      load example-noop split -g -m NOOP -R 8 -C -c 10
		      stop_server; }
	fi
fi

log "== reactors and placement: floor, rrtcp-c with 1 and 2 reactors"
start_floor "$CPU_ALL" && {
	load floor shared -c 100 -s 64 -d 1
	load floor shared -c 1000 -s 64 -d 16
	stop_server; }
for r in 1 2; do
	start_rrtcp rrtcp-c-r$r "$CPU_SRV" "$CW" 2 $r && {
		load rrtcp-c-r$r split -c 100 -s 64 -d 1
		load rrtcp-c-r$r split -c 1000 -s 64 -d 16
		stop_server; }
	start_rrtcp rrtcp-c-r$r "$CPU_ALL" "$CW" 2 $r && {
		load rrtcp-c-r$r shared -c 100 -s 64 -d 1
		load rrtcp-c-r$r shared -c 1000 -s 64 -d 16
		stop_server; }
done
if [ "$SKIP_PHP" != 1 ]; then
	start_rrtcp rrtcp-php-r2 "$CPU_ALL" "$PW" 2 2 && {
		load rrtcp-php-r2 shared -c 100 -s 64 -d 1
		stop_server; }
	if [ -f "$EXAMPLE" ]; then
		start_rrtcp example-noop-r2 "$CPU_ALL" "$PHP $(realpath "$EXAMPLE")" 2 2 && {
			load example-noop-r2 shared -g -m NOOP -R 8 -c 100 -d 1
			stop_server; }
	fi
fi

workload

log "== memory: RSS with idle connections"
NIDLE=10000
start_floor "$CPU_SRV" '220 floor\r\n' && { idle_mem floor $NIDLE; stop_server; }
for r in 1 2; do
	start_rrtcp rrtcp-c-mem-r$r "$CPU_SRV" "$CW -g" 2 $r &&
	    { idle_mem "rrtcp-c (reactors $r)" $NIDLE; stop_server; }
done
if [ "$SKIP_PHP" != 1 ]; then
	start_rrtcp rrtcp-php-mem "$CPU_SRV" "$PW" 2 1 $'ECHO_GREETING=220 php\r\n' &&
	    { idle_mem "rrtcp-php (reactors 1)" $NIDLE; stop_server; }
fi
HARD=$(ulimit -Hn)
if [ "$HARD" = unlimited ] || [ "$HARD" -ge 100100 ]; then
	NOTE100K="100 000 idle connections: possible here (hard limit $HARD) but not automated yet"
else
	NOTE100K="100 000 idle connections: skipped, RLIMIT_NOFILE hard limit is $HARD per process (raising it needs CAP_SYS_RESOURCE, not available; /proc/sys/fs/nr_open is $(cat /proc/sys/fs/nr_open)), so neither rrtcp nor one loadgen can hold 100k sockets"
fi
log "   $NOTE100K"

log "== startup: time to msg=ready"
STARTROWS=()
startup() {	# LABEL CPUS CMD N
	local i ms=() rr=() line
	for i in 1 2 3; do
		start_rrtcp startup "$2" "$3" "$4" 1 || { ms+=(fail); continue; }
		ms+=("$READY_MS")
		line=$(grep -m1 'msg=ready' "$SRV_LOG")
		rr+=("$(sed -n 's/.* ms=\([0-9.]*\).*/\1/p' <<<"$line")")
		stop_server
	done
	local med
	med=$(printf '%s\n' "${ms[@]}" | sort -n | sed -n 2p)
	STARTMED[$1:$2:$4]=$med
	STARTROWS+=("| $1 | CPUs $2 | $4 | ${ms[*]} | $med | ${rr[*]} |")
	echo "START $1 cpus=$2 n=$4 ready_ms=${ms[*]} rrtcp_ms=${rr[*]}" >>"$RAW"
	log "   $1 x$4 on CPUs $2: ${ms[*]} ms"
}
# Startup is not a load test: the server may use the whole machine.
if [ "$SKIP_PHP" != 1 ]; then
	for n in 2 8 32; do startup "PHP echo worker" "$CPU_ALL" "$PW" $n; done
	startup "PHP echo worker" "$CPU_SRV" "$PW" 32
fi
startup "C echo worker" "$CPU_ALL" "$CW" 32

# ---------------------------------------------------------------------------
# report

target() {	# TEXT VALUE OP LIMIT
	local verdict
	verdict=$(awk -v v="$2" -v op="$3" -v l="$4" 'BEGIN {
	    if (v == "" || v == "-") { print "not measured"; exit }
	    ok = (op == ">=") ? (v + 0 >= l + 0) : (v + 0 <= l + 0)
	    print ok ? "met" : "MISSED" }')
	echo "- $1: $2 -> $verdict"
}

T_END=$EPOCHREALTIME
{
	report_head "rrtcp benchmark results"
	echo
	echo "### Throughput and latency (closed loop; churn = connect, 1 message, reply, close per \"msg\")"
	echo
	echo "| server | place | mode | conns | msg B | depth | msgs/s | x floor | p50 us | p99 us | p99 x floor | p99.9 us | max us | srv CPU % | srv us/msg | loadgen CPU % | other CPU % | errors |"
	echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	printf '%s\n' "${ROWS[@]}"
	echo
	workload_tables
	echo
	echo "### Memory with $NIDLE idle connections (VmRSS, KiB; server process only, workers separately)"
	echo
	echo "| server | conns | RSS idle | RSS with conns | bytes/conn | workers RSS before | workers RSS with conns | RSS after close |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|"
	printf '%s\n' "${MEMROWS[@]}"
	echo
	echo "$NOTE100K."
	echo
	echo "### Startup: launch to the msg=ready line (ms, 3 runs; rrtcp's own ms= field alongside)"
	echo
	echo "| workers | pinned | N | runs (ms) | median ms | rrtcp ms= |"
	echo "|---|---|---:|---|---:|---|"
	printf '%s\n' "${STARTROWS[@]}"
	echo
	echo "### Pipe ping-pong (one worker hop = half a round trip)"
	echo
	echo "| placement | msg B | round trips/s | ns per hop |"
	echo "|---|---:|---:|---:|"
	while read -r line; do
		[ -n "$line" ] && echo "| same CPU ($CPU_SRV) | $(val "$line" size) | $(val "$line" rt_per_s) | $(val "$line" ns_per_hop) |"
	done <<<"$PP_SAME"
	while read -r line; do
		[ -n "$line" ] && echo "| parent CPU $CPU_CLI, child CPU $CPU_SRV | $(val "$line" size) | $(val "$line" rt_per_s) | $(val "$line" ns_per_hop) |"
	done <<<"$PP_CROSS"
	grep '^NOTE\|^FAIL' "$RAW" | sed 's/^/- /'
	echo
	echo "### Targets"
	echo
	k=split:run:100:64:1
	target "rrtcp + C worker msgs/s >= 0.6 x floor (100 conns, 64 B, depth 1)" \
	    "$(ratio "${RATE[rrtcp-c:$k]:-}" "${RATE[floor:$k]:-}")" ">=" 0.6
	target "p99 at 100 conns <= 2 x floor (rrtcp + C worker)" \
	    "$(ratio "${P99[rrtcp-c:$k]:-}" "${P99[floor:$k]:-}")" "<=" 2
	target "RSS per idle connection <= 2048 B (rrtcp-c, reactors 1)" \
	    "${MEMPC[rrtcp-c (reactors 1)]:-}" "<=" 2048
	target "32 PHP workers ready <= 500 ms (median, CPUs $CPU_ALL)" \
	    "${STARTMED[PHP echo worker:$CPU_ALL:32]:-}" "<=" 500
	target "PHP echo worker, 2 workers, 100 conns, 64 B >= 74000 msgs/s (2 x RoadRunner's 37k; split)" \
	    "${RATE[rrtcp-php:$k]:-}" ">=" 74000
	target "the same, shared placement, 2 reactors (closest to RoadRunner's unpinned setup)" \
	    "${RATE[rrtcp-php-r2:shared:run:100:64:1]:-}" ">=" 74000
	target "conf/worker.php NOOP, 2 workers, 100 conns >= 74000 msgs/s (split)" \
	    "${RATE[example-noop:split:run:100:6:1]:-}" ">=" 74000
} >"$MD"
cat "$MD"
