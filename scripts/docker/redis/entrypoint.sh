#!/bin/sh
# What the official redis image's entrypoint does that docker-compose.yml relies on: options
# alone run redis-server with them, and a redis-server without a config file that sets
# protected-mode gets --protected-mode no. Without that, Redis (no password, not bound to
# loopback only) refuses every client from another container.
set -e
case "$1" in
  -* | *.conf) set -- redis-server "$@" ;;
esac
if [ "$1" = redis-server ]; then
  if ! { [ -f "${2:-}" ] && grep -q '^[[:space:]]*protected-mode' "$2"; }; then
    set -- "$@" --protected-mode no
  fi
fi
exec "$@"
