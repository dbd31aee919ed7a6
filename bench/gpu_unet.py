"""Optional GPU benchmark: the engine's signal chain in PyTorch on a CUDA device.

The lent GPU machines have PyTorch (Python 3.12) but no TensorFlow or ONNX Runtime GPU build,
and at most 64 MiB of files can travel there. So this script rebuilds the same networks as
``engine/export.py`` in PyTorch, from the checkpoint's variables carried as a
float16 .npz (``--prepare`` writes it here, with the dev mixtures as int16 .npy), and runs
the engine's chain (STFT, U-Nets, ratio masks, top-band extension, inverse STFT) on the GPU.

    .venv/bin/python bench/gpu_unet.py --prepare .gpu        # here: write the inputs
    python3 bench/gpu_unet.py .gpu                           # there: print RTF and SDR

Prints figures; asserts nothing. Quality is the accompaniment's SDR against the truth, to
compare with the CPU engine's (10.32 dB on the 60 s song, 9.91 dB on the 5-minute song).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

MIXTURES = ("dev1_vocadito10_loops", "dev2_festival_sectoid")
RATE, FRAME, HOP, SEGMENT, BINS, MODEL_BINS, TOP_BINS = 44100, 4096, 1024, 512, 2049, 1024, 128


def prepare(folder: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import soundfile as sf

    from engine import export, weights

    folder.mkdir(parents=True, exist_ok=True)
    variables = export._read_checkpoint(weights.verify())
    halves = {k.replace("/", "__"): v.astype(np.float16) for k, v in variables.items()}
    np.savez(folder / "weights_fp16.npz", **halves)
    data = Path(__file__).resolve().parent.parent / "tests" / "data"
    for name in MIXTURES:
        for stem in ("mix", "accompaniment"):
            audio, _ = sf.read(data / name / f"{stem}.flac", dtype="int16")
            np.save(folder / f"{name}_{stem}.npy", audio)


def run(folder: Path, lengths: list[int]) -> None:
    import torch
    import torch.nn.functional as F

    device = "cuda" if torch.cuda.is_available() else "cpu"
    label = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    tf32 = torch.backends.cudnn.allow_tf32
    print(f"device: {label}; torch {torch.__version__}; TF32 convolutions: {tf32}")
    stored = np.load(folder / "weights_fp16.npz")
    w = {k.replace("__", "/"): torch.from_numpy(stored[k].astype(np.float32)).to(device)
         for k in stored.files}  # fmt: skip

    def name(base: str, index: int) -> str:
        return base if index == 0 else f"{base}_{index}"

    def conv(x, layer, pad=(1, 2, 1, 2), stride=2, dilation=1):
        kernel = w[f"{layer}/kernel"].permute(3, 2, 0, 1)
        return F.conv2d(F.pad(x, pad), kernel, w[f"{layer}/bias"], stride=stride,
                        dilation=dilation)  # fmt: skip

    def up(x, layer):
        kernel = w[f"{layer}/kernel"].permute(3, 2, 0, 1)
        return F.conv_transpose2d(x, kernel, w[f"{layer}/bias"], stride=2)[:, :, 1:-2, 1:-2]

    def bn(x, index):
        layer = name("batch_normalization", index)
        scale = w[f"{layer}/gamma"] / torch.sqrt(w[f"{layer}/moving_variance"] + 1e-3)
        shift = w[f"{layer}/beta"] - w[f"{layer}/moving_mean"] * scale
        return x * scale[None, :, None, None] + shift[None, :, None, None]

    def unet(unit, x):  # x: (batch, 2, T, F)
        skips, current = [], x
        for i in range(6):
            c = conv(current, name("conv2d", 7 * unit + i))
            skips.append(c)
            if i < 5:
                current = F.leaky_relu(bn(c, 12 * unit + i), 0.2)
        current = skips[-1]
        for j in range(6):
            u = bn(F.relu(up(current, name("conv2d_transpose", 6 * unit + j))), 12 * unit + 6 + j)
            current = torch.cat([skips[-2 - j], u], dim=1) if j < 5 else u
        logits = conv(current, name("conv2d", 7 * unit + 6), pad=(3, 3, 3, 3), stride=1,
                      dilation=2)  # fmt: skip
        return torch.sigmoid(logits) * x

    n = torch.arange(FRAME, device=device, dtype=torch.float64)
    window = (0.5 - 0.5 * torch.cos(2 * torch.pi * n / FRAME)).float()

    def separate(mix: torch.Tensor) -> torch.Tensor:
        """(n, 2) float32 on the device -> the accompaniment, (n, 2)."""
        length = mix.shape[0]
        frames = -(-(length + FRAME) // HOP)
        padded = torch.zeros(((frames - 1) * HOP + FRAME, 2), device=device)
        padded[FRAME : FRAME + length] = mix
        framed = padded.T.unfold(-1, FRAME, HOP)[:, :frames] * window  # (2, frames, FRAME)
        spectrum = torch.fft.rfft(framed, dim=-1)
        magnitude = spectrum[:, :, :MODEL_BINS].abs()
        whole, rest = divmod(frames, SEGMENT)
        batches = [magnitude[:, : whole * SEGMENT].reshape(2, whole, SEGMENT, MODEL_BINS)
                   .permute(1, 0, 2, 3)] if whole else []  # fmt: skip
        if rest:
            last = torch.zeros((1, 2, -(-rest // 64) * 64, MODEL_BINS), device=device)
            last[0, :, :rest] = magnitude[:, whole * SEGMENT :]
            batches.append(last)
        estimates = []
        for unit in range(2):
            outs = [unet(unit, b).permute(1, 0, 2, 3).reshape(2, -1, MODEL_BINS) for b in batches]
            estimates.append(torch.cat(outs, dim=1)[:, :frames])
        v2, a2 = estimates[0] ** 2, estimates[1] ** 2
        mask = (a2 + 5e-11) / (v2 + a2 + 1e-10)
        top = mask[:, :, -TOP_BINS:].mean(dim=-1, keepdim=True).expand(-1, -1, BINS - MODEL_BINS)
        signal = torch.fft.irfft(spectrum * torch.cat([mask, top], dim=-1), n=FRAME, dim=-1)
        signal = signal * window * (2.0 / 3.0)  # (2, frames, FRAME)
        total = (frames - 1) * HOP + FRAME
        out = F.fold(signal.transpose(1, 2), output_size=(1, total), kernel_size=(1, FRAME),
                     stride=(1, HOP))  # fmt: skip
        return out.reshape(2, total)[:, FRAME : FRAME + length].T

    def song(stem: str, seconds: int) -> np.ndarray:
        parts = [np.load(folder / f"{m}_{stem}.npy") for m in MIXTURES]
        reps = -(-seconds * RATE // sum(len(p) for p in parts))
        return (np.concatenate(parts * reps)[: seconds * RATE] / 32768.0).astype(np.float32)

    def sdr(ref, est):
        return 10 * np.log10(np.sum(ref.astype(np.float64) ** 2) / np.sum((ref - est) ** 2))

    with torch.inference_mode():
        for seconds in lengths:
            mix, truth = song("mix", seconds), song("accompaniment", seconds)
            separate(torch.from_numpy(mix).to(device))  # warm-up (cuDNN autotuning, allocator)
            times = []
            for _ in range(3):
                if device == "cuda":
                    torch.cuda.synchronize()
                started = time.perf_counter()
                result = separate(torch.from_numpy(mix).to(device)).cpu().numpy()
                times.append(time.perf_counter() - started)
            best = min(times)
            peak = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else 0
            print(f"{seconds:4d} s song: {best:.3f} s (RTF {best / seconds:.4f}), "
                  f"host->GPU->host included; accompaniment SDR {sdr(truth, result):.2f} dB; "
                  f"GPU memory peak {peak:.0f} MiB")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--prepare", action="store_true", help="write the inputs (here)")
    parser.add_argument("--lengths", default="60,300,600", help="song lengths in seconds")
    args = parser.parse_args()
    if args.prepare:
        prepare(args.folder)
    else:
        run(args.folder, [int(x) for x in args.lengths.split(",")])


if __name__ == "__main__":
    main()
