#!/bin/bash
# mk/run.sh - "make run": a gateway on 127.0.0.1:2525 (the built-in default
# configuration) relaying to a demo sink on 127.0.0.1:2526 that stores every
# message it receives under run/sink/ (NNNNNN.eml + NNNNNN.json).
# STARTTLS uses run/tls/cert.pem, a self-signed certificate made here if
# missing. The queue is /var/spool/mxgate (the default queue_directory).
# Stop with Ctrl-C (SIGTERM/SIGINT stop both, cleanly).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p run/tls run/sink
if [ ! -s run/tls/cert.pem ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=$(hostname)" \
        -keyout run/tls/key.pem -out run/tls/cert.pem 2>/dev/null
    chmod 600 run/tls/key.pem
    echo "make run: generated a self-signed certificate in run/tls/"
fi
/usr/bin/python3 tests/system/sink.py --listen 127.0.0.1:2526 --dir run/sink &
SINK=$!
trap 'kill $SINK 2>/dev/null; wait $SINK 2>/dev/null' EXIT
sleep 0.3
cat <<TXT
make run: mxgate on 127.0.0.1:2525 -> demo sink 127.0.0.1:2526 (messages land in run/sink/)
          try:  swaks --server 127.0.0.1:2525 --from you@example.org --to someone@example.net --tls
TXT
build/mxgate serve -o smtpd_tls_cert_file="$PWD/run/tls/cert.pem" -o smtpd_tls_key_file="$PWD/run/tls/key.pem"
