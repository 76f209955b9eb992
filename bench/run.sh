#!/usr/bin/env bash
# bench/run.sh: kumo's hot paths measured side by side with nginx, Varnish and
# HAProxy on this machine (issue 6), printed as one table.
#
#   bench/run.sh [--duration SECONDS] [--quick] [--runs N] [--pprof FILE] [--keep]
#
#   --duration N  seconds per measured run (default 10)
#   --quick       3 seconds per run
#   --runs N      measure each system N times and report the run with the
#                 median req/s (the lower middle one for an even N; default
#                 1); the systems of a scenario take turns run by run, so a
#                 drift of the machine's speed affects them alike
#   --pprof FILE  after the table, take a CPU profile of kumo (admin endpoint,
#                 kumo up --pprof) during one more 1 KiB hit run, save it to
#                 FILE and print `go tool pprof -top`
#   --keep        keep the work directory (configs, logs, raw tool output)
#
# Everything listens on 127.0.0.1, on fixed high ports (bench/kumo-bench.yaml
# holds kumo's): origins 18081 and 18082 (bench/origin; a third one on 18083,
# on the server CPU, is the plain net/http baseline), kumo viewer
# 18080/18443 and ALB 18090 (18091 with its access log on), nginx cache 18180
# (HTTP) / 18543 (TLS 1.3, h2),
# nginx pass-through 18181, nginx cache without access log 18182 and with
# CloudFront-shaped log lines 18183, Varnish 18280, HAProxy 18380 (18381
# adding the ALB's request headers).
#
# Before the first measurement every server gets 5 s of unmeasured load on
# its 1 KiB hit (so does each fresh kumo of the logging scenario).
#
# The server under test is pinned to CPU 0 (taskset -c 0; Go sees one CPU, so
# GOMAXPROCS=1; nginx runs one worker, HAProxy one thread). The load generator
# and the origins are pinned to CPU 1. Every server runs for the whole
# benchmark, idle while another one is measured. "CPU s/1k req" is the
# server's utime+stime (/proc/<pid>/stat, its child processes included) over
# the run, per 1,000 completed requests. "idle % server/load CPU" is how much
# of the run CPU 0 and CPU 1 were idle (/proc/stat): the CPU that is never
# idle is the one that sets the pace, and a server that leaves CPU 0 idle is
# waiting on the load generator and the origins on CPU 1.
#
# Scenarios (wrk -t1 -c64 unless noted; h2load for HTTP/2):
#   hit 1 KiB / 100 KiB    HTTP/1.1 keep-alive cache hit: kumo, nginx, Varnish,
#                          and bench/origin itself (a lean net/http server
#                          writing ready bytes: what net/http alone reaches)
#   hit 1 KiB HTTPS        TLS 1.3, keep-alive: kumo, nginx
#   hit 1 KiB h2           h2load -c64 -m10 over TLS 1.3: kumo, nginx
#   new TLS conns          Connection: close on every request, full TLS 1.3
#                          handshake each time: kumo, nginx
#   miss edge+ALB          /nc/ (CachingDisabled) through kumo's edge and ALB
#                          to both origins, vs nginx pass-through (one hop)
#   ALB alone              kumo's ALB listener vs HAProxy round robin, both
#                          without an access log (AWS's default for the ALB;
#                          HAProxy's config logs nothing); HAProxy adding the
#                          four request headers an ALB adds; and the ALB with
#                          its access log on (second load balancer, 18091)
#   logging                kumo 1 KiB hit with access logs vs kumo up
#                          --no-access-logs: two fresh kumos side by side
#                          (the second on 18084/18444, its stack's listeners
#                          on free ports), at least 5 runs each, alternating;
#                          and the same for nginx (its cache with CloudFront-
#                          shaped lines, its combined lines, no access log)
#   memory                 RSS growth of kumo and Varnish after caching
#                          100,000 distinct 1 KiB objects (nginx caches on
#                          disk: its cache directory size is shown instead)
# The ratio column is the scenario's first row (kumo) divided by that row:
# >1 means kumo does more requests per second (for memory: uses more memory).
#
# Missing tools are installed with apt-get (as root or through sudo), with
# policy-rc.d set so that installing them starts no system service. A trap
# stops every process the script started.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
export PATH=$PATH:/usr/sbin:/sbin

