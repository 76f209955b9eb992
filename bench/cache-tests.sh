#!/usr/bin/env bash
# bench/cache-tests.sh: the HTTP caching test suite (npm http-cache-tests@0.4.5,
# https://cache-tests.fyi) against kumo and against the open-source caches from
# apt, in one run, with required / optimal / check counts side by side.
#
#   bench/cache-tests.sh [--keep] [target ...]
#
# Targets (default: all, in this order): kumo nginx varnish trafficserver squid
# origin. "origin" is the suite's bare origin with no cache in front, the
# baseline every cache is compared to (compare fail counts, not only passes).
#
# Every cache is set up the way the suite needs a shared cache to be
# (peers.md §3.1): a response without freshness information is not cached,
# and every method is forwarded to the origin.
#   kumo           bench/cache-tests/kumo.yaml: MinTTL 0, DefaultTTL 0, all
#                  seven methods, Host 127.0.0.1 routed by
#                  Metadata.Kumo.LocalDefault.
#   nginx          proxy_cache + proxy_cache_revalidate on (nginx caches only
#                  what carries Expires / Cache-Control max-age without
#                  proxy_cache_valid).
#   varnish        builtin VCL, -p default_ttl=0 -p default_grace=0
#                  -p default_keep=3600 (the suite's own docker setup).
#   trafficserver  reverse proxy, cache.required_headers 2 (explicit
#                  lifetime required), settings of the suite's docker setup.
#   squid          accelerator mode, default refresh_pattern (min 0).
#
# Everything listens on 127.0.0.1 on free ephemeral ports, runs from a
# temporary directory and is stopped when the script exits (--keep keeps the
# directory with every configuration, log and per-test JSON result).
#
# Missing tools are installed with apt-get (as root or through sudo), with
# policy-rc.d set so that installing them does not start their system
# services. The suite is installed once with npm into the same cache
# directory the Go conformance test uses ($KUMO_NPM_CACHE, default
# ~/.cache/kumo/npm).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SUITE=http-cache-tests@0.4.5
DRIVER=$ROOT/bench/cache-tests/driver.mjs
ALL_TARGETS=(kumo nginx varnish trafficserver squid origin)
export PATH=$PATH:/usr/sbin:/sbin

keep=0
targets=()
for arg in "$@"; do
  case $arg in
    --keep) keep=1 ;;
    -h | --help) sed -n '2,35p' "$0"; exit 0 ;;
    kumo | nginx | varnish | trafficserver | squid | origin) targets+=("$arg") ;;
    *) echo "cache-tests.sh: unknown argument $arg (targets: ${ALL_TARGETS[*]})" >&2; exit 2 ;;
  esac
