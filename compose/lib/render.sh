#!/bin/sh
# Renders a configuration template: every ${NAME} (capitals, digits, underscore) is replaced by
# the value of the environment variable NAME. Lower-case placeholders such as ${activemq.base}
# are left for the server to expand. An undefined variable is an error naming the template,
# the line and the variable, and nothing is written.
#
# Usage: render.sh TEMPLATE OUTPUT
# POSIX sh and awk only, so that the same file runs in compose/up and inside every container.
set -eu
if [ "$#" -ne 2 ]; then
  echo "usage: render.sh TEMPLATE OUTPUT" >&2
  exit 2
fi
template=$1
output=$2
tmp="$output.tmp.$$"
awk -v template="$template" '
  {
    line = $0
    out = ""
    while (match(line, /\$\{[A-Z_][A-Z0-9_]*\}/)) {
      name = substr(line, RSTART + 2, RLENGTH - 3)
      if (!(name in ENVIRON)) {
        printf "%s:%d: ${%s} is not defined (compose/.env)\n", template, NR, name > "/dev/stderr"
        failed = 1
        exit 1
      }
      out = out substr(line, 1, RSTART - 1) ENVIRON[name]
      line = substr(line, RSTART + RLENGTH)
    }
    print out line
  }
' "$template" > "$tmp" || { rm -f "$tmp"; exit 1; }
mv "$tmp" "$output"
