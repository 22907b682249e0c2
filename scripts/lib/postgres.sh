# Sourced by scripts/*: a private PostgreSQL server (Debian's postgresql package) in a directory
# of its own, listening on a Unix socket there and on no TCP port, stopped by spike_postgres_stop.
# initdb and postgres refuse to run as root: as root the server runs as the `postgres` user.

spike_postgres_bin() {
  local bin
  for bin in /usr/lib/postgresql/*/bin; do
    if [ -x "$bin/pg_ctl" ]; then echo "$bin"; return; fi
  done
  echo "PostgreSQL's server is not installed (Debian: apt-get install postgresql)" >&2
  return 1
}

# spike_postgres_start DIR: initdb in DIR/data (once), start the server with its socket in DIR,
# and print the URL of its `postgres` database.
spike_postgres_start() {
  local dir="$1" bin user run=()
  bin="$(spike_postgres_bin)"
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  if [ "$(id -u)" -eq 0 ]; then
    user=postgres
    run=(runuser -u postgres --)
    chown postgres "$dir"
  else
    user="$(id -un)"
  fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    "${run[@]}" "$bin/initdb" --pgdata="$dir/data" --username="$user" --auth=trust --encoding=UTF8 \
      --no-instructions >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; return 1; }
  fi
  "${run[@]}" "$bin/pg_ctl" --pgdata="$dir/data" --log="$dir/server.log" --wait --timeout=60 \
    -o "-c listen_addresses='' -c unix_socket_directories='$dir' -c max_connections=200 -c fsync=on" \
    start >/dev/null || { cat "$dir/server.log" >&2; return 1; }
  echo "postgres:///postgres?host=$dir&user=$user"
}

# spike_postgres_stop DIR
spike_postgres_stop() {
  local dir="$1" bin run=()
  bin="$(spike_postgres_bin)" || return 0
  [ -f "$dir/data/postmaster.pid" ] || return 0
  if [ "$(id -u)" -eq 0 ]; then run=(runuser -u postgres --); fi
  "${run[@]}" "$bin/pg_ctl" --pgdata="$dir/data" --mode=fast --wait stop >/dev/null 2>&1 || true
}