duration=10
runs=1
keep=0
pprof_out=""
while (($#)); do
  case $1 in
    --duration) duration=${2:?--duration needs seconds}; shift ;;
    --duration=*) duration=${1#*=} ;;
    --quick) duration=3 ;;
    --runs) runs=${2:?--runs needs a count}; shift ;;
    --runs=*) runs=${1#*=} ;;
    --pprof) pprof_out=${2:?--pprof needs a file}; shift ;;
    --pprof=*) pprof_out=${1#*=} ;;
    --keep) keep=1 ;;
    -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ $duration =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --duration must be a whole number of seconds" >&2; exit 2; }
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --runs must be a whole number" >&2; exit 2; }
[ -z "$pprof_out" ] || pprof_out=$(realpath -m "$pprof_out")

# Fixed ports (kumo's are in bench/kumo-bench.yaml).
ORIGIN1=18081 ORIGIN2=18082 BASELINE=18083
KUMO_HTTP=18080 KUMO_HTTPS=18443 KUMO_ALB=18090 KUMO_ALB_LOGGED=18091
KUMO_NOLOG_HTTP=18084 KUMO_NOLOG_HTTPS=18444
NGINX_CACHE=18180 NGINX_TLS=18543 NGINX_PASS=18181 NGINX_NOLOG=18182 NGINX_CFLOG=18183
VARNISH=18280 HAPROXY=18380 HAPROXY_HDR=18381
CONNS=64
FILL_OBJECTS=100000

log() { echo "run.sh: $*" >&2; }
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kumo-bench.XXXXXX")
chmod 755 "$WORK"
declare -A PID=()

stop() { # stop NAME: TERM the process started as NAME and wait for it
  local p=${PID[$1]:-}
  [ -n "$p" ] || return 0
  kill -TERM "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  unset "PID[$1]"
}

