#!/usr/bin/env bash
# Stop the single-node SLURM cluster that slurm/up.sh started.
#
# Why only the PIDs in $SLURM_LOCAL_DIR/daemons.pid: on a shared machine a munged or MariaDB
# that someone else runs must survive, so nothing is stopped by name. Daemons stop in the
# reverse order of their start (slurmd, slurmctld, slurmdbd, mariadbd, munged), each waited for,
# so slurmctld can still hand its last records to slurmdbd. Safe to call twice.
#
#   slurm/down.sh            stop the daemons; keep state, database and logs for the next up.sh
#   slurm/down.sh --purge    also delete $SLURM_LOCAL_DIR (jobs, accounting history, logs)
#   slurm/down.sh --quiet    print nothing unless something fails
set -euo pipefail

D=${SLURM_LOCAL_DIR:-/tmp/benchmark-slurm}
PIDFILE=$D/daemons.pid
STOP_WAIT_S=${SLURM_DOWN_TIMEOUT:-30}   # per daemon, after SIGTERM, before SIGKILL
QUIET= PURGE=
for arg in "$@"; do
    case $arg in
        --quiet) QUIET=1 ;;
        --purge) PURGE=1 ;;
        -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "[slurm/down] ERROR: unknown argument '$arg' (use --purge, --quiet or --help)" >&2; exit 2 ;;
    esac
done

say() { [[ -n $QUIET ]] || echo "[slurm/down] $*"; }
fail() { echo "[slurm/down] ERROR: $*" >&2; exit 1; }

# Same test as up.sh: the PID is still that program and not a zombie (never a reused PID).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # alive PID NAME

wait_gone() {  # pid name seconds
    local end=$((SECONDS + $3))
    while alive "$1" "$2"; do
        ((SECONDS < end)) || return 1
        sleep 0.1
    done
}

stuck=()
if [[ ! -s $PIDFILE ]]; then
    say "nothing to stop (no $PIDFILE)"
else
    [[ $(id -u) == 0 ]] || fail "must run as root to stop the daemons listed in $PIDFILE"
    mapfile -t lines <"$PIDFILE"
    for ((i = ${#lines[@]} - 1; i >= 0; i--)); do
        read -r name pid <<<"${lines[i]}"
        [[ -n ${pid:-} ]] || continue
        if ! alive "$pid" "$name"; then
            say "$name (pid $pid) already gone"
            continue
        fi
        kill -TERM "$pid" 2>/dev/null || true
        if wait_gone "$pid" "$name" "$STOP_WAIT_S"; then
            say "stopped $name (pid $pid)"
        else
            kill -KILL "$pid" 2>/dev/null || true
            if wait_gone "$pid" "$name" 5; then
                say "killed $name (pid $pid): it ignored SIGTERM for ${STOP_WAIT_S}s"
            else
                stuck+=("$name:$pid")
            fi
        fi
    done
    ((${#stuck[@]} == 0)) || fail "could not stop ${stuck[*]} (still alive after SIGKILL); pid file $PIDFILE kept"
    rm -f "$PIDFILE"
fi

# Jobs still running when slurmd stopped keep their slurmstepd; they are not daemons of
# up.sh, so they are reported, not killed (the next up.sh's slurmd picks them up again).
if steps=$(pgrep -x slurmstepd 2>/dev/null | tr '\n' ' ') && [[ -n $steps ]]; then
    say "note: job steps still running (slurmstepd pids: $steps); scancel their jobs before down.sh to avoid this"
fi

if [[ -n $PURGE ]]; then
    if [[ -d $D/state/slurmctld || -d $D/log ]]; then
        rm -rf -- "$D"
        say "deleted $D"
    elif [[ -e $D ]]; then
        fail "not deleting $D: it does not look like an up.sh directory (no state/slurmctld or log/)"
    fi
fi
