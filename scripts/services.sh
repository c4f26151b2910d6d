#!/usr/bin/env bash
# Brings up what the test suite talks to for real: PostgreSQL, MariaDB, RabbitMQ and Redis on
# 127.0.0.1, with the test databases, plus QEMU (qemu-img, qemu-system-x86_64) for the image
# tests, and libvirt (libvirtd, virtlogd, dnsmasq for its networks) for the libvirt driver's
# real test tier. Safe to re-run: it installs only missing packages, starts only services that don't
# answer, and creates only missing databases, so with everything up it takes well under a second.
# These machines have no systemd, so each daemon is started by its own command, as root.
set -euo pipefail

readonly TEST_DATABASE=cloudplane_test
# How long a freshly started service may take to answer; RabbitMQ's first boot is the slowest.
readonly WAIT_SECONDS="${CLOUDPLANE_SERVICES_WAIT_SECONDS:-120}"

# Daemons and their control tools live in sbin, which a CI job's PATH may lack.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

fail() {
  printf 'services.sh: %s\n' "$*" >&2
  exit 1
}

report() { # report SERVICE STATE: the one line printed per service
  printf '%-11s %s\n' "$1" "$2"
}

have() { command -v "$1" >/dev/null 2>&1; }

# wait_for NAME COMMAND...: poll COMMAND until it succeeds; fail once WAIT_SECONDS have passed.
wait_for() {
  local name=$1 deadline=$((SECONDS + WAIT_SECONDS))
  shift
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      fail "$name did not answer within ${WAIT_SECONDS}s"
    fi
    sleep 0.5
  done
}

# start NAME COMMAND...: run a start command. Its exit status is not the verdict (some start
# commands return before the daemon is up, some fail when it is half up): wait_for decides.
start() {
  local name=$1
  shift
  echo "services.sh: starting $name"
  "$@" || echo "services.sh: '$*' exited with status $?; waiting for $name anyway" >&2
}

# --- installing what is missing -------------------------------------------------------------------

postgresql_installed() {
  have pg_ctlcluster && have psql && have pg_isready \
    && compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null
}

mariadb_installed() {
  [ -x /usr/sbin/mariadbd ] && { have mariadb-admin || have mysqladmin; }
}

missing_packages() {
  postgresql_installed || echo postgresql
  mariadb_installed || echo mariadb-server
  have rabbitmq-server || echo rabbitmq-server
  { have redis-server && have redis-cli; } || echo redis-server
  have qemu-img || echo qemu-utils
  have qemu-system-x86_64 || echo qemu-system-x86
  libvirt_installed || printf '%s\n' libvirt-daemon-system libvirt-daemon-driver-qemu \
    libvirt-clients libvirt-dev
  have dnsmasq || echo dnsmasq-base
  # The peers of security groups on the libvirt backend are ipsets.
  have ipset || echo ipset
  # Floating IPs on the libvirt backend are iptables NAT rules; their tests use network
  # namespaces (iproute2).
  { have iptables && have ip6tables && have iptables-restore; } || echo iptables
  have ip || echo iproute2
}

libvirt_installed() {
  have libvirtd && have virtlogd && have virsh && [ -e /usr/include/libvirt/libvirt.h ]
}

install_packages() {
  local packages=("$@") status=0 policy=/usr/sbin/policy-rc.d added_policy=false
  echo "services.sh: installing ${packages[*]}"
  apt-get update -qq
  # A package's post-install script tries to start its daemon through invoke-rc.d, which fails or
  # hangs without an init system; policy-rc.d answering 101 ("not allowed") makes it skip that.
  # This script starts the daemons itself below. Leave an existing policy alone.
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    added_policy=true
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" \
    || status=$?
  if $added_policy; then rm -f "$policy"; fi
  ((status == 0)) || fail "apt-get install ${packages[*]} failed (status $status)"
}

# --- PostgreSQL -----------------------------------------------------------------------------------

postgresql_answers() { pg_isready -q -h 127.0.0.1 -p 5432; }
postgresql_trusts_us() { psql -h 127.0.0.1 -U postgres -d postgres -tAc 'select 1'; }

postgresql_cluster_version() {
  local versions
  versions=$(ls /etc/postgresql 2>/dev/null || true)
  [ -n "$versions" ] || fail "PostgreSQL is installed but has no cluster under /etc/postgresql"
  [ "$(wc -l <<<"$versions")" = 1 ] \
    || fail "several PostgreSQL versions under /etc/postgresql; the tests expect one: $versions"
  echo "$versions"
}

