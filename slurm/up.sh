#!/usr/bin/env bash
# Bring up a REAL single-node SLURM cluster on this Debian machine (run as root).
#
# Why: CI and anyone trying `launcher=slurm` on one machine need the same sbatch / sacct /
# scontrol that a real cluster has; submitit reads job state only through `sacct`, so the
# accounting daemon (slurmdbd + MariaDB) is part of the cluster, not an extra.
#
# Starts, in this order and each only once the previous one answers:
#   munged -> mariadbd -> slurmdbd -> slurmctld -> slurmd, then waits until `sinfo` shows the
# node idle. Every PID it starts goes to $SLURM_LOCAL_DIR/daemons.pid; slurm/down.sh stops
# exactly those. State, logs and the database live under $SLURM_LOCAL_DIR
# (default /tmp/benchmark-slurm); only the configs the clients must find are in /etc/slurm.
# Idempotent: a healthy cluster is reported and left alone. See slurm/README.md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
D=${SLURM_LOCAL_DIR:-/tmp/benchmark-slurm}
CLUSTER=${SLURM_CLUSTER_NAME:-benchmark}
WAIT_S=${SLURM_UP_TIMEOUT:-40}           # per daemon
PIDFILE=$D/daemons.pid
DB_SOCKET=$D/run/mysqld.sock
CONF=/etc/slurm/slurm.conf
DBD_CONF=/etc/slurm/slurmdbd.conf
MARKER="# Written by the benchmark's slurm/up.sh"
PACKAGES=(munge slurm-client slurmctld slurmd slurmdbd mariadb-server)
T0=$(date +%s%N)

elapsed() { local ms=$((($(date +%s%N) - T0) / 1000000)); printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)); }
say() { echo "[slurm/up] $*"; }
fail() { echo "[slurm/up] ERROR: $*" >&2; exit 1; }

# One clear line last (with the daemon's own last error), after the log tails that explain it;
# then undo the half start so the next up.sh begins clean.
daemon_failed() {  # name message logfile...
    local name=$1 msg=$2 log lines=25 why
    shift 2
    for log in "$@"; do
        [[ -s $log ]] || continue
        echo "----- last $lines lines of $log -----" >&2
        tail -n "$lines" "$log" >&2
        lines=8  # the others mostly repeat the first (foreground daemons echo their log)
    done
    echo "-----" >&2
    why=$(cat "$@" 2>/dev/null | grep -iE 'fatal|error' | grep -v pmix | tail -n1 | sed 's/^\[[^]]*\] *//') || true
    SLURM_LOCAL_DIR=$D "$HERE/down.sh" --quiet >&2 || true
    fail "$name did not come up: $msg${why:+ ($why)}; all logs in $D/log"
}

[[ $(id -u) == 0 ]] || fail "must run as root (it installs packages and writes /etc/slurm); try: sudo $0"

# --- 0. packages -------------------------------------------------------------------------
ensure_packages() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    command -v apt-get >/dev/null || fail "packages ${missing[*]} missing and no apt-get here: install them by hand"
    say "installing ${missing[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    # Keep the packages' maintainer scripts from starting Debian's own daemons: this script
    # starts its own, with its own config, and two of each would fight over the ports.
    local guard=
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
        guard=1
    fi
    local ok=1
    # apt-get update only if needed: no candidate known, or the known versions are stale.
    if ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then apt-get update -q || true; fi
    if ! apt-get install -y -q "${missing[@]}"; then
        apt-get update -q || true
        apt-get install -y -q "${missing[@]}" || ok=
    fi
    [[ -n $guard ]] && rm -f /usr/sbin/policy-rc.d
    [[ -n $ok ]] || fail "apt-get install ${missing[*]} failed (see apt output above)"
}
ensure_packages

# --- helpers over the pid file -----------------------------------------------------------
# A PID counts as ours only while /proc says it is that program and not a zombie (the daemons
# are reparented to PID 1, which in containers may never reap them).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # alive PID NAME

node_state() { timeout 10 sinfo -h -N -n "$NODE" -o %t 2>/dev/null | head -n1 || true; }

NODE_LINE=$(slurmd -C | head -n1)
NODE=$(sed -n 's/^NodeName=\([^ ]*\).*/\1/p' <<<"$NODE_LINE")
[[ -n $NODE ]] || fail "could not read the node name from 'slurmd -C' (got: $NODE_LINE)"

