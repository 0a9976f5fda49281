#!/usr/bin/env bash
# Installs the peers syscage's tests compare against: libseccomp 2.5.4's Python
# binding (an oracle for the syscall table and the compiler), strace, runc,
# bubblewrap, a static busybox (for container rootfs), gcc (a strict-mode test
# program) and Go (golang-go: the tests build Go programs to record, and Go is the
# oracle for how Docker and runc decode a profile), and the container engines the
# profiles are proven in: podman (with runc and crun), containerd (ctr, and its CRI
# plugin driven by a Python gRPC client built from the vendored CRI proto), LXC,
# systemd-nspawn and systemd-run (systemd-container), with PyYAML and jsonschema
# (the Kubernetes outputs are read back and validated against the vendored CRD).
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq python3-seccomp strace runc bubblewrap busybox-static gcc golang-go >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends \
  podman crun containerd lxc systemd-container python3-grpcio python3-protobuf protobuf-compiler skopeo \
  python3-yaml python3-jsonschema >/dev/null
