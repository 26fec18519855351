# Shared by up.sh and down.sh (sourced, not run).
# A PID counts as ours only while /proc says it is that program and not a zombie: daemons are
# reparented to PID 1, which in containers may never reap them, and a PID can be reused.
alive() {  # pid name
    local pid=$1 name=$2 comm state
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
    [[ $comm == "$name" ]] || return 1
    state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
    [[ $state != Z && $state != X ]]
}