healthy() {
    [[ -s $PIDFILE && -f $CONF ]] || return 1
    local name pid
    while read -r name pid; do alive "$pid" "$name" || return 1; done <"$PIDFILE"
    [[ $(node_state) =~ ^(idle|mix|alloc|comp)$ ]]
}

# Two up.sh at once (e.g. two test sessions) would start every daemon twice: take turns.
mkdir -p "$D"
exec 9>"$D/up.lock"
flock -w 120 9 || fail "another slurm/up.sh holds $D/up.lock for over 120 s"

if healthy; then
    say "cluster '$CLUSTER' already up and healthy (node $NODE $(node_state); pids in $PIDFILE); nothing to do"
    exit 0
fi
if [[ -s $PIDFILE ]]; then
    say "a previous cluster in $D is only partly up; stopping what is left of it first"
    SLURM_LOCAL_DIR=$D "$HERE/down.sh"
fi

mkdir -p "$D"/{log,run,state/slurmctld,state/slurmd,mysql}
: >"$PIDFILE"

# Start a daemon in the foreground of its own session, so $! is the daemon itself.
start() {  # name cmd...
    local name=$1; shift
    setsid "$@" </dev/null >>"$D/log/$name.out" 2>&1 9>&- &  # 9: the lock, not for daemons
    local pid=$!
    echo "$name $pid" >>"$PIDFILE"
    say "started $name (pid $pid)"
    STARTED_PID=$pid
}

# Poll until `check` succeeds; fail (with the logs) if the daemon dies or time runs out.
wait_for() {  # name pid check-function logfile...
    local name=$1 pid=$2 check=$3; shift 3
    local end=$(($(date +%s) + WAIT_S))
    while ! "$check"; do
        sleep 0.2
        # Only "still running" here: for a moment the PID is still setsid/setpriv, not $name.
        [[ -e /proc/$pid && $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]] ||
            daemon_failed "$name" "process $pid exited" "$@"
        (($(date +%s) < end)) || daemon_failed "$name" "no answer after ${WAIT_S}s" "$@"
    done
}

# --- 1. munge ----------------------------------------------------------------------------
munge_ok() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }
if [[ ! -s /etc/munge/munge.key ]]; then
    say "creating /etc/munge/munge.key"
    install -d -o munge -g munge -m 0700 /etc/munge
    mungekey --create --keyfile=/etc/munge/munge.key 2>/dev/null ||
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
fi
chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
if munge_ok; then
    say "munged already running (not started by this script, left alone)"
else
    # Debian runs munged as the munge user; its socket dir /run/munge is made by systemd.
    install -d -o munge -g munge -m 0755 /run/munge
    install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge
    start munged setpriv --reuid=munge --regid=munge --init-groups munged --foreground
    wait_for munged "$STARTED_PID" munge_ok "$D/log/munged.out" /var/log/munge/munged.log
fi

# --- 2. MariaDB (private instance: own datadir, unix socket only) -------------------------
if [[ ! -d $D/mysql/mysql ]]; then
    say "initialising MariaDB data directory $D/mysql"
    mariadb-install-db --no-defaults --datadir="$D/mysql" --user=root \
        --auth-root-authentication-method=socket --skip-test-db >"$D/log/mariadb-install.out" 2>&1 ||
        daemon_failed mariadbd "mariadb-install-db failed" "$D/log/mariadb-install.out"
fi
rm -f "$DB_SOCKET"
start mariadbd mariadbd --no-defaults --user=root --datadir="$D/mysql" --socket="$DB_SOCKET" \
    --pid-file="$D/run/mariadbd.pid" --log-error="$D/log/mariadb.log" \
    --skip-networking --skip-name-resolve --innodb-buffer-pool-size=128M \
    --innodb-lock-wait-timeout=900
db_ok() { [[ -S $DB_SOCKET ]] && mariadb --no-defaults -S "$DB_SOCKET" -u root -e 'SELECT 1' >/dev/null 2>&1; }
wait_for mariadbd "$STARTED_PID" db_ok "$D/log/mariadb.log" "$D/log/mariadbd.out"

# --- 3. configs ----------------------------------------------------------------------------
# /etc/slurm/slurm.conf is where every client (sbatch, sacct, scontrol called by submitit from
# the user's own environment) looks without SLURM_CONF. Someone else's file is kept aside.
mkdir -p /etc/slurm
for f in "$CONF" "$DBD_CONF"; do
    if [[ -f $f ]] && ! grep -qF "$MARKER" "$f"; then
        backup="$f.before-benchmark.$(date +%Y%m%d%H%M%S)"
        mv "$f" "$backup"
        say "moved the existing $f to $backup"
    fi
