#!/bin/sh
# Entry point of the back-end containers in docker-compose.yml: prepares one server from the
# same templates and table that compose/up uses on the host, then runs it in the foreground.
#
# Usage: container-entry.sh {activemq|rabbitmq|prosody|ngircd|inspircd|atheme|redis}
# Environment: compose/.env (env_file) plus the container overrides in docker-compose.yml
# (BIND_ADDRESS, STATE_DIR, RABBITMQ_GUEST_LOOPBACK_ONLY, ACTIVEMQ_AMQP_CONNECTOR, INSPIRCD_HOST,
# ATHEME_HOST, ATHEME_LINK_ALLOW).
# Mounts: compose/ at /compose (read-only), compose/.state/certs at $STATE_DIR/certs.
set -eu
lib=/compose/lib
: "${STATE_DIR:?}"

render() {
  mkdir -p "$(dirname "$2")"
  sh "$lib/render.sh" "$1" "$2"
}

# install_cert DIR OWNER: the server certificate and key, readable by the service user only.
install_cert() {
  mkdir -p "$1"
  cp "$STATE_DIR/certs/server.pem" "$1/server.pem"
  cp "$STATE_DIR/certs/server.key" "$1/server.key"
  chown -R "$2" "$1"
  chmod 750 "$1"
  chmod 600 "$1/server.key"
}

case ${1:-} in
  activemq)
    # The upstream image runs as user activemq; bin/activemq sets ${activemq.data}.
    render /compose/activemq/activemq.xml /tmp/activemq.xml
    exec "${ACTIVEMQ_HOME:-/opt/apache-activemq}/bin/activemq" console xbean:file:/tmp/activemq.xml
    ;;
  rabbitmq)
    # Last in conf.d, so that it overrides the image's own defaults (same keys).
    render /compose/rabbitmq/rabbitmq.conf /etc/rabbitmq/conf.d/90-gangway.conf
    # The gangway user, once the node is up (the same steps as compose/up). rabbitmqctl needs
    # the node's Erlang cookie, which lives in the rabbitmq user's home.
    (
      ctl() { HOME=/var/lib/rabbitmq rabbitmqctl -q "$@"; }
      ctl await_startup --timeout 120 \
        && { ctl list_users | awk '{print $1}' | grep -qx "$RABBITMQ_GANGWAY_USER" \
          || ctl add_user "$RABBITMQ_GANGWAY_USER" "$RABBITMQ_GANGWAY_PASSWORD"; } \
        && ctl set_permissions -p "$RABBITMQ_VHOST" "$RABBITMQ_GANGWAY_USER" '.*' '.*' '.*'
    ) &
    exec docker-entrypoint.sh rabbitmq-server
    ;;
  prosody)
    mkdir -p "$STATE_DIR/prosody/data"
    chown -R prosody:prosody "$STATE_DIR/prosody"
    install_cert "$STATE_DIR/prosody/certs" prosody:prosody
    render /compose/prosody/prosody.cfg.lua "$STATE_DIR/etc/prosody.cfg.lua"
    chmod 644 "$STATE_DIR/etc/prosody.cfg.lua"
    for user in $(echo "$XMPP_USERS" | tr ',' ' '); do
      var=XMPP_PASSWORD_$(echo "$user" | tr '[:lower:]' '[:upper:]')
      password=$(printenv "$var") || { echo "compose/.env has no $var" >&2; exit 1; }
      prosodyctl --config "$STATE_DIR/etc/prosody.cfg.lua" register "$user" "$XMPP_DOMAIN" "$password"
      prosodyctl --config "$STATE_DIR/etc/prosody.cfg.lua" register "$user" "$XMPP_SECURE_DOMAIN" "$password"
    done
    exec setpriv --reuid=prosody --regid=prosody --init-groups -- \
      prosody --config "$STATE_DIR/etc/prosody.cfg.lua" -F
    ;;
  ngircd)
    install_cert "$STATE_DIR/ngircd" irc:irc
    mkdir -p /var/run/ngircd
    chown irc:irc /var/run/ngircd
    render /compose/ngircd/ngircd.conf "$STATE_DIR/etc/ngircd.conf"
    exec ngircd --nodaemon --config "$STATE_DIR/etc/ngircd.conf"
    ;;
  inspircd)
    install_cert "$STATE_DIR/inspircd" irc:irc
    render /compose/inspircd/inspircd.conf "$STATE_DIR/etc/inspircd.conf"
    touch "$STATE_DIR/logs/inspircd.log" 2>/dev/null || { mkdir -p "$STATE_DIR/logs"; touch "$STATE_DIR/logs/inspircd.log"; }
    chown irc:irc "$STATE_DIR/logs/inspircd.log" "$STATE_DIR/inspircd"
    exec setpriv --reuid=irc --regid=irc --init-groups -- inspircd --nofork --config="$STATE_DIR/etc/inspircd.conf"
    ;;
  atheme)
    mkdir -p "$STATE_DIR/atheme"
    render /compose/atheme/atheme.conf "$STATE_DIR/etc/atheme.conf"
    render /compose/atheme/services.db "$STATE_DIR/atheme/services.db"
    chown -R irc:irc "$STATE_DIR/atheme"
    chmod 644 "$STATE_DIR/etc/atheme.conf"
    exec setpriv --reuid=irc --regid=irc --init-groups -- atheme-services -n -c "$STATE_DIR/etc/atheme.conf" \
      -D "$STATE_DIR/atheme" -l "$STATE_DIR/atheme/services.log" -p "$STATE_DIR/atheme/atheme.pid"
    ;;
  redis)
    mkdir -p "$STATE_DIR/redis"
    chown redis:redis "$STATE_DIR/redis"
    render /compose/redis/redis.conf "$STATE_DIR/etc/redis.conf"
    exec docker-entrypoint.sh redis-server "$STATE_DIR/etc/redis.conf"
    ;;
  *)
    echo "usage: container-entry.sh {activemq|rabbitmq|prosody|ngircd|inspircd|atheme|redis}" >&2
    exit 2
    ;;
esac