# A fresh Debian cluster asks for passwords on TCP; the tests connect as postgres with none.
trust_loopback_connections() {
  local version hba
  version=$(postgresql_cluster_version)
  hba="/etc/postgresql/$version/main/pg_hba.conf"
  # The first matching line wins, so the trust lines go on top. Rewriting in place (not
  # replacing the file) keeps its owner and mode.
  local existing
  existing=$(cat "$hba")
  cat >"$hba" <<HBA
# Test services: trust loopback connections (added by scripts/services.sh).
local all all trust
host all all 127.0.0.1/32 trust
host all all ::1/128 trust
$existing
HBA
  pg_ctlcluster --skip-systemctl-redirect "$version" main reload
}

ensure_postgresql() {
  local state="already running" version port
  if ! postgresql_answers; then
    version=$(postgresql_cluster_version)
    # pg_createcluster picks the next free port when 5432 is taken at install time; waiting for a
    # server that listens elsewhere would only end in a vaguer error.
    port=$(pg_conftool -s "$version" main show port 2>/dev/null || echo 5432)
    if [ "$port" != 5432 ]; then
      fail "PostgreSQL $version/main is set to port $port, the tests need 5432:" \
        "set port = 5432 in /etc/postgresql/$version/main/postgresql.conf"
    fi
    start postgresql pg_ctlcluster --skip-systemctl-redirect "$version" main start
    wait_for postgresql postgresql_answers
    state="started"
  fi
  if ! postgresql_trusts_us >/dev/null 2>&1; then
    trust_loopback_connections
    # A reload is picked up asynchronously: wait until it has been.
    wait_for "postgresql (trust auth)" postgresql_trusts_us
    state+=", loopback trust auth set up"
  fi
  local exists
  exists=$(psql -h 127.0.0.1 -U postgres -d postgres -tAc \
    "select 1 from pg_database where datname = '$TEST_DATABASE'")
  if [ "$exists" != 1 ]; then
    psql -h 127.0.0.1 -U postgres -d postgres -qc "create database $TEST_DATABASE" >/dev/null
    state+=", database created"
  fi
  report postgresql "up on 127.0.0.1:5432, user postgres (trust), database $TEST_DATABASE: $state"
}

# --- MariaDB --------------------------------------------------------------------------------------

mariadb_client() { if have mariadb; then mariadb "$@"; else mysql "$@"; fi; }
mariadb_admin() { if have mariadb-admin; then mariadb-admin "$@"; else mysqladmin "$@"; fi; }
# ping succeeds whenever the server answers, even when it turns the login down.
mariadb_answers() {
  mariadb_admin --protocol=tcp -h 127.0.0.1 -P 3306 -u root --connect-timeout=2 ping
}
mariadb_lets_root_in() { mariadb_client --protocol=tcp -h 127.0.0.1 -P 3306 -u root -e 'select 1'; }

# Things a fresh install may lack before mariadbd can start without an init system to do them.
prepare_mariadb() {
  local datadir=/var/lib/mysql
  # /run is empty after a boot, and the socket and pid file go in /run/mysqld.
  mkdir -p /run/mysqld /var/log/mysql
  chown mysql:mysql /run/mysqld /var/log/mysql
  if [ ! -d "$datadir/mysql" ]; then
    echo "services.sh: initialising the MariaDB data directory"
    mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db >/dev/null
  fi
  chown -R mysql:mysql "$datadir"
}

# mariadbd refuses to run as root; Debian's own config leaves the user to systemd, so say it here
# when no config file does.
mariadb_user_option() {
  if ! my_print_defaults mysqld 2>/dev/null | grep -q '^--user='; then
    echo --
    echo --user=mysql
  fi
}

# Debian's root@localhost logs in through the unix socket only; the tests come over TCP as root
# with no password. Over the socket, the system's root is let in to change that.
let_root_in_over_tcp() {
  mariadb_client -u root <<'SQL'
ALTER USER 'root'@'localhost'
  IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket;
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
CREATE USER IF NOT EXISTS 'root'@'::1' IDENTIFIED BY '';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'::1' WITH GRANT OPTION;
FLUSH PRIVILEGES;
SQL
}

ensure_mariadb() {
  local state="already running"
  if ! mariadb_answers >/dev/null 2>&1; then
    prepare_mariadb
    local extra=()
    mapfile -t extra < <(mariadb_user_option)
    start mariadb \
      start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd "${extra[@]}"
    wait_for mariadb mariadb_answers
    state="started"
  fi
  if ! mariadb_lets_root_in >/dev/null 2>&1; then
    let_root_in_over_tcp || fail "could not let root in over TCP without a password"
    mariadb_lets_root_in >/dev/null || fail "root still cannot log in over TCP without a password"
    state+=", root over TCP allowed"
  fi
  local exists
  exists=$(mariadb_client --protocol=tcp -h 127.0.0.1 -P 3306 -u root -N \
    -e "SHOW DATABASES LIKE '$TEST_DATABASE'")
  if [ "$exists" != "$TEST_DATABASE" ]; then
    mariadb_client --protocol=tcp -h 127.0.0.1 -P 3306 -u root -e "CREATE DATABASE $TEST_DATABASE"
    state+=", database created"
  fi
  report mariadb "up on 127.0.0.1:3306, user root (no password), database $TEST_DATABASE: $state"
}

