#!/usr/bin/env bash
# starts a throwaway redis-server on loopback for the Redis tests and prints `export REDIS_URL=...`
# usage: eval "$(.ci/redis.sh)"   — installs redis-server from Debian when missing; stop it with the printed pid
set -euo pipefail

if ! command -v redis-server >/dev/null 2>&1; then
  echo "installing redis-server from Debian" >&2
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >&2
fi

# a free port: ask the kernel for one, then hand it to redis-server
PORT="$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
DIR="$(mktemp -d "${TMPDIR:-/tmp}/vectorwarden-redis.XXXXXX")"
redis-server --bind 127.0.0.1 --port "$PORT" --save '' --appendonly no --dir "$DIR" \
  --daemonize yes --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log" >&2

for _ in $(seq 1 100); do
  if redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null | grep -q PONG; then
    echo "export REDIS_URL=redis://127.0.0.1:$PORT"
    echo "export VECTORWARDEN_REDIS_PID=$(cat "$DIR/redis.pid")"
    exit 0
  fi
  sleep 0.1
done
echo "redis-server did not answer PING on 127.0.0.1:$PORT (log: $DIR/redis.log)" >&2
exit 1
