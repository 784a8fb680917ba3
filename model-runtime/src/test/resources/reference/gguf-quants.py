# Writes gguf-quants.json with ggml's own Python package (gguf 0.19.0, ggml-org/llama.cpp's gguf-py, with numpy), the
# fixture GgufQuantsReferenceTest reads: for Q4_1, Q5_0 and Q5_1, random rows quantized by gguf-py's reference
# quantizers and dequantized again; for Q5_K, Q2_K, Q3_K, IQ4_NL and IQ4_XS (gguf-py has no quantizer for them), random
# blocks dequantized.
#   pip install gguf==0.19.0 numpy && python3 gguf-quants.py
import json
import numpy as np
from gguf.constants import GGMLQuantizationType as T
from gguf import quants

rng = np.random.default_rng(20261130)
rows, cols = 3, 256


def bits(a):
    return [int(v) for v in np.asarray(a, dtype=np.float32).view(np.uint32).ravel()]


cases = []
for t in (T.Q4_1, T.Q5_0, T.Q5_1):
    x = (rng.standard_normal((rows, cols)) * rng.choice([0.01, 1.0, 30.0], (rows, cols // 32)).repeat(32, axis=1)).astype(np.float32)
    x[1, :32] = 0.0                       # an all-zero block (d = 0)
    x[1, 32:64] = -np.abs(x[1, 32:64])    # a block whose largest magnitude is negative
    x[2, 64:96] = 0.75                    # a constant block (max = min)
    q = quants.quantize(x, t)
    cases.append({"type": t.name, "rows": rows, "cols": cols, "input": bits(x), "bytes": q.tobytes().hex(),
                  "values": bits(quants.dequantize(q, t))})

blocks = rng.integers(0, 256, (rows, 176), dtype=np.uint8)
for r in range(rows):
    blocks[r, 0:2] = np.frombuffer(np.float16(rng.standard_normal() * 0.02).tobytes(), dtype=np.uint8)
    blocks[r, 2:4] = np.frombuffer(np.float16(rng.standard_normal() * 0.02).tobytes(), dtype=np.uint8)
cases.append({"type": "Q5_K", "rows": rows, "cols": 256, "input": None, "bytes": blocks.tobytes().hex(),
              "values": bits(quants.dequantize(blocks, T.Q5_K))})



def half(x):
    return np.frombuffer(np.float16(x).tobytes(), dtype=np.uint8)


# (type, block bytes, byte offsets of the block's half-float scales); every other byte is random
for name, size, halves in (("Q2_K", 84, (80, 82)), ("Q3_K", 110, (108,)), ("IQ4_NL", 18, (0,)), ("IQ4_XS", 136, (0,))):
    per_row = cols // (256 if size != 18 else 32)
    blocks = rng.integers(0, 256, (rows * per_row, size), dtype=np.uint8)
    for b in range(rows * per_row):
        for o in halves:
            blocks[b, o:o + 2] = half(rng.standard_normal() * 0.02)
    blocks[0, halves[0]:halves[0] + 2] = half(-0.0)   # a zero scale: the block's values are signed zeros
    cases.append({"type": name, "rows": rows, "cols": cols, "input": None, "bytes": blocks.tobytes().hex(),
                  "values": bits(quants.dequantize(blocks.reshape(rows, -1), T[name]))})

with open("gguf-quants.json", "w") as f:
    json.dump({"source": "gguf 0.19.0 (gguf-py), numpy " + np.__version__, "cases": cases}, f)
