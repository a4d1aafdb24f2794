-- Prosody for Gangway's tests and demos. Template: ${...} is filled from compose/.env by
-- compose/lib/render.sh (compose/up on the host, compose/lib/container-entry.sh in Docker).
-- Loopback-only test server: test users, self-signed certificates from the test CA.

admins = { }
plugin_paths = { "/usr/local/lib/prosody/modules" }

-- Stream management (smacks) stays off: @xmpp/client 0.14 races with resumption.
modules_enabled = {
  "disco"; "roster"; "saslauth"; "tls"; "ping"; "carbons"; "pep"; "private"; "blocklist";
  "time"; "version"; "posix"; "websocket"; "bosh"; "http";
}
modules_disabled = { }

pidfile = "${STATE_DIR}/prosody/prosody.pid"
data_path = "${STATE_DIR}/prosody/data"
-- Logs go to the console; compose/up sends them to compose/.state/logs/prosody.log.
log = { { levels = { min = "info" }; to = "console" } }

-- Stanzas leave as soon as they are written: with Nagle's algorithm (Prosody's default) a
-- stanza waits behind an unacknowledged one for the peer's delayed ACK, up to 40 ms on Linux.
network_settings = { nagle = false }

interfaces = { "${BIND_ADDRESS}" }
local_interfaces = { "${BIND_ADDRESS}" }
c2s_ports = { ${XMPP_C2S_PORT} }
c2s_direct_tls_ports = { ${XMPP_C2S_DIRECT_TLS_PORT} }
s2s_ports = { }
http_ports = { ${XMPP_HTTP_PORT} }
http_interfaces = { "${BIND_ADDRESS}" }
https_ports = { ${XMPP_HTTPS_PORT} }
https_interfaces = { "${BIND_ADDRESS}" }

-- STARTTLS is offered on c2s and required before authentication (the test host relaxes this below).
c2s_require_encryption = true
s2s_require_encryption = true
s2s_secure_auth = false
allow_registration = false
authentication = "internal_hashed"
storage = "internal"

-- Gangway terminates TLS in front of /xmpp-websocket and /http-bind.
consider_websocket_secure = true
consider_bosh_secure = true

certificates = "${STATE_DIR}/prosody/certs"
ssl = {
  certificate = "${STATE_DIR}/prosody/certs/server.pem";
  key = "${STATE_DIR}/prosody/certs/server.key";
}
https_ssl = {
  certificate = "${STATE_DIR}/prosody/certs/server.pem";
  key = "${STATE_DIR}/prosody/certs/server.key";
}

VirtualHost "${XMPP_DOMAIN}"
  -- STARTTLS stays offered but is not required on this host, so that Gangway's xmpp.proxy can
  -- reach c2s over plain TCP (tests record the bytes on that link). SASL PLAIN is still offered
  -- only on encrypted streams (allow_unencrypted_plain_auth stays false); SCRAM-SHA-1 works on both.
  c2s_require_encryption = false

VirtualHost "${XMPP_SECURE_DOMAIN}"
  -- Encryption required before authentication, as on a production server: Gangway's xmpp.proxy
  -- with `starttls` upgrades the link itself and injects the credential after the handshake.
  c2s_require_encryption = true

-- Rooms open at once for their first occupant (no XEP-0045 instant-room configuration step).
Component "${XMPP_MUC_DOMAIN}" "muc"
  restrict_room_creation = false
  muc_room_locking = false
