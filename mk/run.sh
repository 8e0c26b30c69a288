#!/bin/bash
# mk/run.sh - "make run": mxgate on its demo configuration (examples/demo/main.cf)
#   SMTP        127.0.0.1:$SMTP (STARTTLS with a self-signed certificate made in run/tls/)
#   example.test   local: Maildirs under run/maildir/USER/ (users admin, alice, bob;
#                  postmaster and abuse are aliases of admin)
#   other domains  relayed to a demo sink on 127.0.0.1:2526 that stores run/sink/NNNNNN.eml
#   scanning    SpamAssassin's rules in the built-in engine, libclamav with the test signatures in tests/data/clamav
#   status page http://127.0.0.1:$HTTP/ (metrics at /metrics); the secret is in run/secret
# Everything it writes is under run/. Stop with Ctrl-C (both processes stop cleanly).
# tests/system/test_demo.py runs this script as it is, elsewhere: MXGATE_RUN_DIR (default
# run), MXGATE_RUN_SMTP_PORT (2525), MXGATE_RUN_SINK_PORT (2526), MXGATE_RUN_HTTP_PORT (8025).
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
run=${MXGATE_RUN_DIR:-run}
SMTP=${MXGATE_RUN_SMTP_PORT:-2525}
SINK_PORT=${MXGATE_RUN_SINK_PORT:-2526}
HTTP=${MXGATE_RUN_HTTP_PORT:-8025}
mkdir -p "$run"/tls "$run"/sink "$run"/maildir
RUN=$(cd "$run" && pwd)
if [ ! -s "$run"/tls/cert.pem ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=gw.example.test" \
        -keyout "$run/tls/key.pem" -out "$run/tls/cert.pem" 2>/dev/null
    chmod 600 "$run/tls/key.pem"
    echo "make run: made a self-signed certificate in $run/tls/"
fi
if [ ! -s "$run/secret" ]; then
    (umask 077; head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$run/secret")
fi
# the EICAR test file, for the third swaks command (harmless by design; see eicar.org)
printf '%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' > "$run/eicar.com"
sed -e "s|@TOP@|$TOP|g" -e "s|@RUN@|$RUN|g" -e "s|@SMTP@|$SMTP|g" -e "s|@SINK@|$SINK_PORT|g" \
    -e "s|@HTTP@|$HTTP|g" examples/demo/main.cf > "$run"/main.cf
# the gateway runs as mail_owner (mxgate) after binding its ports: it writes the Maildirs
if [ "$(id -u)" = 0 ] && getent passwd mxgate >/dev/null; then
    chown mxgate: "$run/maildir"
fi
BIN=${MXGATE_BIN:-build/mxgate}
"$BIN" check -c "$run"/main.cf >/dev/null
/usr/bin/python3 tests/system/sink.py --listen 127.0.0.1:$SINK_PORT --dir "$run"/sink &
SINK=$!
trap 'kill $SINK 2>/dev/null; wait $SINK 2>/dev/null || true' EXIT
cat <<TXT

make run: mxgate on 127.0.0.1:$SMTP with $run/main.cf (from examples/demo/main.cf)
  status page  http://127.0.0.1:$HTTP/   (release/delete asks for the secret: cat $run/secret)
  metrics      curl -s http://127.0.0.1:$HTTP/metrics

From another terminal, send the three test messages:
  swaks --server 127.0.0.1:$SMTP --tls --from alice@example.org --to postmaster@example.test \\
        --header 'Subject: hello' --body 'A clean message.'
  swaks --server 127.0.0.1:$SMTP --from spammer@example.org --to alice@example.test \\
        --header 'Subject: cheap pills' \\
        --body 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X'
  swaks --server 127.0.0.1:$SMTP --from alice@example.org --to bob@example.test \\
        --header 'Subject: the report' --attach @$run/eicar.com

Where to look:
  $run/maildir/admin/new/   the clean message (postmaster is an alias of admin)
  $run/maildir/alice/new/   the GTUBE message, Subject tagged {Spam?}, X-Spam-* headers
  $run/maildir/bob/new/     the EICAR message with the attachment replaced, Subject {Virus?}
  build/mxgate queue list -c $run/main.cf --state quarantine   the infected original
  build/mxgate queue show -c $run/main.cf ID                   one message: envelope, verdict
  this terminal            one log line per event (event=queued, scanned, delivered, ...)

TXT
rc=0
"$BIN" serve -c "$run"/main.cf || rc=$?
exit $rc