done
((${#targets[@]})) || targets=("${ALL_TARGETS[@]}")

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kumo-cache-tests.XXXXXX")
# The caches drop root privileges to their own users (nobody, proxy,
# vcache): they must be able to reach their directories.
chmod 755 "$WORK"
pids=()

cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if ((keep)); then echo "cache-tests.sh: kept $WORK"; else rm -rf "$WORK"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "cache-tests.sh: $*" >&2; }
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# --- tools -------------------------------------------------------------------
declare -A packages=([node]=nodejs [npm]=npm [go]="" [nginx]=nginx [varnishd]=varnish
  [traffic_server]=trafficserver [squid]=squid)
declare -A tool_of=([kumo]=go [nginx]=nginx [varnish]=varnishd [trafficserver]=traffic_server [squid]=squid [origin]=node)

install_tools() {
  local missing=() tool t
  for t in node npm "${targets[@]}"; do
    tool=${tool_of[$t]:-$t}
    command -v "$tool" >/dev/null 2>&1 && continue
    if [ -z "${packages[$tool]}" ]; then log "$tool is required (not from apt)"; exit 1; fi
    missing+=("${packages[$tool]}")
  done
  apt_install "${missing[@]}"
}

install_suite() {
  local root=${KUMO_NPM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kumo/npm}
  local final=$root/$SUITE
  PKG=$final/node_modules/http-cache-tests
  [ -e "$final/.kumo-installed" ] && return 0
  mkdir -p "$root"
  local tmp
  tmp=$(mktemp -d "$root/.install-XXXXXX")
  log "installing $SUITE into $final"
  npm install --prefix "$tmp" --no-audit --no-fund --ignore-scripts --no-update-notifier --loglevel=error "$SUITE" >&2
  echo "$SUITE" >"$tmp/.kumo-installed"
  mv -T "$tmp" "$final" 2>/dev/null || rm -rf "$tmp"
}

# --- helpers -----------------------------------------------------------------
free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# wait_port PORT NAME PID: polls until something accepts on 127.0.0.1:PORT.
wait_port() {
  local port=$1 name=$2 pid=$3 deadline=$((SECONDS + 60))
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then log "$name exited before listening (see $WORK/$name)"; return 1; fi
    if ((SECONDS > deadline)); then log "$name is not listening on $port after 60 s"; return 1; fi
    sleep 0.1
  done
}

# start NAME CMD...: runs CMD in the background, output in $WORK/NAME/out.log.
start() {
  local name=$1
  shift
  "$@" >"$WORK/$name/out.log" 2>&1 &
  pids+=($!)
  LAST_PID=$!
}

# --- the suite's origin -------------------------------------------------------
start_origin() {
  mkdir -p "$WORK/origin"
  start origin node "$DRIVER" server "$PKG"
  local deadline=$((SECONDS + 30))
  until grep -q '^listening ' "$WORK/origin/out.log" 2>/dev/null; do
    kill -0 "$LAST_PID" 2>/dev/null || { log "the cache-tests origin exited: $(cat "$WORK/origin/out.log")"; exit 1; }
    ((SECONDS < deadline)) || { log "the cache-tests origin did not start"; exit 1; }
    sleep 0.1
  done
  ORIGIN_PORT=$(awk '/^listening /{print $2; exit}' "$WORK/origin/out.log")
}

# --- targets: each sets PORT ---------------------------------------------------
start_kumo() {
  local d=$WORK/kumo
  mkdir -p "$d"
  (cd "$ROOT" && go build -o "$d/kumo" ./cmd/kumo)
  sed "s/^    Default: 8000$/    Default: $ORIGIN_PORT/" "$ROOT/bench/cache-tests/kumo.yaml" >"$d/stack.yaml"
  grep -q "Default: $ORIGIN_PORT" "$d/stack.yaml" || { log "could not set OriginPort in the kumo stack"; exit 1; }
  PORT=$(free_port)
  start kumo "$d/kumo" --state-dir "$d/state" --log-level warn up -f "$d/stack.yaml" \
    --https 127.0.0.1:0 --http "127.0.0.1:$PORT" --ephemeral-ports
  wait_port "$PORT" kumo "$LAST_PID"
}

start_nginx() {
  local d=$WORK/nginx
  mkdir -p "$d"
  PORT=$(free_port)
  cat >"$d/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $d/client_body;
  proxy_temp_path $d/proxy_temp;
  fastcgi_temp_path $d/fastcgi_temp;
  uwsgi_temp_path $d/uwsgi_temp;
  scgi_temp_path $d/scgi_temp;
  proxy_cache_path $d/cache levels=1:2 keys_zone=cachetests:8m max_size=100m inactive=600m;
  server {
    listen 127.0.0.1:$PORT;
    location / {
      proxy_pass http://127.0.0.1:$ORIGIN_PORT;
      proxy_cache cachetests;
      proxy_cache_revalidate on;
    }
  }
}
EOF
  start nginx nginx -p "$d" -c "$d/nginx.conf"
  wait_port "$PORT" nginx "$LAST_PID"
}

start_varnish() {
  local d=$WORK/varnish
  mkdir -p "$d"
  PORT=$(free_port)
  start varnish varnishd -F -j none -n "$d/work" -a "127.0.0.1:$PORT" -b "127.0.0.1:$ORIGIN_PORT" \
    -T 127.0.0.1:0 -p default_ttl=0 -p default_grace=0 -p default_keep=3600 -s malloc,64M
  wait_port "$PORT" varnish "$LAST_PID"
}

start_trafficserver() {
  local d=$WORK/trafficserver
  mkdir -p "$d/etc" "$d/cache" "$d/run" "$d/log" "$d/var"
  PORT=$(free_port)
  cat >"$d/runroot.yaml" <<EOF
prefix: /usr
exec_prefix: /usr
bindir: /usr/bin
sbindir: /usr/sbin
sysconfdir: $d/etc
datadir: $d/cache
includedir: /usr/include
libdir: /usr/lib/trafficserver
libexecdir: /usr/lib/trafficserver/modules
localstatedir: $d/var
runtimedir: $d/run
logdir: $d/log
cachedir: $d/cache
EOF
  # The suite's docker records.config, trimmed to what matters here.
  cat >"$d/etc/records.config" <<EOF
CONFIG proxy.config.admin.user_id STRING #-1
CONFIG proxy.config.exec_thread.autoconfig INT 0
CONFIG proxy.config.exec_thread.limit INT 2
CONFIG proxy.config.accept_threads INT 1
CONFIG proxy.config.task_threads INT 2
CONFIG proxy.config.http.server_ports STRING $PORT:ip-in=127.0.0.1
CONFIG proxy.config.http.insert_request_via_str INT 1
CONFIG proxy.config.http.insert_response_via_str INT 0
CONFIG proxy.config.http.cache.http INT 1
CONFIG proxy.config.http.cache.required_headers INT 2
CONFIG proxy.config.http.cache.ignore_client_cc_max_age INT 1
CONFIG proxy.config.http.cache.cache_responses_to_cookies INT 1
CONFIG proxy.config.http.cache.cache_urls_that_look_dynamic INT 1
CONFIG proxy.config.http.cache.when_to_revalidate INT 0
CONFIG proxy.config.http.negative_caching_enabled INT 0
CONFIG proxy.config.http.normalize_ae INT 1
CONFIG proxy.config.http.push_method_enabled INT 0
CONFIG proxy.config.url_remap.remap_required INT 1
CONFIG proxy.config.url_remap.pristine_host_hdr INT 1
CONFIG proxy.config.reverse_proxy.enabled INT 1
CONFIG proxy.config.cache.limits.http.max_alts INT 5
CONFIG proxy.config.cache.ram_cache.size INT 33554432
CONFIG proxy.config.log.logging_enabled INT 1
CONFIG proxy.config.diags.output.diag STRING L
CONFIG proxy.config.hostdb.host_file.path STRING /etc/hosts
EOF
  echo "map http://127.0.0.1:$PORT/ http://127.0.0.1:$ORIGIN_PORT/" >"$d/etc/remap.config"
  echo "$d/cache 64M" >"$d/etc/storage.config"
  cat >"$d/etc/ip_allow.yaml" <<EOF
ip_allow:
  - apply: in
    ip_addrs: [127.0.0.0/8, ::1]
    action: allow
    methods: ALL
EOF
  for f in plugin.config hosting.config volume.config cache.config parent.config socks.config splitdns.config \
    ssl_multicert.config logging.yaml sni.yaml strategies.yaml; do
    : >"$d/etc/$f"
  done
  start trafficserver traffic_server --run-root="$d/runroot.yaml"
  wait_port "$PORT" trafficserver "$LAST_PID"
}

start_squid() {
  local d=$WORK/squid
  mkdir -p "$d"
  PORT=$(free_port)
  cat >"$d/squid.conf" <<EOF
http_port 127.0.0.1:$PORT accel defaultsite=127.0.0.1 no-vhost
cache_peer 127.0.0.1 parent $ORIGIN_PORT 0 no-query no-digest originserver name=origin
cache_peer_access origin allow all
never_direct allow all
http_access allow all
icp_port 0
htcp_port 0
cache_mem 64 MB
pid_filename $d/squid.pid
cache_log $d/cache.log
access_log none
cache_store_log none
coredump_dir $d
shutdown_lifetime 1 second
connect_retries 3
visible_hostname kumo-cache-tests.localhost
EOF
  if [ "$(id -u)" = 0 ]; then chown -R proxy "$d"; fi
  start squid squid -N -f "$d/squid.conf"
  wait_port "$PORT" squid "$LAST_PID"
}

start_origin_target() { PORT=$ORIGIN_PORT; }

version_of() {
  case $1 in
    kumo)
      local rev
      rev=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null) || { echo dev; return; }
      if (cd "$ROOT" && git diff --quiet HEAD 2>/dev/null); then echo "$rev"; else echo "$rev+changes"; fi
      ;;
    nginx) nginx -v 2>&1 | sed 's/.*nginx\///' ;;
    varnish) varnishd -V 2>&1 | sed -n 's/.*(varnish-\([^ ]*\) .*/\1/p' ;;
    trafficserver) traffic_server -V 2>/dev/null | awk '/^Traffic Server/{print $3; exit}' ;;
    squid) squid -v | awk '/Version/{print $4; exit}' ;;
    origin) echo "$SUITE" ;;
  esac
}

