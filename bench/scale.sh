#!/usr/bin/env bash
# bench/scale.sh — `make bench-scale`: Portico with 1,000,000 accounts across 10,000 tenants, too
# long for `make bench`'s 10 minutes. It measures
#   - the loading time: tenants, API keys and accounts written straight into etcd with package
#     tenants (loadgen scale, 64 writers; the same writes the API makes, one Txn per account);
#   - the gateway's RSS with the default account cache (--account-cache-size 200,000): empty,
#     after loading, after reading a sample through GET /v1/accounts/{id} (every 4th account:
#     250,000, more than the cache holds) and, with SCALE_READ_ALL=1, every account once;
#   - the customer page of one cached account, and of uncached accounts (as make bench's cold
#     row: one session each, spread over the tenants; Portico restarted, each viewed once);
#   - etcd's size after compaction and defragmentation (loadgen etcdsize), per account;
# and writes bench/SCALE.md (about 30 minutes on this 2-core machine, longer under foreign load). Portico runs alone on core 0 (GOMAXPROCS=1) against an external etcd
# (Debian's etcd-server, installed when missing) on core 1 with the load generator, with an 8 GiB
# space quota (the embedded etcd would put its memory-mapped database into the gateway's RSS).
#
# Settings (environment, defaults in brackets): SCALE_TENANTS [10000], SCALE_ACCOUNTS [1000000],
# SCALE_SAMPLE_EVERY [4], SCALE_READ_ALL [0] (1 also reads every account), SCALE_COLD [5000]
# uncached views per run, BENCH_RUNS [3], BENCH_DURATION [5s], BENCH_WARMUP [2s], BENCH_CONNS
# [64], SCALE_OUT [bench/SCALE.md], BENCH_KEEP=1 keeps the work directory, GO [go].
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

TENANTS=${SCALE_TENANTS:-10000}
ACCOUNTS=${SCALE_ACCOUNTS:-1000000}
EVERY=${SCALE_SAMPLE_EVERY:-4}
READ_ALL=${SCALE_READ_ALL:-0}
COLD=${SCALE_COLD:-5000}
COLD_WARM=300
RUNS=${BENCH_RUNS:-3}
DUR=${BENCH_DURATION:-5s}
WARM=${BENCH_WARMUP:-2s}
CONNS=${BENCH_CONNS:-64}
OUT=${SCALE_OUT:-bench/SCALE.md}
GO=${GO:-go}
SERVER_CPU=0
LOAD_CPU=1
T0=$(date +%s)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/portico-scale.XXXXXX")
BIN=$WORK/bin
RES=$WORK/results.jsonl
PIDS=()

log() { printf '[scale %5ss] %s\n' "$(($(date +%s) - T0))" "$*" >&2; }

# stop PID: SIGTERM, up to 30 s to exit, then SIGKILL.
stop() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 300; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	local keep=() p
	for p in "${PIDS[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
	PIDS=("${keep[@]}")
}

