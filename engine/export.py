"""Spleeter's 2-stem U-Nets, rebuilt as one ONNX graph from the real checkpoint.

Why: importing TensorFlow takes ~13 s here and its graph another ~3 s, which every cold
start paid; ONNX Runtime loads in under a second and runs the same networks ~20 % faster
on this CPU. The graph below mirrors ``spleeter.model.functions.unet.apply_unet`` layer by
layer (the variable names are Keras's, in creation order), and the engine's tests check its
output against Spleeter's own TensorFlow graph on real audio, to float rounding.

TensorFlow is needed only here, to read the checkpoint, at install time.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from .dsp import OUTPUTS  # Spleeter's checkpoint order: U-Net 0 is vocals, 1 accompaniment

# The file names carry the builder version: a model folder shared by checkouts of different
# versions holds each one's export side by side instead of each rebuilding over the other's.
BUILDER_VERSION = 3  # bump when the graph below changes, so old exports are rebuilt
ONNX_NAME = f"unet-2stems-v{BUILDER_VERSION}.onnx"
MANIFEST_NAME = f"unet-2stems-v{BUILDER_VERSION}.json"
BN_EPSILON = 1e-3  # Keras BatchNormalization's default, used by Spleeter
LEAKY_SLOPE = 0.2
ENCODER_LAYERS = 6
# Output phase (0: even rows/columns, 1: odd) of the stride-2 transposed convolution -> the
# kernel taps that reach it, first to last input, and the (before, after) padding.
PHASE_TAPS = {0: ([3, 1], (1, 0)), 1: ([4, 2, 0], (1, 1))}
PHASE_MIN_CHANNELS = 16


def _read_checkpoint(checkpoint_dir: Path) -> dict[str, np.ndarray]:
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(checkpoint_dir / "model"))
    names = reader.get_variable_to_shape_map()
    return {name: reader.get_tensor(name) for name in names if "Adam" not in name}


def _keras_name(base: str, index: int) -> str:
    return base if index == 0 else f"{base}_{index}"


class _GraphBuilder:
    def __init__(self, variables: dict[str, np.ndarray]) -> None:
        self.variables = variables
        self.nodes: list = []
        self.initializers: list = []

    def var(self, name: str) -> np.ndarray:
        return self.variables[name]

    def const(self, name: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        array = np.ascontiguousarray(value, dtype=np.float32)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attributes) -> str:
        from onnx import helper

        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attributes))
        return output

    def conv(self, x: str, layer: str, out: str, **attributes) -> str:
        kernel = self.var(f"{layer}/kernel").transpose(3, 2, 0, 1)  # HWIO -> OIHW
        weights = self.const(f"{layer}/w", kernel)
        bias = self.const(f"{layer}/b", self.var(f"{layer}/bias"))
        return self.node("Conv", [x, weights, bias], out, **attributes)

    def conv_transpose(self, x: str, layer: str, out: str) -> str:
        """TF's "same" transposed convolution, stride 2, kernel 5: output 2n, one row/column
        of padding before, two after (ONNX ``pads=[1, 1, 2, 2]``).

        With 16 or more output channels it is built as its four output phases instead: each
        output row 2m + r and column 2k + c is an ordinary convolution of the input with the
        kernel taps that land there (rows r = 0 take taps 3, 1 from inputs m-1, m; rows r = 1
        take taps 4, 2, 0 from m-1, m, m+1; columns alike), and DepthToSpace interleaves the
        four. The same products, summed in another order (float rounding); ONNX Runtime runs
        ordinary convolutions in its blocked layout, about 25 % faster here. The last layer
        (one output channel) stays a ConvTranspose: phases of one channel fill its blocks
        badly."""
        kernel = self.var(f"{layer}/kernel").transpose(3, 2, 0, 1)  # HW,out,in -> in,out,HW
        bias = self.var(f"{layer}/bias")
        if kernel.shape[1] < PHASE_MIN_CHANNELS:
            weights = self.const(f"{layer}/w", kernel)
            return self.node(
                "ConvTranspose", [x, weights, self.const(f"{layer}/b", bias)], out,
                kernel_shape=[5, 5], strides=[2, 2], pads=[1, 1, 2, 2],
            )  # fmt: skip
        phases = []
        for row in (0, 1):
            for column in (0, 1):
                rows, (top, bottom) = PHASE_TAPS[row]
                columns, (left, right) = PHASE_TAPS[column]
                taps = kernel[:, :, rows][:, :, :, columns].transpose(1, 0, 2, 3)  # out,in,h,w
                name = f"{out}/phase{row}{column}"
                phases.append(self.node(
                    "Conv", [x, self.const(f"{name}/w", taps), self.const(f"{name}/b", bias)],
                    name, kernel_shape=list(taps.shape[2:]), pads=[top, left, bottom, right],
                ))  # fmt: skip
        stacked = self.node("Concat", phases, f"{out}/phases", axis=1)
        return self.node("DepthToSpace", [stacked], out, blocksize=2, mode="DCR")

    def batch_norm(self, x: str, index: int, out: str) -> str:
        layer = _keras_name("batch_normalization", index)
        gamma, beta, mean, variance = (
            self.var(f"{layer}/{part}")
            for part in ("gamma", "beta", "moving_mean", "moving_variance")
        )
        scale = gamma / np.sqrt(variance + BN_EPSILON)
        shift = beta - mean * scale
        scaled = self.node("Mul", [x, self.const(f"{layer}/scale", scale[None, :, None, None])],
                           f"{out}/scaled")  # fmt: skip
        return self.node("Add", [scaled, self.const(f"{layer}/shift", shift[None, :, None, None])],
                         out)  # fmt: skip

    def unet(self, unit: int, x: str, name: str) -> str:
        """One instrument's U-Net, as ``apply_unet`` builds it (inference: no dropout)."""
        skips, current = [], x
        for i in range(ENCODER_LAYERS):
            conv = self.conv(
                current, _keras_name("conv2d", 7 * unit + i), f"{name}/conv{i}",
                kernel_shape=[5, 5], strides=[2, 2], pads=[1, 1, 2, 2],
            )  # fmt: skip
            skips.append(conv)
            if i < ENCODER_LAYERS - 1:  # the sixth layer's activation is unused in Spleeter
                normal = self.batch_norm(conv, 12 * unit + i, f"{name}/bn{i}")
                current = self.node("LeakyRelu", [normal], f"{name}/act{i}", alpha=LEAKY_SLOPE)
        current = skips[-1]  # the decoder starts from the raw sixth convolution
        for j in range(ENCODER_LAYERS):
            up = self.conv_transpose(
                current, _keras_name("conv2d_transpose", 6 * unit + j), f"{name}/up{j}"
            )
            up = self.node("Relu", [up], f"{name}/up{j}/relu")
            up = self.batch_norm(up, 12 * unit + 6 + j, f"{name}/up{j}/bn")
            if j < ENCODER_LAYERS - 1:  # skip connections take the raw convolutions
                up = self.node("Concat", [skips[-2 - j], up], f"{name}/merge{j}", axis=1)
            current = up
        # Last layer: 4x4 dilated by 2, "same" (3 on each side), sigmoid mask times the input.
        logits = self.conv(
            current, _keras_name("conv2d", 7 * unit + 6), f"{name}/logits",
            kernel_shape=[4, 4], dilations=[2, 2], pads=[3, 3, 3, 3],
        )  # fmt: skip
        mask = self.node("Sigmoid", [logits], f"{name}/mask")
        return self.node("Mul", [mask, x], name)