done

# RealMemory: 97% of what slurmd measures, so a VM's balloon shrinking memory a little does
# not drain the node ("Low RealMemory").
MEM=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$NODE_LINE")
NODE_DEF=$(sed "s/RealMemory=[0-9]*/RealMemory=$((MEM * 97 / 100))/" <<<"$NODE_LINE")

cat >"$CONF.tmp" <<EOF
$MARKER on $(date -Is); regenerated on every start.
# Single-node test cluster; why each setting is here: slurm/README.md.
ClusterName=$CLUSTER
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# Short credential life: a requeued job may start again after 10 s instead of minutes.
AuthInfo=cred_expire=10
StateSaveLocation=$D/state/slurmctld
SlurmdSpoolDir=$D/state/slurmd
SlurmctldPidFile=$D/run/slurmctld.pid
SlurmdPidFile=$D/run/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
MpiDefault=none
ReturnToService=2
# No cgroups on this kind of machine.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# Cores are the consumable resource (not memory), so two 1-CPU jobs run side by side.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
KillWait=10
JobRequeue=1
# A job in 'urgent' preempts (requeues) jobs in 'debug'; the job first gets its --signal
# (submitit: USR2) and GraceTime seconds to checkpoint.
PreemptType=preempt/partition_prio
PreemptMode=REQUEUE
SlurmctldParameters=preempt_send_user_signal
# submitit reads job state only through sacct: accounting is required.
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
$NODE_DEF NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP PriorityTier=1 PreemptMode=REQUEUE GraceTime=20
PartitionName=urgent Nodes=$NODE MaxTime=INFINITE State=UP PriorityTier=10 PreemptMode=OFF
EOF
mv "$CONF.tmp" "$CONF" && chmod 644 "$CONF"

(umask 077 && cat >"$DBD_CONF.tmp" <<EOF
$MARKER on $(date -Is); regenerated on every start.
AuthType=auth/munge
DbdHost=$NODE
DbdAddr=127.0.0.1
SlurmUser=root
LogFile=$D/log/slurmdbd.log
PidFile=$D/run/slurmdbd.pid
StorageType=accounting_storage/mysql
# localhost = MariaDB's unix socket (MYSQL_UNIX_PORT below); the server has no TCP port.
StorageHost=localhost
StorageUser=root
StorageLoc=slurm_acct_db
EOF
)
mv "$DBD_CONF.tmp" "$DBD_CONF" && chmod 600 "$DBD_CONF"
say "wrote $CONF and $DBD_CONF (node: $NODE_DEF)"

# --- 4. slurmdbd, cluster record ------------------------------------------------------------
start slurmdbd env MYSQL_UNIX_PORT="$DB_SOCKET" slurmdbd -D
dbd_ok() { timeout 10 sacctmgr -n -P show cluster format=cluster >/dev/null 2>&1; }
wait_for slurmdbd "$STARTED_PID" dbd_ok "$D/log/slurmdbd.log" "$D/log/slurmdbd.out"
if ! sacctmgr -n -P show cluster format=cluster | grep -qx "$CLUSTER"; then
    sacctmgr -i add cluster "$CLUSTER" >/dev/null
    say "added cluster '$CLUSTER' to the accounting database"
fi

# --- 5. slurmctld, slurmd ------------------------------------------------------------------------
start slurmctld slurmctld -D
ctld_ok() { timeout 10 scontrol ping 2>/dev/null | grep -q 'is UP'; }
wait_for slurmctld "$STARTED_PID" ctld_ok "$D/log/slurmctld.log" "$D/log/slurmctld.out"

start slurmd slurmd -D
SLURMD_PID=$STARTED_PID
resumed=
node_ok() {
    local s
    s=$(node_state)
    # A node left down/drained by an earlier run is put back once it has registered.
    if [[ -z $resumed && $s =~ ^(down|drain|drng)$ ]]; then
        scontrol update nodename="$NODE" state=resume 2>/dev/null || true
        resumed=1
    fi
    [[ $s == idle || $s == mix || $s == alloc ]]
}
wait_for slurmd "$SLURMD_PID" node_ok "$D/log/slurmd.log" "$D/log/slurmd.out" "$D/log/slurmctld.log"

say "cluster '$CLUSTER' up in $(elapsed) s: partitions debug (default), urgent; pids in $PIDFILE; logs in $D/log"
sinfo
