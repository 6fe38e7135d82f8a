"""The Ilúvatar schema, three ways that must agree: upstream's field table (data,
tests/data/iluvatar_rpc_schema.json, from COMPAT.md section 5), the code protoc generates
from backends/iluvatar/rpc/iluvatar_rpc.proto (what faastui uses), and the fake worker's own
hand-written codec (tests/fakes/protowire.py). Byte strings worked out by hand from the
protobuf encoding spec pin the wire format, so a wrong field number or type in the .proto,
or in the fake, fails here and in the adapter and serve tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, fields
from pathlib import Path

import pytest

from backends.iluvatar.rpc import iluvatar_rpc_pb2 as pb
from tests.fakes import protowire as pw

ROOT = Path(__file__).resolve().parents[1]
PROTO = "backends/iluvatar/rpc/iluvatar_rpc.proto"
GENERATED = ("iluvatar_rpc_pb2.py", "iluvatar_rpc_pb2_grpc.py", "iluvatar_rpc_pb2.pyi")
SCHEMA = json.loads((ROOT / "tests" / "data" / "iluvatar_rpc_schema.json").read_text())

# FieldDescriptor.type numbers (descriptor.proto) -> the .proto type names
_SCALARS = {1: "double", 3: "int64", 4: "uint64", 8: "bool", 9: "string", 13: "uint32"}


# ---- the generated code is what the generator makes of the .proto -------------------------------
def test_the_committed_generated_code_is_what_make_proto_regenerates(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            "-I",
            str(ROOT),
            f"--python_out={tmp_path}",
            f"--grpc_python_out={tmp_path}",
            f"--pyi_out={tmp_path}",
            str(ROOT / PROTO),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    for name in GENERATED:
        fresh = (tmp_path / "backends" / "iluvatar" / "rpc" / name).read_text()
        committed = (ROOT / "backends" / "iluvatar" / "rpc" / name).read_text()
        assert fresh == committed, f"{name} is stale: run `make proto` and commit it"


# ---- the .proto says what upstream's says ----------------------------------------------------------
def _type_name(field) -> str:
    if field.type == field.TYPE_ENUM:
        name = field.enum_type.name
    elif field.type == field.TYPE_MESSAGE:
        name = field.message_type.name
    else:
        name = _SCALARS[field.type]
    repeated = getattr(field, "is_repeated", None)
    if repeated is None:  # older protobuf runtimes
        repeated = field.label == field.LABEL_REPEATED
    return f"repeated {name}" if repeated else name


def test_generated_messages_enums_and_services_match_upstreams_table():
    file = pb.DESCRIPTOR
    assert file.package == SCHEMA["package"] == "iluvatar_rpc"
    generated = {
        name: [[f.number, f.name, _type_name(f)] for f in msg.fields]
        for name, msg in file.message_types_by_name.items()
    }
    assert generated == SCHEMA["messages"]
    enums = {name: {v.name: v.number for v in enum.values} for name, enum in file.enum_types_by_name.items()}
    assert enums == SCHEMA["enums"]
    services = {
        name: {m.name: [m.input_type.name, m.output_type.name] for m in svc.methods}
        for name, svc in file.services_by_name.items()
    }
    assert services == SCHEMA["services"]
    assert [m.full_name for m in file.services_by_name["IluvatarWorker"].methods][
        0
    ] == "iluvatar_rpc.IluvatarWorker.ping"


def test_the_fakes_own_codec_matches_upstreams_table_too():
    kinds = {"enum": None}
    for name, cls in pw.MESSAGES.items():
        declared = []
        for number, (attr, kind, sub, repeated) in sorted(cls.fields_by_number().items()):
            type_name = sub.__name__ if sub is not None else kind
            if kind in kinds:  # an enum field: its type is named in the table, not the codec
                type_name = dict((n, t) for n, a, t in SCHEMA["messages"][name])[number]
            declared.append([number, attr, f"repeated {type_name}" if repeated else type_name])
        assert declared == SCHEMA["messages"][name], name
    assert {k: v for k, v in vars(pw.ContainerState).items() if k.isupper()} == {
        k.upper(): v for k, v in SCHEMA["enums"]["ContainerState"].items()
    }


# ---- bytes worked out by hand from the encoding spec ------------------------------------------------
GOLDEN = [
    # key = number << 3 | wire type; strings: 0x0a = field 1 LEN
    ("PingResponse", {"message": "Pong"}, b"\x0a\x04Pong"),
    ("PingRequest", {"message": "", "transaction_id": "t"}, b"\x12\x01t"),
    # bool, uint64 150 (0x96 0x01), uint32, enum WARM=4 on field 5 (key 0x28)
    (
        "InvokeResponse",
        {"json_result": "{}", "success": True, "duration_us": 150, "compute": 1, "container_state": 4},
        b"\x0a\x02{}\x10\x01\x18\x96\x01\x20\x01\x28\x04",
    ),
    # int64 -1 on field 4: ten bytes of two's complement; field 13 bool: key 0x68
    ("RegisterRequest", {"memory": -1, "system_function": True}, b"\x20" + b"\xff" * 9 + b"\x01" + b"\x68\x01"),
    (
        "RegisterRequest",
        {"function_name": "hi", "isolate": 2, "container_server": 1, "resource_timings_json": "x"},
        b"\x0a\x02hi\x50\x02\x58\x01\x62\x01x",
    ),
    # the current StatusResponse: uint64s, doubles (wire type 1: 0.5 = 00..e0 3f), a string
    (
        "StatusResponse",
        {
            "cpu_queue_len": 3,
            "gpu_queue_len": 1,
            "used_mem_pct": 0.5,
            "cpu_util": 2.0,
            "num_running_funcs": 7,
            "worker_name": "w",
            "timestamp": 300,
        },
        b"\x08\x03\x10\x01\x19"
        + b"\x00" * 6
        + b"\xe0\x3f"
        + b"\x21"
        + b"\x00" * 7
        + b"\x40"
        + b"\x38\x07\x42\x01w\x48\xac\x02",
    ),
    ("HealthResponse", {"status": 1}, b"\x08\x01"),
    ("InvokeAsyncResponse", {"lookup_cookie": "C", "success": True}, b"\x0a\x01C\x10\x01"),
    ("PrewarmRequest", {"function_name": "f", "function_version": "1", "compute": 1}, b"\x0a\x01f\x12\x011\x20\x01"),
    # repeated string: one LEN per item; repeated double: packed (one LEN, 8 bytes each)
    ("EstInvokeRequest", {"fqdns": ["a", "b"]}, b"\x0a\x01a\x0a\x01b"),
    ("EstInvokeResponse", {"est_time": [1.0]}, b"\x0a\x08" + b"\x00" * 6 + b"\xf0\x3f"),
    ("CleanResponse", {}, b""),
]


@pytest.mark.parametrize("name, values, data", GOLDEN, ids=[f"{g[0]}-{i}" for i, g in enumerate(GOLDEN)])
def test_both_encoders_write_the_hand_computed_bytes(name, values, data):
    assert getattr(pb, name)(**values).SerializeToString() == data
    assert pw.MESSAGES[name](**values).encode() == data
    assert getattr(pb, name).FromString(data) == getattr(pb, name)(**values)
    assert pw.MESSAGES[name].decode(data) == pw.MESSAGES[name](**values)


def test_list_response_nests_messages():
    data = b"\x0a\x09\x0a\x01a\x12\x011\x1a\x01i"  # functions[0] = {a, 1, i}
    fn = {"function_name": "a", "function_version": "1", "image_name": "i"}
    assert pb.ListFunctionResponse(functions=[pb.RegisteredFunction(**fn)]).SerializeToString() == data
    assert pw.ListFunctionResponse(functions=[pw.RegisteredFunction(**fn)]).encode() == data


def test_every_field_crosses_between_the_two_implementations():
    """Each message with every field set, encoded by one side and decoded by the other."""
    samples = {
        "string": "ü✓",
        "bool": True,
        "uint64": 2**63 + 5,
        "uint32": 2**32 - 1,
        "int64": -(2**62),
        "double": -0.25,
    }
    for name, table in SCHEMA["messages"].items():
        if name not in pw.MESSAGES:
            continue  # the controller's messages: the fake is a worker
        values = {}
        for _number, attr, type_name in table:
            base = type_name.removeprefix("repeated ")
            value = samples.get(base, 3 if base in SCHEMA["enums"] else None)
            if base == "RegisteredFunction":
                value = None
            if value is not None:
                values[attr] = [value, value] if type_name.startswith("repeated") else value
        generated = getattr(pb, name)(**values).SerializeToString()
        assert pw.MESSAGES[name].decode(generated) == pw.MESSAGES[name](**values), name
        assert getattr(pb, name).FromString(pw.MESSAGES[name](**values).encode()) == getattr(pb, name)(**values), name


# ---- the fake's codec itself (it is test code, so it is tested) ------------------------------------
def test_varints_match_the_protobuf_spec():
    assert pw.encode_varint(0) == b"\x00"
    assert pw.encode_varint(150) == b"\x96\x01"
    assert pw.encode_varint(2**64 - 1) == b"\xff" * 9 + b"\x01"
    for value in (0, 1, 127, 128, 300, 2**32, 2**63, 2**64 - 1):
        assert pw.decode_varint(pw.encode_varint(value), 0) == (value, len(pw.encode_varint(value)))
    with pytest.raises(ValueError):
        pw.encode_varint(-1)


def test_unknown_fields_are_skipped():
    unknown = (
        b"\xf8\x06\x2a"  # field 111, varint 42
        b"\x31"
        + b"\x01" * 8  # field 6, fixed64
        + b"\x3d"
        + b"\x02" * 4  # field 7, fixed32
        + b"\x42\x03abc"
    )  # field 8, length-delimited
    data = pw.PingResponse(message="Pong").encode() + unknown
    assert pw.PingResponse.decode(data) == pw.PingResponse(message="Pong")


@dataclass
class _Numbers(pw.Message):
    values: list = pw.pb(1, "int64", repeated=True)
    names: list = pw.pb(2, "string", repeated=True)
    signed: int = pw.pb(3, "sint64")


def test_repeated_fields_packed_and_unpacked():
    message = _Numbers(values=[1, -1, 300], names=["", "x"], signed=-2)
    assert [f.name for f in fields(message)] == ["values", "names", "signed"]
    data = message.encode()
    assert data.startswith(b"\x0a")  # packed: one length-delimited run
    assert _Numbers.decode(data) == message
    assert _Numbers.decode(b"\x08\x01\x08\xac\x02").values == [1, 300]  # unpacked
    assert _Numbers(signed=-1).encode() == b"\x18\x01"  # zigzag


@pytest.mark.parametrize(
    "data",
    [
        b"\x0a\x07test",  # length runs past the end
        b"\x08\x96",  # truncated varint
        b"\x08\x01",  # string field 1 sent as a varint
        b"\x0a\x02\xff\xfe",  # not UTF-8
        b"\x0b",  # group wire type
        b"\x00\x01",  # field number 0
    ],
)
def test_malformed_input_is_a_decode_error(data):
    with pytest.raises(pw.DecodeError):
        pw.PingResponse.decode(data)


def test_out_of_range_values_are_refused():
    with pytest.raises(ValueError):
        pw.RegisterRequest(cpus=2**32).encode()
    with pytest.raises(ValueError):
        pb.RegisterRequest(cpus=2**32)
