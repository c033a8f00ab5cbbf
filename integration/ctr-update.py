#!/usr/bin/python3
"""Update a running task's resources through containerd's Tasks API, as a Kubernetes
node's CRI plugin or `task.Update(WithResources(...))` does: `ctr` has no update verb.

usage: ctr-update.py SOCKET NAMESPACE CONTAINER_ID RESOURCES_JSON

containerd hands the JSON to the shim, which runs `<runtime> update --resources - ID`.
The request is two protobuf fields, encoded here by hand so only grpcio is needed:
UpdateTaskRequest{container_id = 1; google.protobuf.Any resources = 2}.
"""
import sys

import grpc

TYPE_URL = "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources"


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(num, payload):
    """A length-delimited protobuf field (wire type 2)."""
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def main():
    sock, namespace, cid, resources = sys.argv[1:5]
    any_msg = field(1, TYPE_URL.encode()) + field(2, resources.encode())
    request = field(1, cid.encode()) + field(2, any_msg)
    channel = grpc.insecure_channel("unix://" + sock)
    update = channel.unary_unary(
        "/containerd.services.tasks.v1.Tasks/Update",
        request_serializer=lambda b: b,
        response_deserializer=lambda b: b,
    )
    try:
        update(request, metadata=[("containerd-namespace", namespace)], timeout=20)
    except grpc.RpcError as e:
        print(f"update: {e.code().name}: {e.details()}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
