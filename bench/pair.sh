#!/usr/bin/env bash
# bench/pair.sh: the CPU cost per request of one kumo against another,
# measured with both under load at the same time.
#
#   bench/pair.sh [--alb | --alb-logged] [--rounds N] [--duration SECONDS] A B
#
#   A, B          each a kumo binary, optionally followed by flags in the
#                 same argument: "/tmp/kumo-old --no-access-logs"
#   --alb         load the ALB listener (/nc/x, two targets) instead of the
#                 1 KiB cache hit on the viewer listener: load balancer
#                 bench, without an access log
#   --alb-logged  the same on load balancer bench-logged, access log on
#   --rounds N    fresh pairs measured (default 4)
#   --duration N  seconds measured per round (default 8)
#
# Why: this machine's speed drifts by 5-20 % from minute to minute, more than
# most changes it is asked about; bench/run.sh's alternating runs average it
# out only over many runs. Here A and B run at once, both pinned to CPU 0 (CFS
# shares it between them), each loaded by its own wrk on CPU 1, so both see
# the same drift, and the ratio of their CPU cost per request holds to about
# +-2 % from round to round (two copies of one binary: 0.98-1.01). For a
# server that keeps its core busy, req/s is the inverse of that cost: B/A =
# 1.20 is A doing about 1.2 times B's req/s alone.
#
# Each round starts a fresh A (the stack's own ports, bench/kumo-bench.yaml)
# and a fresh B (viewer on 28080/28443, its other listeners on free ports),
# loads both for 2 s unmeasured, then DURATION s measured. The cost is the
# process's utime+stime (/proc/<pid>/stat: every thread, io_uring's workers
# included) over the requests wrk completed. The origins (bench/origin) run
# on CPU 1 on 18081 and 18082, as for bench/run.sh: do not run both at once.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
alb=0 lb= rounds=4 duration=8
while (($#)); do
  case $1 in
  --alb) alb=1 lb=bench ;;
  --alb-logged) alb=1 lb=bench-logged ;;
  --rounds) rounds=$2; shift ;;
  --duration) duration=$2; shift ;;
  -h | --help) sed -n '2,30p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
  -*) echo "pair.sh: unknown flag $1" >&2; exit 2 ;;
  *) break ;;
  esac
  shift
done
if (($# != 2)); then
  echo "usage: bench/pair.sh [--alb | --alb-logged] [--rounds N] [--duration SECONDS] A B" >&2
  exit 2
fi
A=$1 B=$2
[[ $rounds =~ ^[1-9][0-9]*$ && $duration =~ ^[1-9][0-9]*$ ]] || { echo "pair.sh: --rounds and --duration take a positive integer" >&2; exit 2; }
for t in wrk taskset jq curl go; do
  command -v "$t" >/dev/null || { echo "pair.sh: $t is required (bench/run.sh installs it)" >&2; exit 1; }
done

log() { echo "pair.sh: $*" >&2; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kumo-pair.XXXXXX")
declare -A PID=()
cleanup() {
  local status=$?
  for n in "${!PID[@]}"; do kill -TERM "${PID[$n]}" 2>/dev/null || true; done
  for n in "${!PID[@]}"; do wait "${PID[$n]}" 2>/dev/null || true; done
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME CPU CMD...: CMD pinned to CPU, in the background, as NAME.
start() {
  local name=$1 cpu=$2
  shift 2
  taskset -c "$cpu" "$@" >"$WORK/$name.out" 2>&1 &
  PID[$name]=$!
}
stop() {
  kill -TERM "${PID[$1]}" 2>/dev/null || true
  wait "${PID[$1]}" 2>/dev/null || true
  unset "PID[$1]"
}

# ready NAME: poll, with a deadline, until NAME's endpoints.json names its
# listeners and its viewer answers; prints the URL to load.
ready() {
  local name=$1 deadline=$((SECONDS + 60)) ep url
  ep=$WORK/state-$name/endpoints.json
  while :; do
    kill -0 "${PID[$name]}" 2>/dev/null || { log "$name exited: $(tail -5 "$WORK/$name.out")"; exit 1; }
    if [ -s "$ep" ]; then
      if ((alb)); then
        url="http://$(jq -r --arg lb "$lb" '.loadBalancers[] | select(.name == $lb) | .listeners[0].local // empty' "$ep")/nc/x"
      else
        url="http://$(jq -r '.viewer.http // empty' "$ep")/1k"
      fi
      [ "$url" != "http:///nc/x" ] && [ "$url" != "http:///1k" ] && curl -fs -o /dev/null "$url" && { echo "$url"; return; }
    fi
    ((SECONDS < deadline)) || { log "$name did not answer"; exit 1; }
    sleep 0.1
  done
}

ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
hz=$(getconf CLK_TCK)

log "building the origin"
(cd "$ROOT" && go build -o "$WORK/origin" ./bench/origin)
start origin1 1 "$WORK/origin" -listen 127.0.0.1:18081
start origin2 1 "$WORK/origin" -listen 127.0.0.1:18082

printf '%-5s  %9s %8s  %9s %8s  %s\n' round "A req" "A us/req" "B req" "B us/req" "cost B/A"
costs=()
for round in $(seq "$rounds"); do
  for side in a b; do
    spec=$A ports=(--http 127.0.0.1:18080 --https 127.0.0.1:18443)
    if [ "$side" = b ]; then spec=$B ports=(--http 127.0.0.1:28080 --https 127.0.0.1:28443 --ephemeral-ports); fi
    read -r -a cmd <<<"$spec"
    rm -rf "$WORK/state-$side"
    start "$side" 0 "${cmd[0]}" --state-dir "$WORK/state-$side" --log-level warn up -f "$ROOT/bench/kumo-bench.yaml" \
      "${ports[@]}" --http3 off --cache-size 1GiB "${cmd[@]:1}"
  done
  ua=$(ready a)
  ub=$(ready b)
  taskset -c 1 wrk -t1 -c64 -d2s "$ua" >/dev/null & w=$!
  taskset -c 1 wrk -t1 -c64 -d2s "$ub" >/dev/null
  wait "$w"
  ta=$(ticks "${PID[a]}") tb=$(ticks "${PID[b]}")
  taskset -c 1 wrk -t1 -c64 -d"${duration}s" "$ua" >"$WORK/wa.txt" & w=$!
  taskset -c 1 wrk -t1 -c64 -d"${duration}s" "$ub" >"$WORK/wb.txt"
  wait "$w"
  ta=$(($(ticks "${PID[a]}") - ta)) tb=$(($(ticks "${PID[b]}") - tb))
  na=$(awk '/requests in/{print $1}' "$WORK/wa.txt") nb=$(awk '/requests in/{print $1}' "$WORK/wb.txt")
  stop a
  stop b
  row=$(awk -v r="$round" -v ta="$ta" -v tb="$tb" -v na="$na" -v nb="$nb" -v hz="$hz" 'BEGIN{
    if (na == 0 || nb == 0 || ta == 0) { print "no requests"; exit 1 }
    ua = ta * 1e6 / hz / na; ub = tb * 1e6 / hz / nb
    printf "%-5s  %9d %8.2f  %9d %8.2f  %.3f", r, na, ua, nb, ub, ub / ua }') || { log "round $round: $row"; exit 1; }
  echo "$row"
  costs+=("${row##* }")
done
printf '%s\n' "${costs[@]}" | sort -n | awk '{c[NR]=$1} END{m = NR % 2 ? c[(NR+1)/2] : (c[NR/2] + c[NR/2+1]) / 2; printf "median cost B/A %.3f (range %s-%s over %d rounds)\n", m, c[1], c[NR], NR}'