# --- RabbitMQ -------------------------------------------------------------------------------------

# A ready broker answers the AMQP 0-9-1 protocol header with a method frame (type 1). Cheaper
# than rabbitmq-diagnostics (2-3 s of Erlang start-up), and unlike a bare TCP connect it proves
# the listener is RabbitMQ's and that it is serving.
rabbitmq_answers() {
  local probe frame_type
  probe='exec 3<>/dev/tcp/127.0.0.1/5672 && printf "AMQP\x00\x00\x09\x01" >&3 && head -c 1 <&3'
  frame_type=$(timeout 3 bash -c "$probe" | od -An -tu1) || return 1
  [ "${frame_type//[[:space:]]/}" = 1 ]
}

ensure_rabbitmq() {
  local state="already running"
  if ! rabbitmq_answers >/dev/null 2>&1; then
    start rabbitmq rabbitmq-server -detached
    wait_for rabbitmq rabbitmq_answers
    state="started"
  fi
  # guest/guest exists from the first boot and may log in from loopback: nothing to create.
  report rabbitmq "up on 127.0.0.1:5672, user guest/guest: $state"
}

# --- Redis ----------------------------------------------------------------------------------------

redis_answers() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = PONG ]; }

ensure_redis() {
  local state="already running"
  if ! redis_answers; then
    mkdir -p /var/lib/redis /var/log/redis
    # Nothing is saved: test data is thrown away with the process.
    start redis redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
      --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
    wait_for redis redis_answers
    state="started"
  fi
  report redis "up on 127.0.0.1:6379: $state"
}

# --- QEMU -----------------------------------------------------------------------------------------

ensure_qemu() {
  have qemu-img || fail "qemu-img is missing after installing qemu-utils"
  have qemu-system-x86_64 || fail "qemu-system-x86_64 is missing after installing qemu-system-x86"
  local version
  version=$(qemu-img --version | head -n 1)
  report qemu "qemu-img and qemu-system-x86_64 installed: ${version#qemu-img version }"
}

# --- libvirt --------------------------------------------------------------------------------------

readonly LIBVIRT_SOCKET=/run/libvirt/libvirt-sock
readonly VIRTLOGD_SOCKET=/run/libvirt/virtlogd-sock

libvirt_answers() { timeout 10 virsh -c qemu:///system version; }

# A socket file says nothing about a listener: a machine image or a daemon that died leaves the
# file behind, and connecting to it is refused. Only a connection that succeeds counts.
socket_accepts() {
  python3 -c 'import socket, sys
with socket.socket(socket.AF_UNIX) as probe:
    probe.settimeout(5)
    probe.connect(sys.argv[1])' "$1"
}

virtlogd_answers() { socket_accepts "$VIRTLOGD_SOCKET"; }

# libvirtd hands every QEMU console to virtlogd, so a domain cannot start without it, even while
# libvirtd itself answers. It is therefore checked on its own.
ensure_virtlogd() {
  local state="already running"
  if ! virtlogd_answers >/dev/null 2>&1; then
    mkdir -p /var/log/libvirt/qemu /run/libvirt
    rm -f "$VIRTLOGD_SOCKET" /run/libvirt/virtlogd-admin-sock
    start virtlogd virtlogd -d
    wait_for virtlogd virtlogd_answers
    state="started"
  fi
  report virtlogd "accepts on $VIRTLOGD_SOCKET: $state"
}

ensure_libvirt() {
  local state="already running"
  if [ -e /dev/kvm ]; then
    # QEMU runs as its own user in group kvm; without access every define waits 30 s or more.
    chgrp kvm /dev/kvm && chmod 660 /dev/kvm
  fi
  if ! libvirt_answers >/dev/null 2>&1; then
    rm -f "$LIBVIRT_SOCKET"  # a stale socket from a daemon that died would look alive
    start libvirtd libvirtd -d
    wait_for libvirtd libvirt_answers
    state="started"
  fi
  report libvirt "qemu:///system answers ($(virsh -c qemu:///system version --daemon \
    | sed -n 's/^Running against daemon: //p')): $state"
}

main() {
  local missing=()
  mapfile -t missing < <(missing_packages)
  if ((${#missing[@]} > 0)); then
    install_packages "${missing[@]}"
  fi
  ensure_postgresql
  ensure_mariadb
  ensure_rabbitmq
  ensure_redis
  ensure_qemu
  ensure_virtlogd
  ensure_libvirt
}

main "$@"
