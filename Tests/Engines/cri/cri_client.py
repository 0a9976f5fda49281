#!/usr/bin/python3
"""Runs one container through a CRI runtime service (containerd's CRI plugin) as the kubelet
does: RunPodSandbox, CreateContainer, StartContainer, wait for the container to exit, read
its log, then remove the container and stop and remove the sandbox.

usage: cri_client.py --socket SOCK --messages DIR --image IMAGE --name NAME --log-dir DIR
                     [--seccomp-localhost PATH] [--no-new-privs] -- COMMAND [ARG...]

DIR given to --messages holds api_pb2.py, generated with protoc --python_out from the
vendored api.proto. The gRPC stubs are written here by hand (channel.unary_unary). Pod and
container share the node's network namespace (no CNI). With --seccomp-localhost the
container's LinuxContainerSecurityContext.seccomp is SecurityProfile{Localhost, PATH},
PATH absolute as the kubelet sends it (its seccomp root joined with localhostProfile);
without it no seccomp field is set (the runtime runs the container unconfined).

Prints one JSON object: exit_code, stdout and stderr (from the CRI log file), and seconds
for sandbox (RunPodSandbox) and container (CreateContainer until the exit is seen).
Exits 0 when the container ran (whatever its exit code), 69 when the runtime refused a
step (the step and gRPC's message on stderr), 64 on bad usage.
"""
import argparse
import json
import os
import sys
import time

import grpc

SERVICE = "/runtime.v1.RuntimeService/"


class Runtime:
    """The RuntimeService calls this client makes, as unary-unary stubs."""

    def __init__(self, channel, pb):
        self.pb = pb

        def stub(method, request, response):
            return channel.unary_unary(SERVICE + method, request_serializer=request.SerializeToString,
                                       response_deserializer=response.FromString)

        self.version = stub("Version", pb.VersionRequest, pb.VersionResponse)
        self.run_pod_sandbox = stub("RunPodSandbox", pb.RunPodSandboxRequest, pb.RunPodSandboxResponse)
        self.stop_pod_sandbox = stub("StopPodSandbox", pb.StopPodSandboxRequest, pb.StopPodSandboxResponse)
        self.remove_pod_sandbox = stub("RemovePodSandbox", pb.RemovePodSandboxRequest, pb.RemovePodSandboxResponse)
        self.create_container = stub("CreateContainer", pb.CreateContainerRequest, pb.CreateContainerResponse)
        self.start_container = stub("StartContainer", pb.StartContainerRequest, pb.StartContainerResponse)
        self.container_status = stub("ContainerStatus", pb.ContainerStatusRequest, pb.ContainerStatusResponse)
        self.remove_container = stub("RemoveContainer", pb.RemoveContainerRequest, pb.RemoveContainerResponse)


class Refused(Exception):
    """A step the runtime refused or did not finish."""


def call(step, method, request, timeout=60):
    try:
        return method(request, timeout=timeout)
    except grpc.RpcError as error:
        raise Refused(f"{step}: {error.code().name}: {error.details()}") from None


def parse_log(text):
    """Splits a CRI log (`TIMESTAMP STREAM P|F MESSAGE` lines) into stdout and stderr text;
    P (partial) lines continue without a newline."""
    streams = {"stdout": "", "stderr": ""}
    for line in text.splitlines():
        parts = line.split(" ", 3)
        if len(parts) < 3 or parts[1] not in streams:
            continue
        message = parts[3] if len(parts) == 4 else ""
        streams[parts[1]] += message if parts[2] == "P" else message + "\n"
    return streams["stdout"], streams["stderr"]


def run(args, pb, runtime):
    namespaces = pb.NamespaceOption(network=pb.NODE)
    sandbox_config = pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name=args.name, uid=args.name, namespace="default", attempt=0),
        log_directory=args.log_dir,
        linux=pb.LinuxPodSandboxConfig(
            security_context=pb.LinuxSandboxSecurityContext(namespace_options=namespaces)))
    security = pb.LinuxContainerSecurityContext(namespace_options=namespaces, no_new_privs=args.no_new_privs)
    if args.seccomp_localhost:
        security.seccomp.CopyFrom(pb.SecurityProfile(
            profile_type=pb.SecurityProfile.Localhost, localhost_ref=args.seccomp_localhost))
    container_config = pb.ContainerConfig(
        metadata=pb.ContainerMetadata(name="main", attempt=0),
        image=pb.ImageSpec(image=args.image),
        command=args.command,
        log_path="main.log",
        linux=pb.LinuxContainerConfig(security_context=security))

    started = time.perf_counter()
    sandbox = call("RunPodSandbox", runtime.run_pod_sandbox,
                   pb.RunPodSandboxRequest(config=sandbox_config)).pod_sandbox_id
    container = None
    try:
        sandbox_ready = time.perf_counter()
        container = call("CreateContainer", runtime.create_container, pb.CreateContainerRequest(
            pod_sandbox_id=sandbox, config=container_config, sandbox_config=sandbox_config)).container_id
        call("StartContainer", runtime.start_container, pb.StartContainerRequest(container_id=container))
        deadline = time.monotonic() + args.timeout
        while True:
            status = call("ContainerStatus", runtime.container_status,
                          pb.ContainerStatusRequest(container_id=container)).status
            if status.state == pb.CONTAINER_EXITED:
                break
            if time.monotonic() > deadline:
                raise Refused(f"ContainerStatus: still running after {args.timeout} s")
            time.sleep(0.005)
        exited = time.perf_counter()
        log_path = os.path.join(args.log_dir, "main.log")
        with open(log_path, encoding="utf-8", errors="replace") as log:
            stdout, stderr = parse_log(log.read())
        return {
            "exit_code": status.exit_code,
            "reason": status.reason,
            "stdout": stdout,
            "stderr": stderr,
            "sandbox_seconds": sandbox_ready - started,
            "container_seconds": exited - sandbox_ready,
        }
    finally:
        if container is not None:
            call("RemoveContainer", runtime.remove_container, pb.RemoveContainerRequest(container_id=container))
        call("StopPodSandbox", runtime.stop_pod_sandbox, pb.StopPodSandboxRequest(pod_sandbox_id=sandbox))
        call("RemovePodSandbox", runtime.remove_pod_sandbox, pb.RemovePodSandboxRequest(pod_sandbox_id=sandbox))


def main():
    parser = argparse.ArgumentParser(description="Run one container through the CRI, as the kubelet does.")
    parser.add_argument("--socket", required=True)
    parser.add_argument("--messages", required=True, help="the directory with the generated api_pb2.py")
    parser.add_argument("--image", required=True)
    parser.add_argument("--name", required=True, help="the pod's name and uid")
    parser.add_argument("--log-dir", required=True)
    parser.add_argument("--seccomp-localhost", help="an absolute path: the container's Localhost seccomp profile")
    parser.add_argument("--no-new-privs", action="store_true")
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("command", nargs="+")
    args = parser.parse_args()
    if args.seccomp_localhost and not os.path.isabs(args.seccomp_localhost):
        parser.error("--seccomp-localhost must be an absolute path")

    sys.path.insert(0, args.messages)
    import api_pb2 as pb  # generated at test time

    os.makedirs(args.log_dir, exist_ok=True)
    with grpc.insecure_channel("unix://" + args.socket) as channel:
        runtime = Runtime(channel, pb)
        try:
            call("Version", runtime.version, pb.VersionRequest(), timeout=20)
            result = run(args, pb, runtime)
        except Refused as refused:
            sys.stderr.write(f"cri_client: {refused}\n")
            return 69
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
