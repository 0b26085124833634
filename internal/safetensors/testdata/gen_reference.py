#!/usr/bin/python3
"""Writes reference.safetensors with tools/fixtures/perfmodel.py's save_safetensors.

Run with Debian's /usr/bin/python3 (needs python3-torch); the Go tests only read
the committed output. Values are simple closed forms so the test can recompute them.
"""
import os, sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "tools", "fixtures"))
import torch
from perfmodel import save_safetensors

here = os.path.dirname(os.path.abspath(__file__))
tensors = {
    "lstm.weight_ih_l0": (torch.arange(12, dtype=torch.float32) * 0.25 - 1.5).reshape(4, 3),
    "b.f64": torch.arange(5, dtype=torch.float64) / 3.0,
    "a.i64": torch.tensor([[-2, 0], [7, 2**40]], dtype=torch.int64),
    "scalar": torch.tensor(3.5, dtype=torch.float32),
    "empty": torch.zeros(0, 3, dtype=torch.float32),
}
# Metadata in sorted key order, as the Go writer emits it, so the bytes match.
meta = {"dropout": 0.2, "format": "perfmodel/1", "head": "128,64,32", "name": "caf\u00e9 \"q\""}
save_safetensors(os.path.join(here, "reference.safetensors"), tensors, meta)
