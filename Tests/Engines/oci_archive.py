#!/usr/bin/python3
"""Writes an OCI image archive (an oci-layout tar, as `ctr images import` reads it) of one
root filesystem directory, with the Python standard library only.

usage: oci_archive.py ROOTFS OUT.tar REF [CMD_JSON]

The image has one uncompressed layer (the directory's contents, owned by root), the
config's Cmd from CMD_JSON (default ["/bin/sh"]) and PATH=/bin:/sbin:/usr/bin:/usr/sbin,
and the index names it REF (org.opencontainers.image.ref.name and io.containerd.image.name,
the name ctr gives the imported image). Prints the manifest's digest.
"""
import hashlib
import io
import json
import os
import sys
import tarfile


def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_of(rootfs):
    """The directory as an uncompressed tar, entries sorted, owned by root:root."""
    def as_root(info):
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(os.listdir(rootfs)):
            tar.add(os.path.join(rootfs, name), arcname=name, filter=as_root)
    return buffer.getvalue()


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def main(argv):
    if len(argv) not in (4, 5):
        sys.stderr.write(__doc__)
        return 64
    rootfs, out, ref = argv[1:4]
    cmd = json.loads(argv[4]) if len(argv) == 5 else ["/bin/sh"]
    layer = layer_of(rootfs)
    config = canonical({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/bin:/sbin:/usr/bin:/usr/sbin"], "Cmd": cmd},
        "rootfs": {"type": "layers", "diff_ids": [digest(layer)]},
    })
    manifest = canonical({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(layer), "size": len(layer)}],
    })
    index = canonical({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest(manifest),
            "size": len(manifest),
            "platform": {"architecture": "amd64", "os": "linux"},
            "annotations": {"org.opencontainers.image.ref.name": ref, "io.containerd.image.name": ref},
        }],
    })
    with tarfile.open(out, "w") as tar:
        def add(name, data):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))

        add("oci-layout", canonical({"imageLayoutVersion": "1.0.0"}))
        add("index.json", index)
        for blob in (layer, config, manifest):
            add("blobs/sha256/" + digest(blob)[len("sha256:"):], blob)
    print(digest(manifest))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
