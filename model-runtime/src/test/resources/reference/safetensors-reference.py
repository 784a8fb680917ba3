# Writes safetensors-reference.safetensors with Hugging Face's own library (safetensors 0.8.0, Python), the fixture
# SafetensorsReferenceFileTest reads: our reader against the reference writer's header and layout.
#   pip install safetensors==0.8.0 numpy && python3 safetensors-reference.py
import numpy as np
from safetensors import TensorSpec, serialize_file

arrays = {
    "model.embed_tokens.weight": np.arange(12, dtype=np.float32).reshape(3, 4) * 0.5,
    "half": np.array([[1.0, -2.0, 0.5], [65504.0, -0.0, 3.140625]], dtype=np.float16),
    "scalar": np.array(2.5, dtype=np.float64),
    "ints": np.array([-128, -1, 0, 1, 127], dtype=np.int8),
    # bfloat16 has no numpy dtype: its bits (1, -2, 0.5, +inf), handed to the serializer as bfloat16
    "bf16": np.array([0x3F80, 0xC000, 0x3F00, 0x7F80], dtype=np.uint16),
}
specs = {name: TensorSpec(dtype="bfloat16" if name == "bf16" else a.dtype.name, shape=a.shape,
                          data_ptr=a.ctypes.data, data_len=a.nbytes) for name, a in arrays.items()}
serialize_file(specs, "safetensors-reference.safetensors", metadata={"format": "pt", "source": "safetensors 0.8.0"})
