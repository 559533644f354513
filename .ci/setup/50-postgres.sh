#!/usr/bin/env bash
# PostgreSQL for the test suite: a throwaway cluster on a private port.
#
# Sourced by .ci/run as root (which defines `ci_on_exit CMD` to register
# cleanup). Also works sourced by hand for local use:
#   sudo bash -c '. .ci/setup/50-postgres.sh; cargo test --workspace'
# or run directly, in which case it prints the export line and leaves the
# cluster running (stop it with: pg_ctl -D DIR stop, as the postgres user).
#
# Exports JPSTART_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:PORT/postgres
# (trust auth, loopback only) and JPSTART_TEST_REQUIRE_POSTGRES=1 (so that a
# test run under it fails rather than skips the PostgreSQL half). Port:
# $JPSTART_PG_PORT or 55432, or the next free one.

if ! declare -F ci_on_exit >/dev/null 2>&1; then
    ci_on_exit() { :; }
fi

pg_setup() {
    local port="${JPSTART_PG_PORT:-55432}"
    local bindir
    # A port nobody listens on (another cluster may hold the first choice).
    while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        port=$((port + 1))
    done
    if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq || return 1
        apt-get install -y -qq postgresql >/dev/null || return 1
    fi
    # Debian installs the server binaries outside PATH, one folder per major
    # version; take the newest.
    bindir="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
    id postgres >/dev/null 2>&1 || { echo "50-postgres: no postgres OS user" >&2; return 1; }

    JPSTART_PG_DIR="$(mktemp -d /tmp/jpstart-pg.XXXXXX)" || return 1
    chown postgres:postgres "$JPSTART_PG_DIR"
    chmod 700 "$JPSTART_PG_DIR"
    export JPSTART_PG_DIR JPSTART_PG_BIN="$bindir"

    runuser -u postgres -- "$bindir/initdb" -D "$JPSTART_PG_DIR/data" \
        --auth=trust --username=postgres --encoding=UTF8 --locale=C.UTF-8 >/dev/null || return 1
    # max_connections: every test server holds a pool of up to 16, and the
    # suite runs many tests in parallel. fsync off: a throwaway cluster.
    runuser -u postgres -- "$bindir/pg_ctl" -D "$JPSTART_PG_DIR/data" -l "$JPSTART_PG_DIR/log" -w -t 60 \
        -o "-p $port -k $JPSTART_PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=500 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null || { cat "$JPSTART_PG_DIR/log" >&2; return 1; }

    local i
    for i in $(seq 1 60); do
        if runuser -u postgres -- "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port"; then
            break
        fi
        sleep 0.5
    done
    runuser -u postgres -- "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" || {
        echo "50-postgres: the cluster does not accept connections" >&2
        cat "$JPSTART_PG_DIR/log" >&2
        return 1
    }
    export JPSTART_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
    export JPSTART_TEST_REQUIRE_POSTGRES=1
    echo "50-postgres: PostgreSQL ($("$bindir/postgres" --version)) on 127.0.0.1:$port, data in $JPSTART_PG_DIR"
}

pg_stop() {
    if [ -n "${JPSTART_PG_DIR:-}" ] && [ -d "$JPSTART_PG_DIR" ]; then
        runuser -u postgres -- "$JPSTART_PG_BIN/pg_ctl" -D "$JPSTART_PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
        rm -rf "$JPSTART_PG_DIR"
    fi
}

if pg_setup; then
    ci_on_exit pg_stop
    # Run directly rather than sourced: say how to use the cluster.
    if [ "${BASH_SOURCE[0]}" = "$0" ]; then
        echo "export JPSTART_TEST_POSTGRES_URL=$JPSTART_TEST_POSTGRES_URL"
    fi
else
    pg_stop
    echo "50-postgres: setup failed" >&2
    # `return` when sourced, `exit` when run.
    return 1 2>/dev/null || exit 1
fi
