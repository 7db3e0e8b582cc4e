#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for the tests and for trying
# `oodcal slurm` by hand. Everything it writes lives in STATE (a folder):
#
#   scripts/slurm-cluster.sh start STATE   install slurm-wlm and munge if missing (Debian),
#                                          write STATE/slurm.conf, start munged, slurmctld
#                                          and slurmd, wait until the node is idle
#   scripts/slurm-cluster.sh stop STATE    stop exactly the daemons `start` started, by the
#                                          PIDs it recorded in STATE
#
# Clients find the cluster through SLURM_CONF=STATE/slurm.conf (printed by
# `start`). No systemd and no cgroups: proctrack/linuxproc and task/none, as
# in containers. munged has its own socket in STATE, so a munged already
# running on the machine is neither used nor touched. The settings below each
# fix something measured here (../shared/TOOLCHAIN.md): one CPU and 1 GB per
# task so array tasks run side by side, a scheduler that starts jobs within
# about a second, requeue after 10 s, impossible requests refused at submission.
set -euo pipefail

usage() { echo "usage: $0 start|stop STATE_DIR" >&2; exit 2; }
[[ $# -eq 2 ]] || usage
action=$1
mkdir -p "$2"
state=$(cd "$2" && pwd)

install_packages() {
  command -v slurmctld >/dev/null && command -v munged >/dev/null && return
  local sudo=; [[ $(id -u) -eq 0 ]] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends slurm-wlm munge
}

# A free TCP port from the kernel's ephemeral range.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

write_conf() {
  local host cpus mem ctld_port d_port
  host=$(hostname -s)
  cpus=$(nproc)
  mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512 ))
  ctld_port=$(free_port)
  d_port=$(free_port)
  cat > "$state/slurm.conf" <<EOF
# Written by scripts/slurm-cluster.sh: a one-node cluster, state in $state.
ClusterName=oodcal
SlurmctldHost=$host
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$state/munge/munge.socket,cred_expire=10
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/slurmd
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/slurmctld.log
SlurmdLogFile=$state/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$state/jobcomp.txt
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
DefMemPerCPU=1000
SchedulerParameters=batch_sched_delay=0,bf_interval=1,sched_interval=1
EnforcePartLimits=ALL
ReturnToService=2
KillWait=5
MinJobAge=300
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

start_munge() {
  install -d -o munge -g munge -m 0755 "$state/munge"
  runuser -u munge -- munged \
    --socket="$state/munge/munge.socket" \
    --pid-file="$state/munge/munged.pid" \
    --log-file="$state/munge/munged.log" \
    --seed-file="$state/munge/munged.seed"
  cp "$state/munge/munged.pid" "$state/munged.pid"
}

wait_idle() {
  local host
  host=$(hostname -s)
  for _ in $(seq 1 100); do
    if SLURM_CONF="$state/slurm.conf" sinfo -h -n "$host" -o %T 2>/dev/null | grep -q '^idle'; then
      return 0
    fi
    sleep 0.2
  done
  echo "slurm-cluster: node $host not idle after 20 s; see $state/slurmctld.log and $state/slurmd.log" >&2
  return 1
}

start() {
  if [[ -f $state/slurmctld.pid ]] && kill -0 "$(cat "$state/slurmctld.pid")" 2>/dev/null; then
    echo "slurm-cluster: already running in $state" >&2
    echo "SLURM_CONF=$state/slurm.conf"
    return 0
  fi
  install_packages
  mkdir -p "$state/ctld" "$state/slurmd"
  write_conf
  start_munge
  SLURM_CONF="$state/slurm.conf" slurmctld -i
  SLURM_CONF="$state/slurm.conf" slurmd -N "$(hostname -s)"
  wait_idle
  echo "SLURM_CONF=$state/slurm.conf"
}

# SIGTERM to each recorded PID, then SIGKILL to any still alive after 5 s.
stop() {
  local pids=()
  for f in slurmd.pid slurmctld.pid munged.pid; do
    [[ -f $state/$f ]] || continue
    local pid
    pid=$(cat "$state/$f")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" && pids+=("$pid")
    fi
    rm -f "$state/$f"
  done
  for _ in $(seq 1 25); do
    local alive=()
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
    [[ ${#alive[@]} -eq 0 ]] && return 0
    sleep 0.2
  done
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
}

case $action in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
