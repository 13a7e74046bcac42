#!/usr/bin/env bash
# Starts moto's server (an S3-compatible server that also serves CloudWatch Logs and other AWS
# APIs) on loopback for the tests that need a real S3: writes its URL to target/moto-url.
# Idempotent: a server this script started and that still answers is reused.
#   scripts/start-moto.sh          start (installing PyPI moto[server] if missing)
#   scripts/start-moto.sh --stop   stop the server this script started
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p target
url_file=target/moto-url
pid_file=target/moto.pid
log_file=target/moto.log
venv=target/moto-venv

running() {
    [[ -f $pid_file && -f $url_file ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null &&
        curl -fsS -o /dev/null --max-time 2 "$(cat "$url_file")/moto-api/data.json" 2>/dev/null
}

if [[ ${1:-} == --stop ]]; then
    if [[ -f $pid_file ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
        kill "$(cat "$pid_file")"
        echo "moto: stopped (pid $(cat "$pid_file"))"
    fi
    rm -f "$pid_file" "$url_file"
    exit 0
fi

if running; then
    echo "moto: already running at $(cat "$url_file")"
    exit 0
fi

# moto_server from PATH when it works, else a venv under target/ that this script fills.
if command -v moto_server >/dev/null && moto_server --help >/dev/null 2>&1; then
    server=(moto_server)
else
    if [[ ! -x $venv/bin/moto_server ]]; then
        echo "moto: installing moto[server] into $venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet 'moto[server]>=5,<6'
    fi
    server=("$venv/bin/moto_server")
fi

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
nohup "${server[@]}" -H 127.0.0.1 -p "$port" >"$log_file" 2>&1 &
echo $! >"$pid_file"
echo "http://127.0.0.1:$port" >"$url_file"
for _ in $(seq 1 100); do
    if running; then
        echo "moto: running at $(cat "$url_file") (pid $(cat "$pid_file"), log $log_file)"
        exit 0
    fi
    sleep 0.2
done
echo "moto: did not answer within 20 s; log follows" >&2
cat "$log_file" >&2
exit 1
