#!/usr/bin/env bash
# Container health checks: one protocol-level exchange with the server in this container,
# using bash's /dev/tcp (the images have no Node). The ports come from compose/.env, which
# docker-compose.yml passes to every container as its environment.
#
# Usage: healthcheck.sh {activemq|rabbitmq|prosody|ngircd|inspircd|atheme|redis|gangway}
set -euo pipefail
host=127.0.0.1

# exchange PORT REQUEST PATTERN: sends REQUEST (printf %b escapes), then reads until the
# reply matches the extended regular expression PATTERN (success), the server closes, or 5 s.
# NUL bytes end each read and are dropped.
exchange() {
  local reply='' chunk status deadline=$((SECONDS + 5))
  exec 3<>"/dev/tcp/$host/$1"
  printf '%b' "$2" >&3
  while [ "$SECONDS" -lt "$deadline" ]; do
    chunk=''
    status=0
    IFS= read -r -t 1 -n 1024 -d '' chunk <&3 || status=$?
    reply+=$chunk
    if grep -Eq "$3" <<<"$reply"; then
      exec 3>&-
      return 0
    fi
    if [ "$status" -ne 0 ] && [ -z "$chunk" ]; then break; fi
  done
  exec 3>&-
  echo "no reply matching '$3' on port $1; got: ${reply:0:200}" >&2
  return 1
}

case ${1:-} in
  activemq)
    exchange "$ACTIVEMQ_STOMP_PORT" "CONNECT\naccept-version:1.2\nhost:localhost\nlogin:$ACTIVEMQ_USER\npasscode:$ACTIVEMQ_PASSWORD\n\n\0" '^CONNECTED' ;;
  rabbitmq)
    exchange "$RABBITMQ_AMQP_PORT" 'AMQP\0\0\011\001' 'capabilities' \
      && exchange "$RABBITMQ_STOMP_PORT" "CONNECT\naccept-version:1.2\nhost:$RABBITMQ_VHOST\nlogin:$RABBITMQ_GANGWAY_USER\npasscode:$RABBITMQ_GANGWAY_PASSWORD\n\n\0" '^CONNECTED' ;;
  prosody)
    exchange "$XMPP_C2S_PORT" "<?xml version='1.0'?><stream:stream to='$XMPP_DOMAIN' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>" 'urn:ietf:params:xml:ns:xmpp-tls' ;;
  ngircd)
    exchange "$IRC_PORT" 'NICK health\r\nUSER health 0 * :health\r\nQUIT\r\n' '^:[^ ]+ 001 ' ;;
  inspircd)
    exchange "$INSPIRCD_PORT" 'STARTTLS\r\n' '^:[^ ]+ 670 ' ;;
  atheme)
    # InspIRCd (in its own container) lists sasl while Atheme is linked. A whole SASL login
    # needs to wait for each answer, which one exchange cannot: compose/up's probe does that.
    host=$INSPIRCD_HOST exchange "$INSPIRCD_PORT" 'CAP LS 302\r\n' '^:[^ ]+ CAP \* LS .*[ :]sasl' ;;
  redis)
    exchange "$REDIS_PORT" 'PING\r\n' '^\+PONG' ;;
  gangway)
    # The management service of the built-in configuration: /health answers 200 with a JSON body.
    exchange "$GANGWAY_PORT" "GET /health HTTP/1.0\r\nHost: $host:$GANGWAY_PORT\r\n\r\n" '^HTTP/1\.[01] 200 ' ;;
  *)
    echo "usage: healthcheck.sh {activemq|rabbitmq|prosody|ngircd|inspircd|atheme|redis|gangway}" >&2
    exit 2 ;;
esac
