"""gguf-py as the test oracle for emosteer's GGUF reader and dequantizers.

Usage: python3 gguf_oracle.py <gguf-py dir> '<json request>'
Imports gguf-py's modules without running its package __init__ (which needs pyyaml and more);
only numpy is required.
"""
import hashlib
import json
import os
import sys
import types

import numpy as np

sys.path.insert(0, sys.argv[1])
package = types.ModuleType("gguf")
package.__path__ = [os.path.join(sys.argv[1], "gguf")]
sys.modules["gguf"] = package
from gguf.constants import GGMLQuantizationType, GGML_QUANT_SIZES  # noqa: E402
from gguf import quants  # noqa: E402
from gguf.gguf_reader import GGUFReader  # noqa: E402

request = json.loads(sys.argv[2])
op = request["op"]


def summarize(field):
    kind = field.types[0].name
    if kind == "ARRAY":
        element_type = field.types[-1].name
        if element_type == "STRING":
            digest = hashlib.sha256(b"\0".join(field.parts[i].tobytes() for i in field.data)).hexdigest()
        else:
            digest = hashlib.sha256(np.concatenate([field.parts[i] for i in field.data]).tobytes()).hexdigest() if len(field.data) else ""
        return {"type": kind, "elementType": element_type, "length": len(field.data),
                "head": field.contents(slice(0, 3)), "tail": field.contents(slice(-3, None)), "sha256": digest}
    value = field.contents()
    return {"type": kind, "value": value if not isinstance(value, int) or abs(value) < 2**53 else str(value)}


if op == "metadata":
    reader = GGUFReader(request["gguf"])
    print(json.dumps({
        "fields": {k: summarize(f) for k, f in reader.fields.items() if not k.startswith("GGUF.")},
        "tensors": [{"name": t.name, "type": t.tensor_type.name, "dims": [int(d) for d in t.shape],
                     "absoluteOffset": int(t.data_offset), "byteLength": int(t.n_bytes)} for t in reader.tensors],
    }))
elif op == "tensors":
    # Raw tensor bytes at the offsets our reader found (the metadata op checks those offsets against
    # GGUFReader's), dequantized by gguf-py. Skips GGUFReader here: it takes most of a minute on a
    # 262k-token vocabulary.
    for i, t in enumerate(request["tensors"]):
        qtype = GGMLQuantizationType[t["type"]]
        block_size, type_size = GGML_QUANT_SIZES[qtype]
        row_bytes = t["rowLength"] // block_size * type_size
        raw = np.fromfile(request["gguf"], dtype=np.uint8, count=t["rows"] * row_bytes, offset=t["offset"])
        out = quants.dequantize(raw.reshape(t["rows"], row_bytes), qtype).astype(np.float32, copy=False)
        out.tofile(os.path.join(request["out"], f"{i}.f32"))
    print(json.dumps({"ok": True}))
elif op == "synthetic":
    # Random blocks of one type: raw random bytes with sane float16 scale fields (so values stay
    # finite), and, where gguf-py can quantize the type, quantized random normals too.
    qtype = GGMLQuantizationType[request["type"]]
    block_size, type_size = GGML_QUANT_SIZES[qtype]
    rng = np.random.default_rng(request["seed"])
    blocks = request["blocks"]
    raw = rng.integers(0, 256, size=(blocks, type_size), dtype=np.uint8)
    half_fields = {"Q4_0": [0], "Q4_1": [0, 2], "Q5_0": [0], "Q5_1": [0, 2], "Q8_0": [0],
                   "Q4_K": [0, 2], "Q5_K": [0, 2], "Q6_K": [208]}.get(request["type"], [])
    for at in half_fields:
        scales = (rng.standard_normal(blocks) * 0.01).astype(np.float16)
        raw[:, at:at + 2] = scales.view(np.uint8).reshape(blocks, 2)
    if request["type"] in ("F16", "BF16"):
        # Every bit pattern, NaNs and infinities included, plus the random bytes.
        every = np.arange(65536, dtype=np.uint16).view(np.uint8).reshape(-1, 2)
        raw = np.concatenate([every, raw.reshape(-1, 2)]).reshape(-1, type_size)
    variants = {"random": raw.reshape(-1)}
    data = (rng.standard_normal(blocks * block_size) * 0.05).astype(np.float32)
    try:
        variants["quantized"] = quants.quantize(data.reshape(-1, block_size * 8 if blocks % 8 == 0 else block_size), qtype).reshape(-1).view(np.uint8)
    except NotImplementedError:
        pass
    result = {}
    for name, raw_bytes in variants.items():
        raw_bytes = np.ascontiguousarray(raw_bytes)
        raw_bytes.tofile(os.path.join(request["out"], f"{name}.bin"))
        rows = raw_bytes.reshape(1, -1)
        out = quants.dequantize(rows, qtype).astype(np.float32, copy=False)
        out.tofile(os.path.join(request["out"], f"{name}.f32"))
        result[name] = int(out.size)
    print(json.dumps(result))
else:
    raise SystemExit(f"unknown op {op}")
