#!/usr/bin/env bash
# bench/run.sh — Portico's load benchmark, the single entry point of `make bench`.
#
# Builds Portico and the bench binaries, then measures on this machine, every server pinned to
# core 0 with GOMAXPROCS=1 and the load generator pinned to core 1, 64 connections everywhere:
#   - the customer page: the limit (fasthttp returning Portico's page bytes), net/http +
#     html/template, Portico — runs interleaved so that background noise hits all three alike;
#   - session creation, link redemption (exactly-once checked, plus a concurrent race check),
#     a cold page view (every request an account-cache miss, after a restart);
#   - source mode: a tenant whose documents come from its backend (bench/cmd/sourceserver), a
#     cold view (each a signed fetch) and cached views within the TTL;
#   - HTTPS rows when `portico serve` has --https-addr;
#   - memory: RSS with 10,000 tenants and 100,000 accounts warmed into the caches;
#   - the Go micro-benchmarks of the hot path;
# and writes bench/RESULTS.md (medians of BENCH_RUNS runs, machine facts, targets, profiles).
#
# Settings (environment, defaults in brackets): BENCH_RUNS [3] measured runs per row, except
# BENCH_PAGE_RUNS [5] for the customer page rows; BENCH_CONNS [64]; BENCH_DURATION [5s];
# BENCH_WARMUP [2s]; BENCH_TENANTS [10000], BENCH_ACCOUNTS [100000] for the memory row;
# BENCH_COLD_ACCOUNTS [5000]; BENCH_SOURCE_ACCOUNTS [BENCH_COLD_ACCOUNTS] for the source rows;
# BENCH_ONLY=source runs only the source rows (and writes a report of them), BENCH_ONLY=memory only
# the memory rows; BENCH_MEMORY_DOC [tenants/account/testdata/account.json] the document the memory
# rows' accounts are copies of; BENCH_OUT [bench/RESULTS.md]; BENCH_BUDGET [900] seconds the whole
# run may take (the memory row shrinks to fit, and the report extrapolates, saying so);
# BENCH_PROFILE [auto]: CPU-profile a Portico row whose target is missed (always, never);
# BENCH_KEEP=1 keeps the work directory (logs, results.jsonl, profiles); GO [go] the toolchain.
# Everything it starts is stopped on exit, and its temporary directory removed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

RUNS=${BENCH_RUNS:-3}
PAGE_RUNS=${BENCH_PAGE_RUNS:-5}
CONNS=${BENCH_CONNS:-64}
DUR=${BENCH_DURATION:-5s}
WARM=${BENCH_WARMUP:-2s}
TENANTS=${BENCH_TENANTS:-10000}
ACCOUNTS=${BENCH_ACCOUNTS:-100000}
COLD=${BENCH_COLD_ACCOUNTS:-5000}
COLD_WARM=300
OUT=${BENCH_OUT:-bench/RESULTS.md}
BUDGET=${BENCH_BUDGET:-900} # seconds the whole run may take
GO=${GO:-go}
PROFILE=${BENCH_PROFILE:-auto}
SERVER_CPU=0
LOAD_CPU=1
T0=$(date +%s)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/portico-bench.XXXXXX")
BIN=$WORK/bin
RES=$WORK/results.jsonl
PIDS=()

log() { printf '[bench %4ss] %s\n' "$(($(date +%s) - T0))" "$*" >&2; }

