# shellcheck shell=bash
# bench/lib.sh - shell helpers of bench/mx-bench.sh (sourced).
# Needs SB (../shared/bench), PFDIR (the Postfix instance) and W (mxgate's spool is $W/spool).

# both queues empty before a run: a relay still draining the previous run into its sink would
# load the disk under the other one. Bounded (60 s), then a warning.
drained() {
    local pf ours
    for _ in $(seq 1 600); do
        pf=$("$SB/postfix-relay.sh" qcount "$PFDIR" 2>/dev/null || echo 0)
        ours=$(find "$W/spool/input" "$W/spool/output" "$W/spool/deferred" -type f 2>/dev/null | wc -l)
        [ "$pf" = 0 ] && [ "$ours" = 0 ] && return 0
        sleep 0.1
    done
    echo "# warning: queues not drained (postfix=$pf mxgate=$ours)"
}