# --- main ----------------------------------------------------------------------
install_tools
install_suite
start_origin
log "cache-tests origin on 127.0.0.1:$ORIGIN_PORT; work directory $WORK"

for t in "${targets[@]}"; do
  case $t in
    origin) start_origin_target ;;
    *) "start_$t" ;;
  esac
  echo "$(version_of "$t")" >"$WORK/$t.version"
  log "running $SUITE against $t (127.0.0.1:$PORT)"
  node "$DRIVER" run "$PKG" "http://127.0.0.1:$PORT" "$WORK/$t.json" >"$WORK/$t.summary" 2>"$WORK/$t.client.log" || {
    log "the suite failed against $t: $(tail -5 "$WORK/$t.client.log")"
  }
  log "$t: $(cat "$WORK/$t.summary")"
done

# The side-by-side table (counts scored by the suite's own determineTestResult).
node - "$WORK" "${targets[@]}" <<'EOF'
const fs = require('fs')
const [work, ...targets] = process.argv.slice(2)
const cols = [
  ['required', 'pass'], ['required', 'fail'], ['required', 'dependency_fail'], ['required', 'setup_fail'],
  ['optimal', 'pass'], ['optimal', 'not_optimal'], ['check', 'yes'], ['check', 'no']]
const head = ['target', 'version', 'req pass', 'req fail', 'req dep-fail', 'req setup', 'opt pass', 'opt not-opt', 'check yes', 'check no']
const rows = [head]
for (const t of targets) {
  const version = fs.readFileSync(`${work}/${t}.version`, 'utf8').trim()
  let counts
  try { counts = JSON.parse(fs.readFileSync(`${work}/${t}.json`, 'utf8')).counts } catch { rows.push([t, version, 'no results']); continue }
  rows.push([t, version, ...cols.map(([k, o]) => String((counts[k] || {})[o] || 0))])
}
const total = k => {
  for (const t of targets) {
    try { const c = JSON.parse(fs.readFileSync(`${work}/${t}.json`, 'utf8')).counts[k]; return Object.values(c).reduce((a, b) => a + b, 0) } catch {}
  }
  return '?'
}
const w = head.map((_, i) => Math.max(...rows.map(r => (r[i] || '').length)))
console.log(`\nhttp-cache-tests@0.4.5: ${total('required')} required, ${total('optimal')} optimal, ${total('check')} check tests\n`)
for (const r of rows) console.log(r.map((c, i) => i < 2 ? (c || '').padEnd(w[i]) : (c || '').padStart(w[i])).join('  '))
EOF
