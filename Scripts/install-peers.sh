#!/usr/bin/env bash
# Installs the peers syscage's tests compare against: libseccomp 2.5.4's Python
# binding (an oracle for the syscall table and the compiler), strace, runc,
# bubblewrap, a static busybox (for container rootfs) and Go (an oracle for how
# Docker and runc decode a profile).
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq python3-seccomp strace runc bubblewrap busybox-static golang-go >/dev/null