cleanup() {
  local status=$?
  for name in "${!PID[@]}"; do kill -TERM "${PID[$name]}" 2>/dev/null || true; done
  for name in "${!PID[@]}"; do wait "${PID[$name]}" 2>/dev/null || true; done
  if ((keep)); then log "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- tools ---------------------------------------------------------------------
install_tools() {
  declare -A pkg=([nginx]=nginx [varnishd]=varnish [haproxy]=haproxy [wrk]=wrk [h2load]=nghttp2-client
    [jq]=jq [taskset]=util-linux [openssl]=openssl [curl]=curl)
  local missing=() t
  command -v go >/dev/null || { log "go is required (not from apt)"; exit 1; }
  for t in "${!pkg[@]}"; do command -v "$t" >/dev/null 2>&1 || missing+=("${pkg[$t]}"); done
  apt_install "${missing[@]}"
}

# --- processes -----------------------------------------------------------------
# start NAME CPU CMD...: run CMD pinned to CPU in the background as NAME.
start() {
  local name=$1 cpu=$2
  shift 2
  taskset -c "$cpu" "$@" >>"$WORK/$name.out" 2>&1 &
  PID[$name]=$!
}

# wait_port PORT NAME: poll until 127.0.0.1:PORT accepts, with a deadline.
wait_port() {
  local port=$1 name=$2 deadline=$((SECONDS + 30))
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    kill -0 "${PID[$name]}" 2>/dev/null || { log "$name exited: $(tail -5 "$WORK/$name.out")"; exit 1; }
    ((SECONDS < deadline)) || { log "$name did not listen on $port"; exit 1; }
    sleep 0.1
  done
}

# port_free PORT: fail when something already listens there.
port_free() {
  if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
    log "127.0.0.1:$1 is in use; stop what listens there first"
    exit 1
  fi
}

build() {
  log "building kumo and the origin"
  (cd "$ROOT" && go build -o "$WORK/kumo" ./cmd/kumo && go build -o "$WORK/origin" ./bench/origin)
}

start_origins() {
  start origin1 1 "$WORK/origin" -listen "127.0.0.1:$ORIGIN1"
  start origin2 1 "$WORK/origin" -listen "127.0.0.1:$ORIGIN2"
  wait_port "$ORIGIN1" origin1
  wait_port "$ORIGIN2" origin2
  # The baseline: the same lean net/http server, on the server CPU.
  start baseline 0 "$WORK/origin" -listen "127.0.0.1:$BASELINE"
  wait_port "$BASELINE" baseline
}

# start_kumo_as NAME HTTP HTTPS [FLAG...]: a fresh kumo started as NAME (empty
# cache, new state directory $KUMO_STATE) with its viewer listeners on the
# given ports; it returns once they accept.
KUMO_RUN=0
start_kumo_as() {
  local name=$1 http=$2 https=$3
  shift 3
  KUMO_RUN=$((KUMO_RUN + 1))
  KUMO_STATE=$WORK/kumo-state-$KUMO_RUN
  start "$name" 0 "$WORK/kumo" --state-dir "$KUMO_STATE" --log-level warn up -f "$ROOT/bench/kumo-bench.yaml" \
    --http "127.0.0.1:$http" --https "127.0.0.1:$https" --http3 off --cache-size 1GiB --pprof "$@"
  local deadline=$((SECONDS + 60))
  until [ -s "$KUMO_STATE/endpoints.json" ] && jq -e .admin "$KUMO_STATE/endpoints.json" >/dev/null 2>&1; do
    kill -0 "${PID[$name]}" 2>/dev/null || { log "$name exited: $(tail -20 "$WORK/$name.out")"; exit 1; }
    ((SECONDS < deadline)) || { log "$name did not write endpoints.json"; exit 1; }
    sleep 0.1
  done
  wait_port "$http" "$name"
}

# start_kumo [FLAG...]: the fresh kumo the scenarios measure, on the fixed
# ports of bench/kumo-bench.yaml.
start_kumo() {
  start_kumo_as kumo "$KUMO_HTTP" "$KUMO_HTTPS" "$@"
  wait_port "$KUMO_ALB" kumo
  wait_port "$KUMO_ALB_LOGGED" kumo
}

start_nginx() {
  local d=$WORK/nginx
  mkdir -p "$d/cache"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
    -keyout "$d/key.pem" -out "$d/cert.pem" 2>/dev/null
  if [ "$(id -u)" = 0 ]; then chown -R nobody "$d/cache"; fi
  # The cache's location, the same in the three servers that share the cache.
  local cached='location / {
      proxy_pass http://origin1;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache bench;
      add_header X-Cache-Status $upstream_cache_status;
    }'
  # Access log on with a 64 KiB buffer: kumo writes its access logs too.
  cat >"$d/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 4096; }
http {
  # nginx's own combined log on the measured server; a line shaped like
  # CloudFront's (tab-separated, about as long as kumo's) on a second one,
  # for the access-log scenario; both buffered as kumo buffers its own.
  log_format cloudfront '\$time_iso8601\t\$server_addr\t\$bytes_sent\t\$remote_addr\t\$request_method\t\$host\t\$uri\t\$status\t\$http_referer\t\$http_user_agent\t\$args\t\$http_cookie\t\$upstream_cache_status\t\$request_id\$request_id\t\$http_host\t\$scheme\t\$request_length\t\$request_time\t\$http_x_forwarded_for\t\$ssl_protocol\t\$ssl_cipher\t\$upstream_cache_status\t\$server_protocol\t-\t-\t\$remote_port\t\$upstream_response_time\t\$upstream_cache_status\t\$sent_http_content_type\t\$sent_http_content_length\t-\t-';
  access_log $d/access.log combined buffer=64k flush=1s;
  client_body_temp_path $d/client_body;
  proxy_temp_path $d/proxy_temp;
  fastcgi_temp_path $d/fastcgi_temp;
  uwsgi_temp_path $d/uwsgi_temp;
  scgi_temp_path $d/scgi_temp;
  keepalive_requests 1000000;
  proxy_cache_path $d/cache levels=1:2 keys_zone=bench:64m max_size=2g inactive=1d use_temp_path=off;
  upstream origin1 { server 127.0.0.1:$ORIGIN1; keepalive 64; }
  upstream origins { server 127.0.0.1:$ORIGIN1; server 127.0.0.1:$ORIGIN2; keepalive 64; }
  server {
    listen 127.0.0.1:$NGINX_CACHE;
    listen 127.0.0.1:$NGINX_TLS ssl http2;
    ssl_certificate $d/cert.pem;
    ssl_certificate_key $d/key.pem;
    ssl_protocols TLSv1.3;
    $cached
  }
  # The same cache without an access log, and with CloudFront-shaped
  # lines: what nginx's log costs.
  server {
    listen 127.0.0.1:$NGINX_NOLOG;
    access_log off;
    $cached
  }
  server {
    listen 127.0.0.1:$NGINX_CFLOG;
    access_log $d/access-cloudfront.log cloudfront buffer=64k flush=1s;
    $cached
  }
  server {
    listen 127.0.0.1:$NGINX_PASS;
    location / {
      proxy_pass http://origins;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
EOF
  start nginx 0 nginx -p "$d" -c "$d/nginx.conf"
  wait_port "$NGINX_CACHE" nginx
}

start_varnish() {
  local d=$WORK/varnish
  mkdir -p "$d"
  start varnish 0 varnishd -F -j none -n "$d/work" -a "127.0.0.1:$VARNISH" -b "127.0.0.1:$ORIGIN1" \
    -T 127.0.0.1:0 -s malloc,1G
  wait_port "$VARNISH" varnish
}

start_haproxy() {
  local d=$WORK/haproxy
  mkdir -p "$d"
  cat >"$d/haproxy.cfg" <<EOF
global
  nbthread 1
  h1-case-adjust x-forwarded-for X-Forwarded-For
  h1-case-adjust x-forwarded-proto X-Forwarded-Proto
  h1-case-adjust x-forwarded-port X-Forwarded-Port
  h1-case-adjust x-amzn-trace-id X-Amzn-Trace-Id
defaults
  mode http
  option http-keep-alive
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend bench
  bind 127.0.0.1:$HAPROXY
  default_backend origins
backend origins
  balance roundrobin
  http-reuse always
  server origin1 127.0.0.1:$ORIGIN1
  server origin2 127.0.0.1:$ORIGIN2
# The same, adding the four request headers an ALB always adds (alb.md
# §4.1), their names in the ALB's case (HAProxy lowercases header names).
frontend bench-alb-headers
  bind 127.0.0.1:$HAPROXY_HDR
  option forwardfor
  http-request set-header X-Forwarded-Proto http
  http-request set-header X-Forwarded-Port $HAPROXY_HDR
  http-request set-header X-Amzn-Trace-Id "Root=1-%[date,hex,bytes(8)]-%[rand,hex,bytes(8)]%[rand,hex,bytes(8)]%[rand,hex,bytes(8)]"
  default_backend origins-alb-headers
backend origins-alb-headers
  option h1-case-adjust-bogus-server
  balance roundrobin
  http-reuse always
  server origin1 127.0.0.1:$ORIGIN1
  server origin2 127.0.0.1:$ORIGIN2
EOF
  start haproxy 0 haproxy -db -f "$d/haproxy.cfg"
  wait_port "$HAPROXY" haproxy
  wait_port "$HAPROXY_HDR" haproxy
}

# --- measuring -----------------------------------------------------------------
# tree PID: PID and all its descendants.
tree() {
  local p=$1 c
  echo "$p"
  for c in $(pgrep -P "$p" 2>/dev/null); do tree "$c"; done
}

# cpu_ticks NAME: utime+stime of the process tree started as NAME.
cpu_ticks() {
  local total=0 p t
  for p in $(tree "${PID[$1]}"); do
    t=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}') || t=0
    total=$((total + ${t:-0}))
  done
  echo "$total"
}

# rss_kib NAME: resident memory of the process tree started as NAME.
rss_kib() {
  local total=0 p r
  for p in $(tree "${PID[$1]}"); do
    r=$(awk '/^VmRSS:/{print $2}' "/proc/$p/status" 2>/dev/null) || r=0
    total=$((total + ${r:-0}))
  done
  echo "$total"
}

CLK_TCK=$(getconf CLK_TCK)
ROWS=$WORK/rows.tsv
: >"$ROWS"

# row SCENARIO SYSTEM RPS P50 P99 CPU NOTE [IDLE]
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7" "${8:--}" >>"$ROWS"; }

# to_ms VALUE: wrk's latency (123.45us, 1.23ms, 1.02s, 2.00m) in ms.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
    printf "%.2f", n }'
}

