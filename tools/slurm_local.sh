#!/usr/bin/env bash
# tools/slurm_local.sh up|down|status - a one-node SLURM cluster on localhost for the cluster tests.
#
#   sudo tools/slurm_local.sh up      # install (Debian/Ubuntu packages) and start; idempotent
#   sudo tools/slurm_local.sh status  # is it usable?
#   sudo tools/slurm_local.sh down    # cancel every job, stop every daemon this script started
#
# It runs munged, a private MariaDB and slurmdbd (so that `sacct` works), slurmctld and
# `slurmd -N localhost`, with partition "debug" holding node "localhost". Everything it writes
# lives under $STATE (default /tmp/hockey-league-slurm) except /etc/slurm/slurm.conf and
# slurmdbd.conf, which the daemons read from there; existing files not written by this script
# are kept as *.before-hockey-league. Needs root. Environment:
#   STATE         state, logs, pid files, database        (default /tmp/hockey-league-slurm)
#   SLURM_CPUS    CPUs the node offers (more than the cores lets tiny jobs share them; default 8)
set -euo pipefail

STATE=${STATE:-/tmp/hockey-league-slurm}
SLURM_CPUS=${SLURM_CPUS:-8}
DB_PORT=3307
STAMP="# written by hockey-league tools/slurm_local.sh"
PACKAGES=(munge slurm-client slurmctld slurmd slurmdbd mariadb-server)

say() { echo "[slurm_local] $*"; }
fail() { echo "[slurm_local] error: $*" >&2; exit 1; }
running() { [ -s "$STATE/run/$1.pid" ] && kill -0 "$(cat "$STATE/run/$1.pid")" 2>/dev/null; }
retry() { local seconds=$1; shift; local until=$((SECONDS + seconds)); while ! "$@" >/dev/null 2>&1; do
  [ $SECONDS -lt $until ] || return 1; sleep 0.3; done; }

install_packages() {
  local missing=() package
  for package in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || fail "no apt-get: install ${missing[*]} by hand"
  say "installing ${missing[*]} (log $STATE/log/apt.log)"
  export DEBIAN_FRONTEND=noninteractive
  (apt-get install -y -q "${missing[@]}" || (apt-get update -q && apt-get install -y -q "${missing[@]}")) \
    >>"$STATE/log/apt.log" 2>&1 || fail "apt-get failed; see $STATE/log/apt.log"
}

# put_config FILE MODE TEXT: write FILE if its content differs; status 0 when it was written
put_config() {
  local file=$1 mode=$2 text=$3
  [ -f "$file" ] && [ "$(cat "$file")" = "$text" ] && return 1
  [ -f "$file" ] && ! grep -qF "$STAMP" "$file" && cp -p "$file" "$file.before-hockey-league"
  printf '%s\n' "$text" >"$file.new" && chmod "$mode" "$file.new" && mv -f "$file.new" "$file"
}

write_configs() {
  mkdir -p /etc/slurm
  local memory=$(( $(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) * 8 / 10 ))
  local overcommit=""
  [ "$SLURM_CPUS" -gt "$(nproc)" ] && overcommit="SlurmdParameters=config_overrides"
  CHANGED=0
  put_config /etc/slurm/slurm.conf 644 "$STAMP
ClusterName=hockey
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=batch_sched_delay=0
ReturnToService=2
KillWait=5
MailProg=/bin/true
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobAcctGatherType=jobacct_gather/linux
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/run/slurmctld.pid
SlurmdPidFile=$STATE/run/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
$overcommit
NodeName=localhost CPUs=$SLURM_CPUS RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP" && CHANGED=1
  put_config /etc/slurm/slurmdbd.conf 600 "$STAMP
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=slurm
LogFile=$STATE/log/slurmdbd.log
PidFile=$STATE/run/slurmdbd.pid" && CHANGED=1
  return 0
}

