# Sourced by scripts/*: a private PostgreSQL server (Debian's postgresql package) in a directory
# of its own, listening on a Unix socket there and, for TLS only, on a TCP port of 127.0.0.1 that
# the kernel picked (a certificate for `localhost` from a CA made here; plain TCP is refused),
# stopped by spike_postgres_stop. initdb and postgres refuse to run as root: as root the server
# runs as the `postgres` user.

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
    # The socket trusts its users (its directory is the server user's); TCP takes TLS only.
    printf 'local all all trust\nhostssl all all 127.0.0.1/32 trust\nhost all all all reject\n' > "$dir/data/pg_hba.conf"
  fi
  if [ ! -f "$dir/tls/server.key" ]; then
    mkdir -p "$dir/tls"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=spike-test-ca \
      -keyout "$dir/tls/ca.key" -out "$dir/tls/ca.pem" >/dev/null 2>&1
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
      -keyout "$dir/tls/server.key" -out "$dir/tls/server.csr" >/dev/null 2>&1
    printf 'subjectAltName=DNS:localhost\n' > "$dir/tls/san.cnf"
    openssl x509 -req -in "$dir/tls/server.csr" -CA "$dir/tls/ca.pem" -CAkey "$dir/tls/ca.key" -CAcreateserial -days 2 \
      -extfile "$dir/tls/san.cnf" -out "$dir/tls/server.pem" >/dev/null 2>&1
    chmod 600 "$dir/tls/server.key"
    if [ -n "$user" ] && [ "$(id -u)" -eq 0 ]; then chown -R postgres "$dir/tls"; fi
  fi
  local port
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  echo "$port" > "$dir/tcp-port"
  "${run[@]}" "$bin/pg_ctl" --pgdata="$dir/data" --log="$dir/server.log" --wait --timeout=60 \
    -o "-c listen_addresses='127.0.0.1' -c port=$port -c unix_socket_directories='$dir' -c max_connections=200 -c fsync=on -c ssl=on -c ssl_cert_file='$dir/tls/server.pem' -c ssl_key_file='$dir/tls/server.key'" \
    start >/dev/null || { cat "$dir/server.log" >&2; return 1; }
  echo "postgres:///postgres?host=$dir&port=$port&user=$user"
}

# spike_postgres_tls_url DIR: the URL of the same server over TCP with TLS, verifying its
# certificate and name (`localhost`) against the CA made by spike_postgres_start.
spike_postgres_tls_url() {
  local dir user
  dir="$(cd "$1" && pwd)"
  if [ "$(id -u)" -eq 0 ]; then user=postgres; else user="$(id -un)"; fi
  echo "postgres://$user@localhost:$(cat "$dir/tcp-port")/postgres?sslmode=verify-full&sslrootcert=$dir/tls/ca.pem"
}

# spike_postgres_stop DIR
spike_postgres_stop() {
  local dir="$1" bin run=()
  bin="$(spike_postgres_bin)" || return 0
  [ -f "$dir/data/postmaster.pid" ] || return 0
  if [ "$(id -u)" -eq 0 ]; then run=(runuser -u postgres --); fi
  "${run[@]}" "$bin/pg_ctl" --pgdata="$dir/data" --mode=fast --wait stop >/dev/null 2>&1 || true
}