def build_onnx(variables: dict[str, np.ndarray]) -> bytes:
    """The two U-Nets as one ONNX model: input ``mix`` (N, 2, T, F) magnitudes, channels
    first (the layout the convolutions and the engine's STFT both use, so nobody transposes),
    outputs ``vocals`` and ``accompaniment`` estimates of the same shape. Spleeter's graph
    takes (N, T, F, 2); the arithmetic is the same."""
    import onnx
    from onnx import TensorProto, helper

    builder = _GraphBuilder(variables)
    outputs = [builder.unet(unit, "mix", name) for unit, name in enumerate(OUTPUTS)]
    shape = ["N", 2, "T", "F"]
    graph = helper.make_graph(
        builder.nodes,
        "spleeter_2stems_unet",
        [helper.make_tensor_value_info("mix", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape) for name in outputs],
        builder.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def manifest_for(checkpoint_hashes: dict[str, str], onnx_bytes_sha256: str) -> dict:
    return {
        "builder_version": BUILDER_VERSION,
        "checkpoint_sha256": checkpoint_hashes,
        "onnx_sha256": onnx_bytes_sha256,
    }


def export(checkpoint_dir: Path, checkpoint_hashes: dict[str, str]) -> Path:
    """Write the ONNX model and its manifest next to the checkpoint; return the model path."""
    data = build_onnx(_read_checkpoint(checkpoint_dir))
    target = checkpoint_dir / ONNX_NAME
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(data)
    partial.replace(target)
    manifest = manifest_for(checkpoint_hashes, hashlib.sha256(data).hexdigest())
    (checkpoint_dir / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
    return target