# cpu_per_1k TICKS REQUESTS
cpu_per_1k() { awk -v t="$1" -v n="$2" -v hz="$CLK_TCK" 'BEGIN { if (n > 0) printf "%.4f", t / hz / n * 1000; else print "-" }'; }

# core_times: "IDLE0 TOTAL0 IDLE1 TOTAL1", CPU 0's and CPU 1's idle and total
# time so far (/proc/stat: idle includes iowait; total is user to steal).
core_times() {
  awk '$1 == "cpu0" || $1 == "cpu1" {
    t = 0; for (i = 2; i <= 9; i++) t += $i
    printf "%d %d ", $5 + $6, t }' /proc/stat
}

# idle_share BEFORE AFTER: "S/L", the per cent of the run the server CPU (0)
# and the load CPU (1) were idle. The side that is not idle is the limit: a
# server that leaves its CPU idle is waiting on the load CPU (wrk, h2load and
# the origins), and the other way round.
idle_share() {
  awk -v a="$1" -v b="$2" 'BEGIN {
    split(a, x, " "); split(b, y, " ")
    s = y[2] - x[2]; l = y[4] - x[4]
    si = 0; if (s > 0) si = 100 * (y[1] - x[1]) / s
    li = 0; if (l > 0) li = 100 * (y[3] - x[3]) / l
    printf "%.1f/%.1f", si, li }'
}

