#!/bin/sh
# Creates the test certificate authority and one server certificate signed by it, once.
# SAN: localhost, the XMPP domain and MUC domain, the IRC server name, 127.0.0.1 and ::1.
# Existing files are kept, so clients that trust the CA keep working across restarts.
#
# Usage: certs.sh DIR   (environment: XMPP_DOMAIN, XMPP_MUC_DOMAIN, IRC_SERVER_NAME)
# Writes DIR/ca.pem, DIR/ca.key, DIR/server.pem (leaf then CA), DIR/server.key.
# POSIX sh and openssl only, so that the same file runs in compose/up and in a container.
set -eu
dir=$1
: "${XMPP_DOMAIN:?}" "${XMPP_MUC_DOMAIN:?}" "${IRC_SERVER_NAME:?}"

if [ -s "$dir/ca.pem" ] && [ -s "$dir/ca.key" ] && [ -s "$dir/server.pem" ] && [ -s "$dir/server.key" ] \
  && openssl verify -CAfile "$dir/ca.pem" "$dir/server.pem" >/dev/null 2>&1; then
  exit 0
fi

mkdir -p "$dir"
chmod 755 "$dir"
cd "$dir"

umask 077
openssl req -x509 -new -newkey rsa:2048 -nodes -sha256 -days 3650 \
  -subj "/O=Gangway test/CN=Gangway test CA" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout ca.key -out ca.pem 2>/dev/null

san="DNS:localhost"
for name in "$XMPP_DOMAIN" "$XMPP_MUC_DOMAIN" "$IRC_SERVER_NAME"; do
  case ",$san," in
    *",DNS:$name,"*) ;;
    *) san="$san,DNS:$name" ;;
  esac
done
cat > server.ext <<EXT
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=$san,IP:127.0.0.1,IP:::1
EXT
openssl req -new -newkey rsa:2048 -nodes -sha256 \
  -subj "/O=Gangway test/CN=localhost" \
  -keyout server.key -out server.csr 2>/dev/null
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
  -days 3650 -sha256 -extfile server.ext -out server.crt 2>/dev/null
cat server.crt ca.pem > server.pem
rm -f server.csr server.crt server.ext ca.srl
chmod 644 ca.pem server.pem
chmod 600 ca.key server.key
openssl verify -CAfile ca.pem server.pem >/dev/null