start_munge() {
  if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then return 0; fi
  if [ ! -s /etc/munge/munge.key ]; then
    install -d -o munge -g munge -m 700 /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
  chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
  install -d -o munge -g munge -m 755 /run/munge
  say "starting munged"
  runuser -u munge -- /usr/sbin/munged --force </dev/null >>"$STATE/log/munged.out" 2>&1 || fail "munged did not start"
  retry 10 sh -c 'munge -n | unmunge' || fail "munge does not answer"
  cp /run/munge/munged.pid "$STATE/run/munged.pid"
}

start_database() {
  local socket="$STATE/run/mysqld.sock"
  local sql=(mariadb --no-defaults --socket="$socket" -uroot)
  if ! running mysqld; then
    if [ ! -d "$STATE/mysql/mysql" ]; then
      mariadb-install-db --no-defaults --user=root --datadir="$STATE/mysql" --auth-root-authentication-method=socket \
        --skip-test-db >>"$STATE/log/mysql-install.log" 2>&1 || fail "mariadb-install-db failed"
    fi
    say "starting MariaDB on 127.0.0.1:$DB_PORT"
    setsid /usr/sbin/mariadbd --no-defaults --user=root --datadir="$STATE/mysql" --socket="$socket" --port=$DB_PORT \
      --bind-address=127.0.0.1 --pid-file="$STATE/run/mysqld.pid" --log-error="$STATE/log/mysqld.log" \
      </dev/null >/dev/null 2>&1 &
    retry 60 "${sql[@]}" -e "SELECT 1" || fail "MariaDB did not start; see $STATE/log/mysqld.log"
  fi
  "${sql[@]}" -e "CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm';
                  GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';" || fail "cannot create the slurm database user"
}

start_daemon() {  # start_daemon NAME COMMAND...
  local name=$1; shift
  running "$name" && return 0
  say "starting $name"
  "$@" </dev/null >>"$STATE/log/$name.out" 2>&1 || fail "$name did not start; see $STATE/log/$name.log"
}

stop_daemon() {
  local name=$1 pid
  running "$name" || { rm -f "$STATE/run/$name.pid"; return 0; }
  pid=$(cat "$STATE/run/$name.pid"); kill "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$STATE/run/$name.pid"
}

node_ready() { sinfo -h -n localhost -o %T | grep -Eq '^(idle|mixed|allocated)'; }

up() {
  mkdir -p "$STATE"/{ctld,spool,log,run}
  install_packages
  write_configs
  if [ "$CHANGED" = 1 ]; then stop_daemon slurmd; stop_daemon slurmctld; stop_daemon slurmdbd; fi
  start_munge
  start_database
  start_daemon slurmdbd /usr/sbin/slurmdbd
  retry 60 sacctmgr -n show cluster || fail "slurmdbd does not answer; see $STATE/log/slurmdbd.log"
  start_daemon slurmctld /usr/sbin/slurmctld
  retry 60 sh -c 'scontrol ping | grep -q UP' || fail "slurmctld does not answer; see $STATE/log/slurmctld.log"
  start_daemon slurmd /usr/sbin/slurmd -N localhost
  if ! retry 30 node_ready; then
    scontrol update NodeName=localhost State=RESUME >/dev/null 2>&1 || true
    retry 30 node_ready || fail "node localhost is not usable: $(sinfo -h -n localhost -o '%T %E')"
  fi
  say "up: partition debug, node localhost with $SLURM_CPUS CPUs (state in $STATE)"
}

down() {
  if running slurmctld; then
    local jobs; jobs=$(squeue -h -o %A | tr '\n' ' ')
    [ -n "${jobs// /}" ] && scancel $jobs && retry 20 sh -c '[ -z "$(squeue -h -o %A)" ]' || true
  fi
  stop_daemon slurmd; stop_daemon slurmctld; stop_daemon slurmdbd; stop_daemon mysqld; stop_daemon munged
  say "down"
}

[ "$(id -u)" = 0 ] || fail "run as root (it installs packages and starts system daemons)"
case "${1:-}" in
  up) up ;;
  down) down ;;
  status) if node_ready; then say "usable"; else say "not usable"; exit 1; fi ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