# median FILE: of the result lines in FILE (req/s first), the one with the
# median req/s.
median() { sort -n -k1,1 "$1" | awk '{ l[NR] = $0 } END { if (NR) print l[int((NR + 1) / 2)] }'; }

# wrk_base SCENARIO SYSTEM: the file name prefix of one row's wrk runs.
wrk_base() { echo "$WORK/wrk-$(echo "$1-$2" | tr -c 'A-Za-z0-9\n' _)"; }

# wrk_once SCENARIO SYSTEM SERVER URL RUN [WRK ARGS...]: one wrk run,
# appended to the row's results.
wrk_once() {
  local scenario=$1 system=$2 server=$3 url=$4 i=$5
  shift 5
  local base out before after cores0 cores1 rps reqs p50 p99 errs sockerr
  base=$(wrk_base "$scenario" "$system")
  out=$base.$i.txt
  before=$(cpu_ticks "$server")
  cores0=$(core_times)
  taskset -c 1 wrk -t1 -c"$CONNS" -d"${duration}s" --latency "$@" "$url" >"$out" 2>&1 || true
  cores1=$(core_times)
  after=$(cpu_ticks "$server")
  rps=$(awk '/^Requests\/sec:/{printf "%.0f", $2}' "$out")
  if [ -z "$rps" ]; then
    log "$scenario / $system: wrk failed: $(tail -3 "$out")"
    return
  fi
  reqs=$(awk '/requests in/{print $1; exit}' "$out")
  p50=$(awk '$1 == "50%" {print $2}' "$out")
  p99=$(awk '$1 == "99%" {print $2}' "$out")
  errs=$(awk '/Non-2xx or 3xx responses:/{print $NF}' "$out")
  sockerr=$(awk '/Socket errors/{sub(/^ *Socket errors: */, ""); gsub(/ /, "_"); print}' "$out")
  echo "$rps $(to_ms "$p50") $(to_ms "$p99") $(cpu_per_1k $((after - before)) "$reqs") ${errs:-0} ${sockerr:--} $(idle_share "$cores0" "$cores1")" >>"$base.results"
}

# wrk_row SCENARIO SYSTEM: the row of the run with the median req/s.
wrk_row() {
  local scenario=$1 system=$2 results m
  results=$(wrk_base "$scenario" "$system").results
  m=$(median "$results")
  if [ -z "$m" ]; then
    row "$scenario" "$system" - - - - "wrk failed" -
    return
  fi
  set -- $m
  local note=""
  ((runs == 1)) || note="median of $runs runs ($(sort -n -k1,1 "$results" | awk '{printf "%s%s", (NR > 1 ? ", " : ""), $1}') req/s)"
  [ "$5" = 0 ] || note="$note; $5 non-2xx!"
  [ "$6" = - ] || note="$note; socket errors: ${6//_/ }"
  row "$scenario" "$system" "$1" "$2" "$3" "$4" "$note" "${7:--}"
  log "$scenario / $system: $1 req/s"
}

# measure_wrk SCENARIO SPEC...: $runs runs of wrk against each system of
# the scenario, interleaved (run 1 of every system, then run 2, ...), so
# that a slow drift of the machine affects all systems alike; each row is
# its system's run with the median req/s. A SPEC is
# "SYSTEM|SERVER|URL[|HEADER]", HEADER an extra request header for wrk -H.
measure_wrk() {
  local scenario=$1 spec i system server url header
  shift
  for spec in "$@"; do
    IFS='|' read -r system server url header <<<"$spec"
    : >"$(wrk_base "$scenario" "$system").results"
  done
  for ((i = 1; i <= runs; i++)); do
    for spec in "$@"; do
      IFS='|' read -r system server url header <<<"$spec"
      if [ -n "$header" ]; then
        wrk_once "$scenario" "$system" "$server" "$url" "$i" -H "$header"
      else
        wrk_once "$scenario" "$system" "$server" "$url" "$i"
      fi
    done
  done
  for spec in "$@"; do
    IFS='|' read -r system server url header <<<"$spec"
    wrk_row "$scenario" "$system"
  done
}

