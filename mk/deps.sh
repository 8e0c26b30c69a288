#!/bin/bash
# mk/deps.sh - install what mxgate needs to build, run and test, if missing.
# Debian 12; installs with apt-get as root. Idempotent and quick when
# everything is present (dpkg-query only). Also creates the unprivileged
# "mxgate" user that the gateway switches to after binding its ports, and "mxgate-scan",
# the user of its scanner processes.
set -euo pipefail

PKGS=(
    build-essential pkg-config
    libevent-dev libssl-dev libc-ares-dev libcmocka-dev   # build
    libgmime-3.0-dev libpcre2-dev libclamav-dev libjansson-dev   # scanning: MIME, rules, anti-virus, rspamd JSON
    libseccomp-dev                                        # the scanner processes' system-call filter
    clang libclang-rt-14-dev                              # libFuzzer (make fuzz)
    openssl                                               # self-signed cert for make run / tests
    postfix swaks                                         # smtp-source, smtp-sink, swaks: real peers in tests
    python3 python3-pytest                                # system tests
    dnsmasq-base                                          # the test DNS server (MX zones)
    clamav-daemon spamassassin spamc spamd rspamd         # real scanners started by the tests (offline)
    nsd clamdscan                                         # make bench: ../shared/bench/scanners-up.sh's DNSBL stub
    procps iproute2 psmisc                                # ps, ss, fuser used by tests
    chromium python3-websocket                            # the status page's test in headless Chromium (DevTools)
)

missing=()
for p in "${PKGS[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "mk/deps.sh: missing packages: ${missing[*]}; run as root (or: sudo apt-get install ${missing[*]})" >&2
        exit 1
    fi
    echo "mk/deps.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Postfix is only wanted for its smtp-source/smtp-sink tools: no system instance
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# mxgate: the gateway after its privilege drop (mail_owner); mxgate-scan: its scanner
# processes (scan_user), which must not be able to open the spool
for u in mxgate mxgate-scan; do
    if ! getent passwd "$u" >/dev/null; then
        if [ "$(id -u)" = 0 ]; then
            useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$u"
            echo "mk/deps.sh: created system user $u"
        else
            echo "mk/deps.sh: note: user $u does not exist (only needed when mxgate starts as root)" >&2
        fi
    fi
done