cleanup() {
	local rc=$? p
	for p in "${PIDS[@]}"; do stop "$p"; done
	if [[ ${BENCH_KEEP:-} == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
	if ((rc != 0)); then log "failed (exit $rc)"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for FILE PATTERN PID WHAT [SECONDS]: until FILE matches PATTERN, or PID dies.
wait_for() {
	local i n=$((${5:-60} * 10))
	for ((i = 0; i < n; i++)); do
		if grep -q "$2" "$1" 2>/dev/null; then return 0; fi
		if ! kill -0 "$3" 2>/dev/null; then
			log "$4 exited; its output:"
			tail -n 30 "$1" >&2 || true
			return 1
		fi
		sleep 0.1
	done
	log "$4 not ready after ${5:-60} s"
	tail -n 30 "$1" >&2 || true
	return 1
}

if command -v taskset >/dev/null; then
	PIN_SERVER=(taskset -c "$SERVER_CPU" env GOMAXPROCS=1)
	PIN_LOAD=(taskset -c "$LOAD_CPU" env GOMAXPROCS=1)
else
	log "taskset not found (util-linux): running unpinned, GOMAXPROCS=1 only"
	PIN_SERVER=(env GOMAXPROCS=1)
	PIN_LOAD=(env GOMAXPROCS=1)
fi
lg() { "${PIN_LOAD[@]}" "$BIN/loadgen" "$@"; }
note() { "$BIN/loadgen" note -out "$RES" -k "$1" -v "$2"; }

if ! command -v etcd >/dev/null && [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
	log "installing etcd-server"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server >"$WORK/etcd.install" 2>&1 || true
fi
command -v etcd >/dev/null || { log "no etcd server (Debian: etcd-server)"; exit 1; }

log "building"
mkdir -p "$BIN"
"$GO" build -trimpath -ldflags "-X main.version=$(git describe --always --dirty 2>/dev/null || echo dev)" -o "$BIN/portico" ./cmd/portico
"$GO" build -o "$BIN/" ./bench/cmd/loadgen
mapfile -t PORT < <("$BIN/loadgen" freeports -n 4)
P_ETCD=${PORT[0]} P_PEER=${PORT[1]} P_HTTP=${PORT[2]} P_ADMIN=${PORT[3]}
ETCD=http://127.0.0.1:$P_ETCD
API=http://api.portal.localhost:$P_HTTP
METRICS=(-metrics "http://127.0.0.1:$P_ADMIN/metrics")
note portico.version "$("$BIN/portico" version 2>/dev/null | sed 's/^portico //') ($(git rev-parse --short HEAD 2>/dev/null || echo '?'), working tree $(git status --porcelain 2>/dev/null | wc -l | tr -d ' ') files changed)"
note etcd.version "$(etcd --version 2>/dev/null | head -1)"
note loadavg.start "$(cut -d' ' -f1-3 /proc/loadavg)"
note scale.size.tenants "$TENANTS"
note scale.size.accounts "$ACCOUNTS"

HELP=$("$BIN/portico" serve --help 2>&1 || true)
LIMITS=()
for l in limit-api-per-second limit-redeems-per-minute limit-failed-tokens-per-hour; do
	grep -q -- "--$l" <<<"$HELP" && LIMITS+=("--$l" -1)
done

log "etcd on core $LOAD_CPU (8 GiB quota)"
"${PIN_LOAD[@]}" etcd --name scale --data-dir "$WORK/etcd" --quota-backend-bytes $((8 << 30)) \
	--listen-client-urls "$ETCD" --advertise-client-urls "$ETCD" \
	--listen-peer-urls "http://127.0.0.1:$P_PEER" --initial-advertise-peer-urls "http://127.0.0.1:$P_PEER" \
	--initial-cluster "scale=http://127.0.0.1:$P_PEER" >"$WORK/etcd.log" 2>&1 &
ETCD_PID=$!
PIDS+=("$ETCD_PID")
wait_for "$WORK/etcd.log" 'ready to serve client requests' "$ETCD_PID" etcd

# start_portico NAME: Portico alone on core 0 against the external etcd, default settings (the
# account cache's default size among them); sets PORTICO_PID.
start_portico() {
	"${PIN_SERVER[@]}" "$BIN/portico" --json serve --dev --data-dir "$WORK/data" --etcd-endpoints "$ETCD" \
		--http-addr "127.0.0.1:$P_HTTP" --admin-addr "127.0.0.1:$P_ADMIN" --shutdown-timeout 2s "${LIMITS[@]}" \
		>"$WORK/$1.out" 2>"$WORK/$1.err" &
	PORTICO_PID=$!
	PIDS+=("$PORTICO_PID")
	wait_for "$WORK/$1.err" 'portico ready' "$PORTICO_PID" "portico ($1)" 300
}
rss() { "$BIN/loadgen" rss -pid "$PORTICO_PID" -stage "$1" -out "$RES" "${METRICS[@]}" >&2; }

start_portico portico
sleep 1
rss empty
log "loading $TENANTS tenants and $ACCOUNTS accounts into etcd"
lg scale -etcd "$ETCD" -tenants "$TENANTS" -accounts "$ACCOUNTS" -account tenants/account/testdata/account.json -out "$WORK/scale.txt" -results "$RES" >&2
rss seeded
log "reading every ${EVERY}th account through the API"
lg warm -addr "127.0.0.1:$P_HTTP" -api "$API" -in "$WORK/scale.txt" -every "$EVERY" -name scale.sample -results "$RES" >&2
rss sample
if ((READ_ALL)); then
	log "reading every account once through the API"
	lg warm -addr "127.0.0.1:$P_HTTP" -api "$API" -in "$WORK/scale.txt" -name scale.all -results "$RES" >&2
	rss all
fi
curl -sf -o "$WORK/heap.prof" "http://127.0.0.1:$P_ADMIN/debug/pprof/heap" &&
	note profile.memory "$("$GO" tool pprof -top -sample_index=inuse_space -nodecount=40 "$BIN/portico" "$WORK/heap.prof" 2>/dev/null)"

# Sessions: one for a cached account (line 8 of scale.txt: tenant 7's first account), and one
# each for COLD + COLD_WARM accounts spread evenly over the million (so over the tenants), made
# through the API with each tenant's key, by alias (acc-N's alias is crm-N).
to_alias() { sed -E 's/ acc-([0-9]+)$/ crm-\1/'; }
sed -n 8p "$WORK/scale.txt" | to_alias >"$WORK/hot.aliases"
STEP=$((ACCOUNTS / (COLD + COLD_WARM)))
awk -v step=$((STEP > 0 ? STEP : 1)) -v n=$((COLD + COLD_WARM)) '(NR - 1) % step == 0 && c < n { print; c++ }' "$WORK/scale.txt" | to_alias >"$WORK/cold.aliases"
lg sessions -addr "127.0.0.1:$P_HTTP" -api "$API" -aliases "$WORK/hot.aliases" -with-host -out "$WORK/hot.cookie" >&2
lg sessions -addr "127.0.0.1:$P_HTTP" -api "$API" -aliases "$WORK/cold.aliases" -with-host -out "$WORK/cold.cookies" >&2
read -r HOT_HOST HOT_COOKIE <"$WORK/hot.cookie"
COOKIE_NAME=portico_session

commands=()
for ((i = 1; i <= RUNS; i++)); do
	log "page of a cached account, run $i of $RUNS"
	lg load -c "$CONNS" -server-core "$SERVER_CPU" -client-core "$LOAD_CPU" -mix page -addr "127.0.0.1:$P_HTTP" -url "http://$HOT_HOST" \
		-cookie "$COOKIE_NAME=$HOT_COOKIE" -d "$DUR" -w "$WARM" -server-pid "$PORTICO_PID" "${METRICS[@]}" -row scale-cached/portico -run "$i" -out "$RES"
done
for ((i = 1; i <= RUNS; i++)); do
	log "pages of uncached accounts, run $i of $RUNS: restarting Portico"
	stop "$PORTICO_PID"
	start_portico "portico.cold$i"
	lg load -c "$CONNS" -server-core "$SERVER_CPU" -client-core "$LOAD_CPU" -mix cold -addr "127.0.0.1:$P_HTTP" -url "http://$HOT_HOST" \
		-items "$WORK/cold.cookies" -cookie-name "$COOKIE_NAME" -warm-items "$COLD_WARM" -d 60s -server-pid "$PORTICO_PID" "${METRICS[@]}" \
		-row scale-cold/portico -run "$i" -out "$RES"
done
rss restarted
stop "$PORTICO_PID"

log "etcd: compaction and defragmentation"
lg etcdsize -etcd "$ETCD" -accounts "$ACCOUNTS" -timeout 60m -results "$RES" >&2
stop "$ETCD_PID"
note loadavg.end "$(cut -d' ' -f1-3 /proc/loadavg)"
note commands "bash bench/scale.sh   # = make bench-scale; SCALE_TENANTS=$TENANTS SCALE_ACCOUNTS=$ACCOUNTS SCALE_SAMPLE_EVERY=$EVERY SCALE_READ_ALL=$READ_ALL SCALE_COLD=$COLD BENCH_RUNS=$RUNS BENCH_DURATION=$DUR BENCH_WARMUP=$WARM
taskset -c $LOAD_CPU env GOMAXPROCS=1 etcd --quota-backend-bytes $((8 << 30)) …
taskset -c $SERVER_CPU env GOMAXPROCS=1 portico --json serve --dev --etcd-endpoints http://127.0.0.1:\$P_ETCD --http-addr 127.0.0.1:\$P_HTTP --admin-addr 127.0.0.1:\$P_ADMIN --shutdown-timeout 2s ${LIMITS[*]}
taskset -c $LOAD_CPU loadgen scale -etcd http://127.0.0.1:\$P_ETCD -tenants $TENANTS -accounts $ACCOUNTS -account tenants/account/testdata/account.json -out scale.txt
taskset -c $LOAD_CPU loadgen warm -addr 127.0.0.1:\$P_HTTP -api http://api.portal.localhost:\$P_HTTP -in scale.txt -every $EVERY
taskset -c $LOAD_CPU loadgen warm -addr 127.0.0.1:\$P_HTTP -api http://api.portal.localhost:\$P_HTTP -in scale.txt   # SCALE_READ_ALL=1
taskset -c $LOAD_CPU loadgen sessions -addr 127.0.0.1:\$P_HTTP -api http://api.portal.localhost:\$P_HTTP -aliases cold.aliases -with-host -out cold.cookies   # '<key> <alias>' lines
taskset -c $LOAD_CPU loadgen load -c $CONNS -mix page -addr 127.0.0.1:\$P_HTTP -url http://<tenant host> -cookie portico_session=… -d $DUR -w $WARM -row scale-cached/portico
taskset -c $LOAD_CPU loadgen load -c $CONNS -mix cold -addr 127.0.0.1:\$P_HTTP -items cold.cookies -warm-items $COLD_WARM -d 60s -row scale-cold/portico   # after a restart
taskset -c $LOAD_CPU loadgen etcdsize -etcd http://127.0.0.1:\$P_ETCD -accounts $ACCOUNTS"
ELAPSED=$(($(date +%s) - T0))
"$BIN/loadgen" scalereport -in "$RES" -out "$OUT" -go "$("$GO" version)" -elapsed "$ELAPSED"
log "wrote $OUT in ${ELAPSED}s"