# measure_h2 SCENARIO SYSTEM SERVER URL: $runs runs of h2load (-m10: ten
# streams per connection); the row is the run with the median req/s.
measure_h2() {
  local scenario=$1 system=$2 server=$3 url=$4
  local base=$WORK/h2load-$(echo "$scenario-$system" | tr -c 'A-Za-z0-9\n' _)
  local results=$base.results i out before after cores0 cores1 rps reqs mean failed
  : >"$results"
  for ((i = 1; i <= runs; i++)); do
    out=$base.$i.txt
    before=$(cpu_ticks "$server")
    cores0=$(core_times)
    taskset -c 1 h2load -t1 -c"$CONNS" -m10 -D "$duration" "$url" >"$out" 2>&1 || true
    cores1=$(core_times)
    after=$(cpu_ticks "$server")
    rps=$(awk '/^finished in/{gsub(/,/, ""); printf "%.0f", $4}' "$out")
    reqs=$(awk '/^requests:/{print $8}' "$out") # "requests: N total, N started, N done, N succeeded, N failed, ..."
    if [ -z "$rps" ] || [ -z "$reqs" ]; then
      log "$scenario / $system: h2load failed: $(tail -3 "$out")"
      continue
    fi
    mean=$(awk '/^time for request:/{print $6}' "$out")
    failed=$(awk '/^requests:/{print $10}' "$out")
    echo "$rps $(to_ms "$mean") $(cpu_per_1k $((after - before)) "$reqs") ${failed:-0} $(idle_share "$cores0" "$cores1")" >>"$results"
  done
  local m
  m=$(median "$results")
  if [ -z "$m" ]; then
    row "$scenario" "$system" - - - - "h2load failed" -
    return
  fi
  set -- $m
  local note="h2load -m10 gives no percentiles: mean $2 ms"
  ((runs == 1)) || note="$note; median of $runs runs ($(sort -n -k1,1 "$results" | awk '{printf "%s%s", (NR > 1 ? ", " : ""), $1}') req/s)"
  [ "$4" = 0 ] || note="$note; $4 failed!"
  row "$scenario" "$system" "$1" - - "$3" "$note" "${5:--}"
  log "$scenario / $system: $1 req/s"
}

# warm URL: fetch URL until the response says it came from the cache
# (kumo: X-Cache: Hit; nginx: X-Cache-Status: HIT, added in its config;
# Varnish: X-Varnish with two transaction IDs).
warm() {
  local url=$1 i h
  for i in $(seq 30); do
    h=$(curl -sk -o /dev/null -D - "$url" | tr -d '\r')
    if grep -qiE '^x-cache: hit|^x-cache-status: hit|^x-varnish: [0-9]+ [0-9]+' <<<"$h"; then return 0; fi
    sleep 0.1
  done
  log "warming $url: never a hit: $(head -1 <<<"$h")"
  exit 1
}

warm_all() {
  local u
  for u in "http://127.0.0.1:$KUMO_HTTP/1k" "http://127.0.0.1:$KUMO_HTTP/100k"; do warm "$u"; done
  for u in "http://127.0.0.1:$VARNISH/1k" "http://127.0.0.1:$VARNISH/100k"; do warm "$u"; done
  for u in "http://127.0.0.1:$NGINX_CACHE/1k" "http://127.0.0.1:$NGINX_CACHE/100k"; do warm "$u"; done
  for u in "http://127.0.0.1:$KUMO_HTTP/1k" "http://127.0.0.1:$NGINX_CACHE/1k" \
    "http://127.0.0.1:$VARNISH/1k" "http://127.0.0.1:$BASELINE/1k"; do settle "$u"; done
}

# settle URL: WARMUP seconds of unmeasured load on URL, so that a server just
# started reaches its steady state (for kumo: a heap grown to its goal, whose
# fresh pages fault in on first use) before anything is measured.
WARMUP=5
settle() {
  taskset -c 1 wrk -t1 -c"$CONNS" -d"${WARMUP}s" "$1" >/dev/null 2>&1 || true
}

# fill NAME BASE-URL: request FILL_OBJECTS distinct cacheable 1 KiB objects
# (one connection, keep-alive, each URL once) and report the RSS growth.
fill() {
  local name=$1 base=$2 system=$3
  local urls=$WORK/fill-urls-$name.txt
  seq 1 "$FILL_OBJECTS" | sed "s|^|$base/c/obj-|" >"$urls"
  sleep 1
  local before after
  before=$(rss_kib "$name")
  taskset -c 1 h2load --h1 -t1 -c1 -n "$FILL_OBJECTS" -i "$urls" >"$WORK/fill-$name.txt" 2>&1 || true
  local ok
  ok=$(awk '/^status codes:/{gsub(/,/, ""); print $3}' "$WORK/fill-$name.txt")
  sleep 1
  after=$(rss_kib "$name")
  local note="RSS $((before / 1024)) -> $((after / 1024)) MiB; ${ok:-?} x 2xx"
  awk -v b="$before" -v a="$after" -v n="$FILL_OBJECTS" 'BEGIN { printf "%.1f\n", (a - b) / 1024 * 100000 / n }' >"$WORK/mem-$name"
  row "memory / 100k x 1 KiB" "$system" "$(cat "$WORK/mem-$name") MiB" - - - "$note"
  log "memory / $system: $(cat "$WORK/mem-$name") MiB per 100,000 objects"
}

