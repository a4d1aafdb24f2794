# Source this file (bash from any directory; a POSIX sh from the repository root) before starting Node processes that
# connect with TLS to the test back ends started by compose/up:
#
#   . compose/env.sh
#
# It exports NODE_EXTRA_CA_CERTS, which Node reads only at process start, so that every TLS
# client in the process (including @xmpp/client's STARTTLS, which takes no TLS options) trusts
# the test certificate authority. Returns non-zero, with a message, if the CA does not exist.
if [ -n "${BASH_SOURCE:-}" ]; then
  # shellcheck disable=SC3054 # bash only, guarded above
  gangway_compose_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
else
  # A POSIX shell does not tell a sourced file its own path: run it from the repository root.
  gangway_compose_dir=$(pwd)/compose
fi
gangway_ca_file=$(sed -n 's/^CA_FILE=//p' "$gangway_compose_dir/.env")
case $gangway_ca_file in
  /*) ;;
  *) gangway_ca_file=$(dirname "$gangway_compose_dir")/$gangway_ca_file ;;
esac
if [ -s "$gangway_ca_file" ]; then
  export NODE_EXTRA_CA_CERTS="$gangway_ca_file"
  unset gangway_compose_dir gangway_ca_file
else
  echo "compose/env.sh: no test CA at $gangway_ca_file; run compose/up first" >&2
  unset gangway_compose_dir gangway_ca_file
  # shellcheck disable=SC2317 # exit is for a shell that ran this file instead of sourcing it
  return 1 2>/dev/null || exit 1
fi
