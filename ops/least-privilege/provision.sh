#!/bin/sh
# Sets up one orderflow deployment (ORDERFLOW_NAMESPACE) for least privilege: the schema and
# the streams, created by their owner, then one user per process role on each engine, with
# only what that role does there. Safe to run again (after an upgrade, to change passwords).
#
#   ORDERFLOW_NAMESPACE            the deployment (keys, streams, subjects, user names)
#   ORDERFLOW_OWNER_DATABASE_URL   PostgreSQL as the database owner (or a superuser)
#   ORDERFLOW_NATS_ADMIN_URL       NATS as an administrator (nats://admin:PASSWORD@host:4222)
#   ORDERFLOW_REDIS_ADMIN_URL      Redis as a user that may run ACL SETUSER
#   ORDERFLOW_API_PASSWORD, ORDERFLOW_WORKER_PASSWORD, ORDERFLOW_SCHEDULER_PASSWORD,
#   ORDERFLOW_ADMIN_PASSWORD       the users' passwords (the same user on the three engines)
#
# NATS users live in the server's configuration, so they come first, before this script:
#   orderflow grants nats --nats-admin admin:PASSWORD > nats-users.conf
# then `include ./nats-users.conf` in nats-server.conf and `nats-server --signal reload`.
set -eu
: "${ORDERFLOW_NAMESPACE:?}" "${ORDERFLOW_OWNER_DATABASE_URL:?}" "${ORDERFLOW_NATS_ADMIN_URL:?}"
: "${ORDERFLOW_REDIS_ADMIN_URL:?}"
orderflow=${ORDERFLOW_BIN:-orderflow}

ORDERFLOW_DATABASE_URL=$ORDERFLOW_OWNER_DATABASE_URL ORDERFLOW_NATS_URL=$ORDERFLOW_NATS_ADMIN_URL \
  ORDERFLOW_REDIS_URL='' "$orderflow" migrate

"$orderflow" grants postgres | psql -q -v ON_ERROR_STOP=1 "$ORDERFLOW_OWNER_DATABASE_URL"
"$orderflow" grants redis | redis-cli -u "$ORDERFLOW_REDIS_ADMIN_URL" >/dev/null
# Kept across a Redis restart only if it has an aclfile (or put the lines in redis.conf).
if ! redis-cli -u "$ORDERFLOW_REDIS_ADMIN_URL" ACL SAVE 2>&1 | grep -q '^OK'; then
  echo 'Redis has no aclfile: its users last until it restarts (run this again then, or configure one)'
fi