# --- table -----------------------------------------------------------------------
print_table() {
  echo
  echo "| scenario | system | req/s | p50 ms | p99 ms | server CPU s / 1k req | idle % server/load CPU | kumo ÷ this | note |"
  echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
  awk -F'\t' '
    function num(s) { sub(/ .*/, "", s); return s + 0 }
    {
      ratio = "-"
      if ($1 != cur) { cur = $1; ref = $3 }
      else if (num($3) > 0 && num(ref) > 0) ratio = sprintf("%.2f×", num(ref) / num($3))
      printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $8, ratio, $7
    }' "$ROWS"
}

# --- main --------------------------------------------------------------------------
install_tools
for p in $ORIGIN1 $ORIGIN2 $BASELINE $KUMO_HTTP $KUMO_HTTPS $KUMO_ALB $KUMO_ALB_LOGGED $KUMO_NOLOG_HTTP $KUMO_NOLOG_HTTPS $NGINX_CACHE $NGINX_TLS $NGINX_PASS $NGINX_NOLOG $NGINX_CFLOG $VARNISH $HAPROXY $HAPROXY_HDR; do port_free "$p"; done
build
start_origins
start_kumo
start_nginx
start_varnish
start_haproxy
warm_all
log "measuring, ${duration} s per run"

K=http://127.0.0.1:$KUMO_HTTP
KS=https://127.0.0.1:$KUMO_HTTPS
N=http://127.0.0.1:$NGINX_CACHE
NS=https://127.0.0.1:$NGINX_TLS

measure_wrk "hit 1 KiB, HTTP/1.1" "kumo|kumo|$K/1k" "nginx proxy_cache|nginx|$N/1k" \
  "Varnish malloc|varnish|http://127.0.0.1:$VARNISH/1k" \
  "baseline: Go net/http origin, no cache|baseline|http://127.0.0.1:$BASELINE/1k"

measure_wrk "hit 100 KiB, HTTP/1.1" "kumo|kumo|$K/100k" "nginx proxy_cache|nginx|$N/100k" \
  "Varnish malloc|varnish|http://127.0.0.1:$VARNISH/100k" \
  "baseline: Go net/http origin, no cache|baseline|http://127.0.0.1:$BASELINE/100k"

measure_wrk "hit 1 KiB, HTTPS (TLS 1.3)" "kumo|kumo|$KS/1k" "nginx proxy_cache|nginx|$NS/1k"

measure_h2 "hit 1 KiB, HTTP/2 (TLS 1.3)" kumo kumo "$KS/1k"
measure_h2 "hit 1 KiB, HTTP/2 (TLS 1.3)" "nginx proxy_cache" nginx "$NS/1k"

measure_wrk "new TLS 1.3 connection per request" "kumo|kumo|$KS/1k|Connection: close" \
  "nginx proxy_cache|nginx|$NS/1k|Connection: close"

measure_wrk "miss: edge+ALB vs pass-through" "kumo edge → ALB → 2 origins|kumo|$K/nc/x" \
  "nginx pass-through → 2 origins|nginx|http://127.0.0.1:$NGINX_PASS/nc/x"

# Like for like: neither the ALB nor HAProxy writes an access log (the ALB's
# default on AWS). The third row is HAProxy adding the request headers every
# ALB adds (X-Forwarded-For, -Proto, -Port, X-Amzn-Trace-Id), which the
# origins then parse; the fourth is the ALB with its access log on.
measure_wrk "load balancer alone, 2 targets" "kumo ALB, no access log|kumo|http://127.0.0.1:$KUMO_ALB/nc/x" \
  "HAProxy roundrobin, no log|haproxy|http://127.0.0.1:$HAPROXY/nc/x" \
  "HAProxy, no log, adding the ALB's 4 headers|haproxy|http://127.0.0.1:$HAPROXY_HDR/nc/x" \
  "kumo ALB, access log on|kumo|http://127.0.0.1:$KUMO_ALB_LOGGED/nc/x"