# stop PID: SIGTERM, up to 15 s to exit, then SIGKILL.
stop() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 150; i++)); do
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
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do stop "$p"; done
	if [[ ${BENCH_KEEP:-} == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
	if ((rc != 0)); then log "failed (exit $rc)"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

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

# load ROW RUN ARGS...: one measured load run, recorded in the results; the command (with
# secrets replaced by their names) goes into the report.
load() {
	local row=$1 run=$2
	shift 2
	local shown="loadgen load -c $CONNS -server-core $SERVER_CPU -client-core $LOAD_CPU $*" v
	shown=${shown//"$WORK"/'$WORK'}
	[[ -n ${COOKIE:-} ]] && shown=${shown//"$COOKIE"/'$COOKIE'}
	[[ -n ${KEY:-} ]] && shown=${shown//"$KEY"/'$API_KEY'}
	[[ -n ${SID:-} ]] && shown=${shown//"$SID"/'$SID'}
	[[ -n ${SKEY:-} ]] && shown=${shown//"$SKEY"/'$SOURCE_API_KEY'}
	for v in P_HTTP P_ADMIN P_STATIC P_NET P_HTTPS P_NGINX P_SRC; do if [[ -n ${!v:-} ]]; then shown=${shown//":${!v}"/":\$$v"}; fi; done
	shown=$(sed -E 's/-server-pid [0-9]+/-server-pid $SERVER_PID/' <<<"$shown")
	if [[ ${SEEN[$row]:-} != 1 ]]; then
		SEEN[$row]=1
		printf '%s\n' "taskset -c $LOAD_CPU $shown -row $row -run N" >>"$WORK/commands.txt"
	fi
	lg load -c "$CONNS" -server-core "$SERVER_CPU" -client-core "$LOAD_CPU" -row "$row" -run "$run" -out "$RES" "$@"
}
declare -A SEEN=()

# wait_for FILE PATTERN PID WHAT: until FILE matches PATTERN (60 s), or PID dies.
wait_for() {
	local i
	for ((i = 0; i < 600; i++)); do
		if grep -q "$2" "$1" 2>/dev/null; then return 0; fi
		if ! kill -0 "$3" 2>/dev/null; then
			log "$4 exited; its output:"
			tail -n 30 "$1" >&2 || true
			return 1
		fi
		sleep 0.1
	done
	log "$4 not ready after 60 s"
	tail -n 30 "$1" >&2 || true
	return 1
}

log "building"
mkdir -p "$BIN"
"$GO" build -trimpath -ldflags "-X main.version=$(git describe --always --dirty 2>/dev/null || echo dev)" -o "$BIN/portico" ./cmd/portico
"$GO" build -o "$BIN/" ./bench/cmd/loadgen ./bench/cmd/staticserver ./bench/cmd/nethttpserver ./bench/cmd/testca ./bench/cmd/sourceserver
mapfile -t PORT < <("$BIN/loadgen" freeports -n 15)
note portico.version "$("$BIN/portico" version 2>/dev/null | sed 's/^portico //') ($(git rev-parse --short HEAD 2>/dev/null || echo '?'), working tree $(git status --porcelain 2>/dev/null | wc -l | tr -d ' ') files changed)"
note loadavg.start "$(cut -d' ' -f1-3 /proc/loadavg)"

HELP=$("$BIN/portico" serve --help 2>&1 || true)
HAS_ADMIN=0
grep -q -- '--admin-addr' <<<"$HELP" && HAS_ADMIN=1
HAS_HTTPS=0
grep -q -- '--https-addr' <<<"$HELP" && HAS_HTTPS=1
# The abuse limits (per client IP, per API key) would throttle a benchmark whose load comes from
# one IP and one key: they are turned off, and the report says so.
LIMITS=()
for l in limit-api-per-second limit-redeems-per-minute limit-failed-tokens-per-hour; do
	grep -q -- "--$l" <<<"$HELP" && LIMITS+=("--$l" -1)
done

# start_portico NAME DATADIR ETCD PEER HTTP ADMIN [ARGS...]: sets PORTICO_PID.
start_portico() {
	local name=$1 dir=$2 etcd=$3 peer=$4 http=$5 admin=$6
	shift 6
	local extra=()
	((HAS_ADMIN)) && extra+=(--admin-addr "127.0.0.1:$admin")
	"${PIN_SERVER[@]}" "$BIN/portico" --json serve --dev --data-dir "$dir" \
		--etcd-listen "127.0.0.1:$etcd" --etcd-peer-listen "127.0.0.1:$peer" --http-addr "127.0.0.1:$http" \
		--shutdown-timeout 2s "${LIMITS[@]}" "${extra[@]}" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
	PORTICO_PID=$!
	PIDS+=("$PORTICO_PID")
	wait_for "$WORK/$name.err" 'portico ready' "$PORTICO_PID" "portico ($name)"
}

P_ETCD=${PORT[0]} P_PEER=${PORT[1]} P_HTTP=${PORT[2]} P_ADMIN=${PORT[3]} P_STATIC=${PORT[4]} P_NET=${PORT[5]}
P_HTTPS=${PORT[6]}
PORTAL=http://demo.portal.localhost:$P_HTTP
API=http://api.portal.localhost:$P_HTTP
METRICS=()
((HAS_ADMIN)) && METRICS=(-metrics "http://127.0.0.1:$P_ADMIN/metrics")

# profile NAME SECONDS ARGS...: a CPU profile of Portico over SECONDS while `loadgen load ARGS`
# runs (not recorded); its top functions go into the report.
profile() {
	local name=$1 secs=$2
	shift 2
	((HAS_ADMIN)) || { note "profile.$name" "no profile: portico serve has no --admin-addr (pprof)"; return 0; }
	log "profiling Portico under the $name load"
	"${PIN_LOAD[@]}" "$BIN/loadgen" load -c "$CONNS" -w 1s -d "$((secs + 2))s" "$@" >/dev/null &
	local lpid=$!
	PIDS+=("$lpid")
	sleep 1
	if curl -sf -o "$WORK/$name.prof" "http://127.0.0.1:$P_ADMIN/debug/pprof/profile?seconds=$secs"; then
		note "profile.$name" "$("$GO" tool pprof -top -nodecount=200 "$BIN/portico" "$WORK/$name.prof" 2>/dev/null)"
	fi
	wait "$lpid" || true
	stop "$lpid"
}

want_profile() { # want_profile CHECK-ARGS...: whether to profile (BENCH_PROFILE, or the target missed)
	case $PROFILE in
	always) return 0 ;;
	never) return 1 ;;
	esac
	! "$BIN/loadgen" check -in "$RES" "$@" 2>/dev/null
}

# ---------------------------------------------------------------------------------------------
log "starting Portico (embedded etcd, demo data) on core $SERVER_CPU"
start_portico portico "$WORK/data" "$P_ETCD" "$P_PEER" "$P_HTTP" "$P_ADMIN" --demo
wait_for "$WORK/portico.out" '"apiKey"' "$PORTICO_PID" "portico demo seeding"
LINK=$(sed -n 's/.*"portalLink": *"\([^"]*\)".*/\1/p' "$WORK/portico.out")
KEY=$(sed -n 's/.*"apiKey": *"\([^"]*\)".*/\1/p' "$WORK/portico.out")
COOKIE=$(lg session -addr "127.0.0.1:$P_HTTP" -link "$LINK")
COOKIE_NAME=${COOKIE%%=*}
lg fetch -addr "127.0.0.1:$P_HTTP" -url "$PORTAL/" -cookie "$COOKIE" -body "$WORK/page.html" -headers "$WORK/page.headers" >&2

# Source mode (source_rows): a tenant whose account documents come from its backend on demand —
# bench/cmd/sourceserver on the load core, answering GET /accounts/{id} and ?alias= for
# SOURCE accounts (+ COLD_WARM for the warm-up), verifying the signatures. Portico runs with
# --webhook-allow-cidr 127.0.0.0/8 so that it may call a loopback backend. One session per
# account by alias through the API (each asks the source); then per run Portico restarts (empty
# caches): source-cold views every account once (each a fetch), source-warm views the same
# accounts round robin within the TTL (cached pages, no fetch). sourceserver's counters go into
# each run's metrics. BENCH_ONLY=source runs only these rows (after the demo start) and writes
# the report.
SOURCE=${BENCH_SOURCE_ACCOUNTS:-$COLD}
P_SRC=${PORT[14]}
source_rows() {
	local slug=srcbench secret i src_pid
	log "source mode: Portico with --webhook-allow-cidr 127.0.0.0/8, tenant $slug, sourceserver with $((SOURCE + COLD_WARM)) accounts on core $LOAD_CPU"
	stop "$PORTICO_PID"
	start_portico portico.source "$WORK/data" "$P_ETCD" "$P_PEER" "$P_HTTP" "$P_ADMIN" --webhook-allow-cidr 127.0.0.0/8
	local cli=("$BIN/portico" --etcd-endpoints "http://127.0.0.1:$P_ETCD")
	"${cli[@]}" tenant create --slug "$slug" --name "Source Bench" >"$WORK/source.tenant" 2>&1 ||
		{ log "creating the source tenant failed:"; cat "$WORK/source.tenant" >&2; return 1; }
	SKEY=$("${cli[@]}" apikey create --tenant "$slug" --name bench 2>"$WORK/source.apikey.err")
	local code
	code=$(curl -s -o "$WORK/source.backend" -w '%{http_code}' -X PUT -H "Host: api.portal.localhost:$P_HTTP" -H "Authorization: Bearer $SKEY" \
		-H 'Content-Type: application/json' --data "{\"url\":\"http://127.0.0.1:$P_SRC\"}" "http://127.0.0.1:$P_HTTP/v1/backend")
	[[ $code == 200 ]] || { log "registering the source backend failed: $code $(cat "$WORK/source.backend")"; return 1; }
	secret=$(sed -n 's/.*"secret": *"\([^"]*\)".*/\1/p' "$WORK/source.backend")
	(umask 077 && printf '%s\n' "$secret" >"$WORK/source.secret")
	"${PIN_LOAD[@]}" "$BIN/sourceserver" -addr "127.0.0.1:$P_SRC" -account tenants/account/testdata/account.json -n $((SOURCE + COLD_WARM)) \
		-prefix src -secret-file "$WORK/source.secret" -aliases "$WORK/source.aliases" 2>"$WORK/sourceserver.err" &
	src_pid=$!
	PIDS+=("$src_pid")
	wait_for "$WORK/sourceserver.err" 'sourceserver ready' "$src_pid" sourceserver
	"${cli[@]}" tenant update "$slug" --source --source-ttl 5m >"$WORK/source.update" 2>&1 ||
		{ log "turning source mode on failed:"; cat "$WORK/source.update" >&2; return 1; }
	lg sessions -addr "127.0.0.1:$P_HTTP" -api "$API" -key "$SKEY" -aliases "$WORK/source.aliases" -out "$WORK/source.cookies" | tee "$WORK/source.sessions" >&2
	note source.sessions "$(cat "$WORK/source.sessions") by alias (each a GET <backend>/accounts?alias=… to the source)"
	local surl=http://$slug.portal.localhost:$P_HTTP smetrics=(-metrics "http://127.0.0.1:$P_SRC/metrics")
	((HAS_ADMIN)) && smetrics=(-metrics "http://127.0.0.1:$P_ADMIN/metrics,http://127.0.0.1:$P_SRC/metrics")
	for ((i = 1; i <= RUNS; i++)); do
		log "source mode, run $i of $RUNS: restarting Portico, then cold and warm views"
		stop "$PORTICO_PID"
		start_portico "portico.source$i" "$WORK/data" "$P_ETCD" "$P_PEER" "$P_HTTP" "$P_ADMIN" --webhook-allow-cidr 127.0.0.0/8
		load source-cold/portico "$i" -mix cold -addr "127.0.0.1:$P_HTTP" -url "$surl" -items "$WORK/source.cookies" -cookie-name "$COOKIE_NAME" -warm-items "$COLD_WARM" -d 60s -server-pid "$PORTICO_PID" "${smetrics[@]}"
		load source-warm/portico "$i" -mix pages -addr "127.0.0.1:$P_HTTP" -url "$surl" -items "$WORK/source.cookies" -cookie-name "$COOKIE_NAME" -d "$DUR" -w "$WARM" -server-pid "$PORTICO_PID" "${smetrics[@]}"
	done
	stop "$src_pid"
}
if [[ ${BENCH_ONLY:-} == source ]]; then
	source_rows
	stop "$PORTICO_PID"
	note loadavg.end "$(cut -d' ' -f1-3 /proc/loadavg)"
	note commands "BENCH_ONLY=source bash bench/run.sh   # the source-mode rows only; BENCH_RUNS=$RUNS BENCH_SOURCE_ACCOUNTS=$SOURCE
$(cat "$WORK/commands.txt")"
	"$BIN/loadgen" report -in "$RES" -out "$OUT" -cmd "BENCH_ONLY=source bash bench/run.sh" -go "$("$GO" version)" -elapsed "$(($(date +%s) - T0))"
	log "wrote $OUT (source-mode rows only)"
	exit 0
fi

# BENCH_ONLY=memory skips to the memory rows (the demo Portico is stopped below).
if [[ ${BENCH_ONLY:-} != memory ]]; then
log "starting the limit (staticserver) and net/http + html/template (nethttpserver) on core $SERVER_CPU"
"${PIN_SERVER[@]}" "$BIN/staticserver" -addr "127.0.0.1:$P_STATIC" -body "$WORK/page.html" -headers "$WORK/page.headers" 2>"$WORK/static.err" &
STATIC_PID=$!
PIDS+=("$STATIC_PID")
SID=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
"${PIN_SERVER[@]}" "$BIN/nethttpserver" -addr "127.0.0.1:$P_NET" -account tenants/account/testdata/account.json -session "$SID" 2>"$WORK/net.err" &
NET_PID=$!
PIDS+=("$NET_PID")
wait_for "$WORK/static.err" ready "$STATIC_PID" staticserver
wait_for "$WORK/net.err" ready "$NET_PID" nethttpserver

for ((i = 1; i <= PAGE_RUNS; i++)); do
	log "customer page, run $i of $PAGE_RUNS: limit, net/http, Portico"
	load page/limit "$i" -mix page -addr "127.0.0.1:$P_STATIC" -url "$PORTAL" -cookie "$COOKIE" -d "$DUR" -w "$WARM" -server-pid "$STATIC_PID"
	load page/nethttp "$i" -mix page -addr "127.0.0.1:$P_NET" -url "http://demo.portal.localhost:$P_NET" -cookie "sid=$SID" -d "$DUR" -w "$WARM" -server-pid "$NET_PID"
	load page/portico "$i" -mix page -addr "127.0.0.1:$P_HTTP" -url "$PORTAL" -cookie "$COOKIE" -d "$DUR" -w "$WARM" -server-pid "$PORTICO_PID" "${METRICS[@]}"
done
stop "$STATIC_PID"
stop "$NET_PID"
if want_profile -row page/portico -vs page/limit -min-ratio 0.7 || want_profile -row page/portico -vs page/nethttp -min-ratio 2 || want_profile -row page/portico -max-p99-us 5000; then
	profile page 5 -mix page -addr "127.0.0.1:$P_HTTP" -url "$PORTAL" -cookie "$COOKIE"
fi

TOKENS=$WORK/tokens.txt
: >"$TOKENS"
for ((i = 1; i <= RUNS; i++)); do
	log "session creation, run $i of $RUNS"
	load create/portico "$i" -mix create -addr "127.0.0.1:$P_HTTP" -url "$API" -key "$KEY" -d "$DUR" -w "$WARM" -save-tokens "$TOKENS" -server-pid "$PORTICO_PID" "${METRICS[@]}"
done
if want_profile -row create/portico -min-rps 2000; then
	profile create 5 -mix create -addr "127.0.0.1:$P_HTTP" -url "$API" -key "$KEY"
fi

# Redemption: the links created above, split into one part per run; each part's first tenth is
# the warm-up. Every token is redeemed once; loadgen checks each got 303 and a sample 410 after.
NT=$(wc -l <"$TOKENS")
PER=$((NT / RUNS))
if ((PER < 2000)); then
	log "only $NT links were created; creating more for the redemption runs"
	lg load -c "$CONNS" -mix create -addr "127.0.0.1:$P_HTTP" -url "$API" -key "$KEY" -d 10s -w 0s -save-tokens "$TOKENS" >&2
	NT=$(wc -l <"$TOKENS")
	PER=$((NT / RUNS))
fi
for ((i = 1; i <= RUNS; i++)); do
	log "link redemption, run $i of $RUNS ($PER links)"
	sed -n "$(((i - 1) * PER + 1)),$((i * PER))p" "$TOKENS" >"$WORK/tokens.$i"
	load redeem/portico "$i" -mix redeem -addr "127.0.0.1:$P_HTTP" -url "$PORTAL" -items "$WORK/tokens.$i" -warm-items $((PER / 10)) -d 60s -server-pid "$PORTICO_PID" "${METRICS[@]}"
done
log "redemption race check: 100 links, each redeemed by 4 requests at once"
lg racecheck -addr "127.0.0.1:$P_HTTP" -api "$API" -key "$KEY" -n 100 -k 4 -out "$RES" >&2
if want_profile -row redeem/portico -min-rps 2000; then
	lg load -c "$CONNS" -mix create -addr "127.0.0.1:$P_HTTP" -url "$API" -key "$KEY" -d 8s -w 0s -save-tokens "$WORK/tokens.prof" >/dev/null
	profile redeem 5 -mix redeem -addr "127.0.0.1:$P_HTTP" -url "$PORTAL" -items "$WORK/tokens.prof" -verify-sample 0
fi

# Cold page views: COLD accounts (+ COLD_WARM for the warm-up) PUT through the API, one session
# each; then, per run, Portico restarts (empty caches) and every account's page is viewed once.
log "cold page: $((COLD + COLD_WARM)) accounts through the API, one session each"
lg accounts -addr "127.0.0.1:$P_HTTP" -api "$API" -key "$KEY" -account tenants/account/testdata/account.json -n $((COLD + COLD_WARM)) -prefix cold -out "$WORK/cold.aliases" | tee "$WORK/api.put" >&2
note api.put "$(cat "$WORK/api.put")"
lg sessions -addr "127.0.0.1:$P_HTTP" -api "$API" -key "$KEY" -aliases "$WORK/cold.aliases" -out "$WORK/cold.cookies" >&2
for ((i = 1; i <= RUNS; i++)); do
	log "cold page, run $i of $RUNS: restarting Portico"
	stop "$PORTICO_PID"
	start_portico "portico.cold$i" "$WORK/data" "$P_ETCD" "$P_PEER" "$P_HTTP" "$P_ADMIN"
	load cold/portico "$i" -mix cold -addr "127.0.0.1:$P_HTTP" -url "$PORTAL" -items "$WORK/cold.cookies" -cookie-name "$COOKIE_NAME" -warm-items "$COLD_WARM" -d 60s -server-pid "$PORTICO_PID" "${METRICS[@]}"
done

# Source-mode rows (source_rows, defined after the demo start).
source_rows

# start_nginx: nginx (one process: master_process off, so the process measured is the one that
# serves) pinned like every server, serving the customer page's bytes as a static file over TLS
# with an ECDSA P-256 certificate, as Portico's row; sets NGINX_PID, or notes why not. nginx-light
# is installed when missing and this runs as root with apt-get.
P_NGINX=${PORT[11]}
NGINX_PID=
start_nginx() {
	if ! command -v nginx >/dev/null && [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
		log "installing nginx-light for the HTTPS comparison row"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >"$WORK/nginx.install" 2>&1 || true
	fi
	if ! command -v nginx >/dev/null || ! command -v openssl >/dev/null; then
		note notmeasured.https/nginx "not measured: nginx or openssl is not installed"
		return
	fi
	mkdir -p "$WORK/www" "$WORK/nginx-tmp"
	cp "$WORK/page.html" "$WORK/www/index.html"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=demo.portal.localhost \
		-addext subjectAltName=DNS:demo.portal.localhost -keyout "$WORK/nginx.key" -out "$WORK/nginx.crt" 2>/dev/null
	cat >"$WORK/nginx.conf" <<NGINX
daemon off;
master_process off;
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx.err warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $WORK/nginx-tmp; proxy_temp_path $WORK/nginx-tmp; fastcgi_temp_path $WORK/nginx-tmp;
	uwsgi_temp_path $WORK/nginx-tmp; scgi_temp_path $WORK/nginx-tmp;
	keepalive_requests 100000000;
	keepalive_timeout 90s;
	server {
		listen 127.0.0.1:$P_NGINX ssl;
		server_name demo.portal.localhost;
		ssl_certificate $WORK/nginx.crt;
		ssl_certificate_key $WORK/nginx.key;
		root $WORK/www;
		location / { default_type "text/html; charset=utf-8"; }
	}
}
NGINX
	"${PIN_SERVER[@]}" nginx -e "$WORK/nginx.err" -c "$WORK/nginx.conf" &
	NGINX_PID=$!
	PIDS+=("$NGINX_PID")
	local i
	for ((i = 0; i < 100; i++)); do
		lg load -c 1 -mix https -addr "127.0.0.1:$P_NGINX" -url "https://demo.portal.localhost:$P_NGINX" -ca "$WORK/nginx.crt" -cookie "$COOKIE" -d 200ms -w 0s >"$WORK/nginx.probe" 2>&1 &&
			grep -q ' 0 errors' "$WORK/nginx.probe" && break
		sleep 0.1
	done
	if ((i == 100)); then
		note notmeasured.https/nginx "not measured: nginx did not answer: $(tr '\n' ' ' <"$WORK/nginx.err" | cut -c1-300)"
		stop "$NGINX_PID"
		NGINX_PID=
		return
	fi
	note nginx.version "$(nginx -v 2>&1 | sed 's/^nginx version: //')"
}

# HTTPS rows: Portico restarted with --https-addr and on-demand TLS from a local ACME CA (Pebble,
# bench/cmd/testca); the first handshake obtains the certificate, then page views over kept-alive
# connections, and full handshakes (a new connection and no session resumption per request).
if ((HAS_HTTPS)); then
	log "HTTPS: a local ACME CA (Pebble) and Portico with --https-addr"
	stop "$PORTICO_PID"
	"${PIN_LOAD[@]}" "$BIN/testca" -http-port "$P_HTTP" -tls-port "$P_HTTPS" -hosts demo.portal.localhost -dir "$WORK" 2>"$WORK/testca.err" &
	CA_PID=$!
	PIDS+=("$CA_PID")
	wait_for "$WORK/testca.err" 'testca ready' "$CA_PID" testca
	start_portico portico.https "$WORK/data" "$P_ETCD" "$P_PEER" "$P_HTTP" "$P_ADMIN" \
		--https-addr "127.0.0.1:$P_HTTPS" --acme-ca "$(cat "$WORK/directory.url")" --acme-ca-root "$WORK/directory-ca.pem"
	TLSURL=https://demo.portal.localhost:$P_HTTPS
	TLSARGS=(-addr "127.0.0.1:$P_HTTPS" -url "$TLSURL" -ca "$WORK/issuer-root.pem" -cookie "$COOKIE")
	start_nginx
	if lg load -c 1 -mix https "${TLSARGS[@]}" -timeout 120s -d 1s -w 0s >"$WORK/https.probe" 2>&1 && grep -q ' 0 errors' "$WORK/https.probe"; then
		for ((i = 1; i <= RUNS; i++)); do
			log "HTTPS page and TLS handshakes, run $i of $RUNS"
			load https/portico "$i" -mix https "${TLSARGS[@]}" -d "$DUR" -w "$WARM" -server-pid "$PORTICO_PID"
			if [[ -n $NGINX_PID ]]; then
				load https/nginx "$i" -mix https -addr "127.0.0.1:$P_NGINX" -url "https://demo.portal.localhost:$P_NGINX" -ca "$WORK/nginx.crt" -cookie "$COOKIE" -d "$DUR" -w "$WARM" -server-pid "$NGINX_PID"
			fi
			# The client skips verifying the chain here (the row above verified it): two ECDSA
			# verifications per handshake would make the load generator the bottleneck.
			load handshakes/portico "$i" -mix handshakes -addr "127.0.0.1:$P_HTTPS" -url "$TLSURL" -insecure -cookie "$COOKIE" -d "$DUR" -w "$WARM" -server-pid "$PORTICO_PID"
		done
	else
		why="not measured: the first HTTPS request (certificate issuance) failed: $(tr '\n' ' ' <"$WORK/https.probe" | cut -c1-300)"
		log "$why"
		note notmeasured.https/portico "$why"
		note notmeasured.handshakes/portico "$why"
	fi
	stop "$CA_PID"
	[[ -n $NGINX_PID ]] && stop "$NGINX_PID"
else
	note notmeasured.https/portico "not measured: no --https-addr yet"
	note notmeasured.handshakes/portico "not measured: no --https-addr yet"
fi
fi # BENCH_ONLY != memory
stop "$PORTICO_PID"

# Memory: a fresh Portico; tenants, keys and accounts seeded straight into its etcd with package
# tenants (the API has no bulk path and creates no tenants), then every account read once through
# GET /v1/accounts/{id}, which loads it into the account cache. Two runs: Portico with its embedded
# etcd and default settings, and (when an etcd server is installed or installable: Debian's
# etcd-server) Portico alone against an external etcd with --memory-limit-mb $MEM_LIMIT_MB, the
# setup the RSS target is set for. The external etcd runs on the load core.
# `make bench` must finish within 15 minutes: a memory run takes about 190 s at full size on this
# machine (seeding ~700 accounts/s of the 9.4 KB example, warming ~3,000/s, slower under foreign load); if less time is
# left, each run measures a proportionally smaller size and the report extrapolates, saying so.
MEM_LIMIT_MB=${BENCH_MEMORY_LIMIT_MB:-250}
MEM_DOC=${BENCH_MEMORY_DOC:-tenants/account/testdata/account.json}
note scale.doc "$MEM_DOC"
if ! command -v etcd >/dev/null && [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
	log "installing etcd-server for the external-etcd memory run"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server >"$WORK/etcd.install" 2>&1 || true
fi
MEM_RUNS=1
command -v etcd >/dev/null && MEM_RUNS=2
LEFT=$((BUDGET - ($(date +%s) - T0) - 40))
FULL=$(((TENANTS / 200 + ACCOUNTS / 600 + 15) * MEM_RUNS))
if ((LEFT < FULL)); then
	f=$((LEFT > 20 ? LEFT : 20))
	TENANTS=$((TENANTS * f / FULL)) ACCOUNTS=$((ACCOUNTS * f / FULL))
	log "memory: $LEFT s left of the budget; measuring a smaller size, extrapolated in the report"
fi

# mem_run STAGE ETCD_URL [PORTICO ARGS...]: one memory run against the etcd at ETCD_URL (Portico's
# embedded one when the args start it), its notes prefixed by STAGE ("" or "x.").
mem_run() {
	local stage=$1 etcd=$2
	shift 2
	log "memory ${stage:-embedded }run: $TENANTS tenants and $ACCOUNTS accounts"
	start_portico "portico.mem${stage%.}" "$WORK/mem${stage%.}" "${PORT[7]}" "${PORT[8]}" "${PORT[9]}" "${PORT[10]}" "$@"
	MEM_PID=$PORTICO_PID
	MEM_METRICS=()
	((HAS_ADMIN)) && MEM_METRICS=(-metrics "http://127.0.0.1:${PORT[10]}/metrics")
	sleep 1
	"$BIN/loadgen" rss -pid "$MEM_PID" -stage "${stage}empty" -out "$RES" "${MEM_METRICS[@]}" >&2
	note "scale.${stage}size.tenants" "$TENANTS"
	note "scale.${stage}size.accounts" "$ACCOUNTS"
	local results=(-results "$RES")
	[[ -n $stage ]] && results=() # the seeding and warming rates are the embedded run's
	lg scale -etcd "$etcd" -tenants "$TENANTS" -accounts "$ACCOUNTS" -account "$MEM_DOC" -out "$WORK/scale.txt" "${results[@]}" >&2
	"$BIN/loadgen" rss -pid "$MEM_PID" -stage "${stage}seeded" -out "$RES" "${MEM_METRICS[@]}" >&2
	lg warm -addr "127.0.0.1:${PORT[9]}" -api "http://api.portal.localhost:${PORT[9]}" -in "$WORK/scale.txt" "${results[@]}" >&2
	"$BIN/loadgen" rss -pid "$MEM_PID" -stage "${stage}warm" -out "$RES" "${MEM_METRICS[@]}" >&2
	lg warm -addr "127.0.0.1:${PORT[9]}" -api "http://api.portal.localhost:${PORT[9]}" -in "$WORK/scale.txt" -every 20 -name "scale.${stage}recheck" -results "$RES" >&2
	"$BIN/loadgen" rss -pid "$MEM_PID" -stage "${stage}recheck" -out "$RES" "${MEM_METRICS[@]}" >&2
	if [[ -z $stage ]] && ((HAS_ADMIN)) && curl -sf -o "$WORK/heap.prof" "http://127.0.0.1:${PORT[10]}/debug/pprof/heap"; then
		note profile.memory "$("$GO" tool pprof -top -sample_index=inuse_space -nodecount=200 "$BIN/portico" "$WORK/heap.prof" 2>/dev/null)"
	fi
	# etcd's size per account, after the RSS is read (defragmenting rewrites the memory-mapped
	# file): the history of the seeding writes compacted away and the freed pages returned.
	lg etcdsize -etcd "$etcd" -accounts "$ACCOUNTS" -key "scale.${stage}etcd" -results "$RES" >&2
	stop "$MEM_PID"
}
mem_run "" "http://127.0.0.1:${PORT[7]}"
if ((MEM_RUNS == 2)); then
	P_XETCD=${PORT[12]} P_XPEER=${PORT[13]}
	"${PIN_LOAD[@]}" etcd --name bench --data-dir "$WORK/xetcd" --quota-backend-bytes $((8 << 30)) \
		--listen-client-urls "http://127.0.0.1:$P_XETCD" --advertise-client-urls "http://127.0.0.1:$P_XETCD" \
		--listen-peer-urls "http://127.0.0.1:$P_XPEER" --initial-advertise-peer-urls "http://127.0.0.1:$P_XPEER" \
		--initial-cluster "bench=http://127.0.0.1:$P_XPEER" >"$WORK/xetcd.log" 2>&1 &
	XETCD_PID=$!
	PIDS+=("$XETCD_PID")
	for ((i = 0; i < 100; i++)); do grep -q 'ready to serve client requests' "$WORK/xetcd.log" && break; sleep 0.1; done
	note scale.x.memlimit "$MEM_LIMIT_MB"
	note etcd.version "$(etcd --version 2>/dev/null | head -1)"
	mem_run x. "http://127.0.0.1:$P_XETCD" --etcd-endpoints "http://127.0.0.1:$P_XETCD" --memory-limit-mb "$MEM_LIMIT_MB"
	stop "$XETCD_PID"
else
	note notmeasured.memory.external "not measured: no etcd server installed (Debian: etcd-server)"
fi

if [[ ${BENCH_ONLY:-} == memory ]]; then
	: >"$WORK/micro.txt"
else
	log "Go micro-benchmarks"
	"$GO" test -run '^$' -bench 'CustomerPage|Open' -benchmem ./gateway/ ./gateway/session/ 2>&1 | tee "$WORK/micro.txt" >&2 ||
		log "the micro-benchmarks failed; their output is in the report"
fi

note loadavg.end "$(cut -d' ' -f1-3 /proc/loadavg)"
((${#LIMITS[@]})) && note settings.limits "Portico's abuse limits were off (${LIMITS[*]}): all load comes from one client IP and one API key"
note commands "bash bench/run.sh   # = make bench; BENCH_RUNS=$RUNS BENCH_PAGE_RUNS=$PAGE_RUNS BENCH_CONNS=$CONNS BENCH_DURATION=$DUR BENCH_WARMUP=$WARM BENCH_TENANTS=$TENANTS BENCH_ACCOUNTS=$ACCOUNTS BENCH_COLD_ACCOUNTS=$COLD
# servers (core $SERVER_CPU):
taskset -c $SERVER_CPU env GOMAXPROCS=1 portico --json serve --dev --demo --data-dir \$WORK/data --etcd-listen 127.0.0.1:\$P_ETCD --etcd-peer-listen 127.0.0.1:\$P_PEER --http-addr 127.0.0.1:\$P_HTTP --admin-addr 127.0.0.1:\$P_ADMIN --shutdown-timeout 2s ${LIMITS[*]}
taskset -c $SERVER_CPU env GOMAXPROCS=1 staticserver -addr 127.0.0.1:\$P_STATIC -body page.html -headers page.headers
taskset -c $SERVER_CPU env GOMAXPROCS=1 nethttpserver -addr 127.0.0.1:\$P_NET -account tenants/account/testdata/account.json -session \$SID
# HTTPS rows: testca (Pebble) and Portico restarted with --https-addr 127.0.0.1:\$P_HTTPS --acme-ca \$(cat directory.url) --acme-ca-root directory-ca.pem
# load (core $LOAD_CPU):
$(cat "$WORK/commands.txt")
taskset -c $LOAD_CPU loadgen scale -etcd http://127.0.0.1:\$P_ETCD -tenants $TENANTS -accounts $ACCOUNTS -account $MEM_DOC -out scale.txt
taskset -c $LOAD_CPU loadgen warm -addr 127.0.0.1:\$P_HTTP -api http://api.portal.localhost:\$P_HTTP -in scale.txt
taskset -c $LOAD_CPU loadgen etcdsize -etcd http://127.0.0.1:\$P_ETCD -accounts $ACCOUNTS"
ELAPSED=$(($(date +%s) - T0))
CMD="make bench"
[[ ${BENCH_ONLY:-} == memory ]] && CMD="BENCH_ONLY=memory BENCH_MEMORY_DOC=$MEM_DOC bash bench/run.sh"
"$BIN/loadgen" report -in "$RES" -micro "$WORK/micro.txt" -out "$OUT" -cmd "$CMD" -go "$("$GO" version)" -elapsed "$ELAPSED"
log "wrote $OUT in ${ELAPSED}s"
