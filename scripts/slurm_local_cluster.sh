#!/usr/bin/env bash
# A real single-node SLURM cluster on this machine, for tests/test_slurm.py and for trying `--executor slurm`.
#   scripts/slurm_local_cluster.sh install   apt-get install slurm-wlm and munge (Debian/Ubuntu, as root)
#   scripts/slurm_local_cluster.sh start     write a minimal slurm.conf, start munged, slurmctld and slurmd (unless their pid
#                                            files name live processes), and wait
#                                            until `sinfo` shows this host idle
#   scripts/slurm_local_cluster.sh stop      stop the three daemons named by their pid files (the config stays)
#   scripts/slurm_local_cluster.sh status    sinfo and squeue
# Needs root. The config (proctrack/linuxproc, task/none, select/cons_tres with CPUs as the consumable resource, no
# accounting storage) names this host with its CPUs and memory; an /etc/slurm/slurm.conf not written by this script
# is never overwritten. Daemon logs: /var/log/slurm/.
set -euo pipefail

CONF=/etc/slurm/slurm.conf
MARKER="# written by cskd scripts/slurm_local_cluster.sh"
STATE=/var/spool/cskd-slurm
LOGS=/var/log/slurm
MUNGE_PID=/run/munge/munged.pid
WAIT_S=${CSKD_SLURM_WAIT_S:-60}

need_root() {
    if [ "$(id -u)" != 0 ]; then
        echo "error: $0 $1 needs root (it installs packages or starts system daemons)" >&2
        exit 2
    fi
}

install_packages() {
    need_root install
    if command -v slurmctld >/dev/null && command -v munged >/dev/null; then
        echo "slurm-wlm and munge are installed ($(slurmctld -V))"
        return
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
    echo "installed $(slurmctld -V) and munge"
}

write_config() {
    if [ -f "$CONF" ] && ! grep -qF "$MARKER" "$CONF"; then
        echo "error: $CONF exists and was not written by this script; refusing to replace a real cluster's config" >&2
        exit 2
    fi
    local host cpus memory_mb
    host=$(hostname -s)
    cpus=$(nproc)
    memory_mb=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
    mkdir -p /etc/slurm "$STATE/ctld" "$STATE/d" "$LOGS" /run/slurm
    cat >"$CONF" <<EOF
$MARKER: a single-node cluster for tests
ClusterName=cskd-local
SlurmctldHost=$host
AuthType=auth/munge
SlurmUser=root
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
MinJobAge=300
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
NodeName=$host CPUs=$cpus RealMemory=$memory_mb State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    echo "wrote $CONF: node $host, $cpus CPUs, $memory_mb MB"
}

start_munge() {
    if running "$MUNGE_PID"; then
        return
    fi
    mkdir -p /run/munge
    chown munge:munge /run/munge
    runuser -u munge -- /usr/sbin/munged
}

start() {
    need_root start
    command -v slurmctld >/dev/null || { echo "error: slurm-wlm is not installed: run $0 install" >&2; exit 2; }
    write_config
    start_munge
    running /run/slurm/slurmctld.pid || slurmctld
    running /run/slurm/slurmd.pid || slurmd
    local deadline=$((SECONDS + WAIT_S)) state=""
    while [ $SECONDS -lt $deadline ]; do
        state=$(sinfo -h -N -o "%T" 2>/dev/null | head -1 || true)
        if [ "$state" = idle ] || [ "$state" = mixed ] || [ "$state" = allocated ]; then
            echo "slurm is up: $(sinfo -h -N -o '%N %T, %c CPUs, %m MB')"
            return
        fi
        sleep 0.5
    done
    echo "error: the node is not idle after ${WAIT_S}s (sinfo state: '${state:-no answer}'); see $LOGS/" >&2
    exit 1
}

running() {  # PIDFILE: the daemon it names is alive
    [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

stop() {
    need_root stop
    local pidfile pid
    for pidfile in /run/slurm/slurmd.pid /run/slurm/slurmctld.pid "$MUNGE_PID"; do
        if running "$pidfile"; then
            pid=$(cat "$pidfile")  # read first: the daemon removes its pid file as it exits
            kill "$pid" && echo "stopped $(basename "$pidfile" .pid) (pid $pid)"
        fi
    done
}

case "${1:-}" in
    install) install_packages ;;
    start) start ;;
    stop) stop ;;
    status) sinfo && squeue ;;
    *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