# Logging on and off need two kumo processes. Both are started fresh, side
# by side (the second one binds the stack's own listeners on free ports), and
# their runs alternate as in every scenario. A difference of a few per cent
# is what this scenario measures, while the speed of this machine drifts by
# more than that from minute to minute: it takes at least LOG_RUNS runs.
LOG_RUNS=5
stop kumo
start_kumo
start_kumo_as kumo-nolog "$KUMO_NOLOG_HTTP" "$KUMO_NOLOG_HTTPS" --no-access-logs --ephemeral-ports
warm "$K/1k"
warm "http://127.0.0.1:$KUMO_NOLOG_HTTP/1k"
settle "$K/1k"
settle "http://127.0.0.1:$KUMO_NOLOG_HTTP/1k"
runs=$((runs > LOG_RUNS ? runs : LOG_RUNS)) measure_wrk "access logs, hit 1 KiB" \
  "kumo, access logs on|kumo|$K/1k" \
  "kumo up --no-access-logs|kumo-nolog|http://127.0.0.1:$KUMO_NOLOG_HTTP/1k"
stop kumo-nolog
# The same comparison for nginx: one process, three server blocks sharing
# one cache, logging CloudFront-shaped lines, its combined lines (the
# server the other scenarios measure), or nothing.
warm "http://127.0.0.1:$NGINX_CFLOG/1k"
warm "http://127.0.0.1:$NGINX_NOLOG/1k"
runs=$((runs > LOG_RUNS ? runs : LOG_RUNS)) measure_wrk "access logs, nginx, hit 1 KiB" \
  "nginx, CloudFront-shaped log|nginx|http://127.0.0.1:$NGINX_CFLOG/1k" \
  "nginx, combined log|nginx|$N/1k" \
  "nginx, no access log|nginx|http://127.0.0.1:$NGINX_NOLOG/1k"

stop kumo
start_kumo
fill kumo "$K" kumo
fill varnish "http://127.0.0.1:$VARNISH" "Varnish malloc"
nginx_before=$(du -sk "$WORK/nginx/cache" | cut -f1)
seq 1 "$FILL_OBJECTS" | sed "s|^|$N/c/obj-|" >"$WORK/fill-urls-nginx.txt"
taskset -c 1 h2load --h1 -t1 -c1 -n "$FILL_OBJECTS" -i "$WORK/fill-urls-nginx.txt" >"$WORK/fill-nginx.txt" 2>&1 || true
nginx_after=$(du -sk "$WORK/nginx/cache" | cut -f1)
row "memory / 100k x 1 KiB" "nginx proxy_cache" - - - - "on disk: cache directory $(((nginx_after - nginx_before) / 1024)) MiB; RSS $(($(rss_kib nginx) / 1024)) MiB"

machine="$(nproc) cores, $(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)"
echo
echo "kumo bench, $(date -u '+%Y-%m-%d %H:%M UTC'), $machine, ${duration} s per run, $runs run(s) per system, $CONNS connections"
echo "nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'), Varnish $(varnishd -V 2>&1 | sed -n 's/.*(varnish-\([^ ]*\) .*/\1/p'), HAProxy $(haproxy -v | awk 'NR==1{print $3}'), $(wrk -v 2>&1 | awk 'NR==1{print $1, $2}'), h2load $(h2load --version | awk '{print $2}')"
print_table

if [ -n "$pprof_out" ]; then
  stop kumo
  start_kumo
  warm "$K/1k"
  settle "$K/1k"
  admin=$(jq -r .admin "$KUMO_STATE/endpoints.json")
  secs=$duration
  log "profiling kumo for $secs s during a 1 KiB hit run"
  curl -sf -H "Authorization: Bearer $(cat "$KUMO_STATE/admin-token")" \
    -o "$pprof_out" "http://$admin/debug/pprof/profile?seconds=$secs" &
  curl_pid=$!
  sleep 0.2
  taskset -c 1 wrk -t1 -c"$CONNS" -d"$((secs + 1))s" "$K/1k" >"$WORK/wrk-pprof.txt" 2>&1 || true
  wait "$curl_pid"
  echo
  echo "CPU profile of kumo during a 1 KiB hit run ($pprof_out; binary $WORK/kumo):"
  (cd "$ROOT" && go tool pprof -top -nodecount=30 "$WORK/kumo" "$pprof_out" 2>/dev/null | sed -n '1,40p')
fi
