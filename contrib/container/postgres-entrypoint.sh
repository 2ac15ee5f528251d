#!/bin/sh
# The entrypoint of the STAND-IN PostgreSQL image (contrib/container/postgres-rootfs.sh),
# run by busybox's shell: what the official image's docker-entrypoint.sh does with its
# environment, in short. On an empty data directory ($PGDATA) it runs initdb with
# superuser POSTGRES_USER (default postgres) whose password is POSTGRES_PASSWORD
# (required), lets every host in with that password (scram-sha-256), makes the database
# POSTGRES_DB (default POSTGRES_USER) and listens on all the container's interfaces;
# then, as on every start, it runs the server. It runs as the image's user, never root.
# Not handled: /docker-entrypoint-initdb.d, POSTGRES_HOST_AUTH_METHOD, *_FILE variables.
set -eu

if [ "${1#-}" != "$1" ]; then
  set -- postgres "$@"
fi

if [ "$1" = postgres ]; then
  : "${PGDATA:=/var/lib/postgresql/data}"
  : "${POSTGRES_USER:=postgres}"
  : "${POSTGRES_DB:=$POSTGRES_USER}"
  if [ "$(id -u)" = 0 ]; then
    echo "docker-entrypoint.sh: run this image as its user postgres, not root" >&2
    exit 1
  fi
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
      echo "docker-entrypoint.sh: the database is uninitialized and POSTGRES_PASSWORD is not set" >&2
      exit 1
    fi
    mkdir -p "$PGDATA"
    chmod 0700 "$PGDATA"
    # The official image's cluster is en_US.utf8; this root has no locales: C, UTF8.
    printf '%s\n' "$POSTGRES_PASSWORD" |
      initdb --username="$POSTGRES_USER" --pwfile=/dev/stdin --encoding=UTF8 --locale=C \
        ${POSTGRES_INITDB_ARGS:-} -D "$PGDATA"
    printf 'host all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
    printf "listen_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
    if [ "$POSTGRES_DB" != postgres ]; then
      # The single-user server: nothing listens before the database is there.
      name=$(printf '%s' "$POSTGRES_DB" | sed 's/"/""/g')
      printf 'CREATE DATABASE "%s";\n' "$name" |
        postgres --single -D "$PGDATA" postgres >/dev/null
    fi
    echo "docker-entrypoint.sh: PostgreSQL init process complete; ready for start up."
  fi
fi

exec "$@"
