#!/usr/bin/env python3
# The PyTorch comparison of the library benchmark (library.bench.ts, phase `torch`): an indexer in rclip's manner
# (PIL decode, RGB, shortest side to 224 bicubic, centre crop 224, CLIP mean/std, batches of 8, one process, torch
# intra-op threads = THREADS) over a folder of JPEGs, with a CLIP ViT-B/32 vision tower of random weights.
#
#   python3 test/bench/torch-indexer.py FOLDER THREADS [--batch 8]
#
# Prints one JSON line: {"photos", "threads", "batch", "torch", "blas", "pipelinePhotosPerSecond",
# "modelImagesPerSecond", "decodeSeconds", "modelSeconds", "matmulGflops" (512x512, to tell OpenBLAS from the
# reference BLAS), "maxRssMb"}.
#
# The tower has the shapes and cost of random-clip.ts's ONNX model (patch 32, width 768, 12 layers, 12 heads, MLP
# 3072, quick-GELU, pre-LN, class token, post-LN on the class token, projection to 512, no bias on the projection):
# the same compute per image. Its weights are random too (seeded), but NOT the same numbers as the ONNX file's; they
# need not be, since only the time is measured. Needs python3-torch and python3-pil, and for a fair figure a
# multithreaded BLAS (Debian: apt-get install libopenblas0-pthread; without it torch uses the reference BLAS and is
# some 20x slower). No network.
import json
import os
import resource
import sys
import time

# OpenBLAS starts its own pool of threads, one a core by default, beside torch's OpenMP threads: give both THREADS,
# before torch loads it.
if len(sys.argv) > 2 and sys.argv[2].isdigit():
    for var in ('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS'):
        os.environ.setdefault(var, sys.argv[2])

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from torch import nn  # noqa: E402

MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)
SIZE = 224


class QuickGelu(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class Layer(nn.Module):
    """One pre-LN transformer layer, as open_clip's ResidualAttentionBlock (which rclip runs): nn.MultiheadAttention."""

    def __init__(self, width, heads):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, width * 4), QuickGelu(), nn.Linear(width * 4, width))

    def forward(self, x):
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class VisionTower(nn.Module):
    def __init__(self, width=768, layers=12, heads=12, patch=32, image=SIZE, projection=512):
        super().__init__()
        grid = image // patch
        self.conv = nn.Conv2d(3, width, kernel_size=patch, stride=patch, bias=False)
        self.class_embedding = nn.Parameter(torch.randn(width) * 0.02)
        self.position_embedding = nn.Parameter(torch.randn(grid * grid + 1, width) * 0.02)
        self.ln_pre = nn.LayerNorm(width)
        self.layers = nn.Sequential(*[Layer(width, heads) for _ in range(layers)])
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Linear(width, projection, bias=False)

    def forward(self, pixels):
        x = self.conv(pixels).flatten(2).transpose(1, 2)  # [N, grid*grid, width]
        cls = self.class_embedding.expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + self.position_embedding
        x = self.layers(self.ln_pre(x))
        return self.proj(self.ln_post(x[:, 0]))


def preprocess(file):
    """rclip / CLIP's preprocess: RGB, shortest side to 224 (bicubic), centre crop, scale, normalise; CHW float32."""
    with Image.open(file) as im:
        im = im.convert('RGB')
        w, h = im.size
        scale = SIZE / min(w, h)
        nw, nh = max(SIZE, round(w * scale)), max(SIZE, round(h * scale))
        im = im.resize((nw, nh), Image.BICUBIC)
        left, top = (nw - SIZE) // 2, (nh - SIZE) // 2
        im = im.crop((left, top, left + SIZE, top + SIZE))
        a = (np.asarray(im, dtype=np.float32) / 255.0 - MEAN) / STD
    return torch.from_numpy(a.transpose(2, 0, 1).copy())


def blas():
    """The BLAS library this process loaded (Debian's torch links libblas.so.3, chosen by update-alternatives)."""
    try:
        with open('/proc/self/maps') as maps:
            for line in maps:
                path = line.split()[-1]
                if 'blas' in os.path.basename(path).lower():
                    return os.path.realpath(path)
    except OSError:
        pass
    return 'unknown'


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        print('usage: torch-indexer.py FOLDER THREADS [--batch 8]', file=sys.stderr)
        sys.exit(2)
    folder, threads = args[0], int(args[1])
    batch = int(args[args.index('--batch') + 1]) if '--batch' in args else 8
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    files = sorted(
        os.path.join(folder, f) for f in os.listdir(folder) if f.lower().endswith(('.jpg', '.jpeg'))
    )
    if not files:
        print(f'no JPEGs in {folder}', file=sys.stderr)
        sys.exit(2)
    model = VisionTower().eval()

    # BLAS check: OpenBLAS gives tens of GFLOP/s on 512x512 matmuls; the reference BLAS about one.
    with torch.inference_mode():
        m = torch.randn(512, 512)
        m @ m
        reps = 20
        t0 = time.perf_counter()
        for _ in range(reps):
            m @ m
        gflops = reps * 2 * 512**3 / (time.perf_counter() - t0) / 1e9

    with torch.inference_mode():
        model(torch.zeros(batch, 3, SIZE, SIZE))  # warm-up, outside the timing

        # The whole pipeline as rclip runs it: decode a batch, then run the model on it, one after the other.
        decode_s = model_s = 0.0
        t0 = time.perf_counter()
        for i in range(0, len(files), batch):
            a = time.perf_counter()
            pixels = torch.stack([preprocess(f) for f in files[i : i + batch]])
            b = time.perf_counter()
            embeds = model(pixels)
            embeds = embeds / embeds.norm(dim=-1, keepdim=True)
            model_s += time.perf_counter() - b
            decode_s += b - a
        pipeline_s = time.perf_counter() - t0

        # The model alone on ready tensors, same batches.
        ready = [torch.stack([preprocess(f) for f in files[i : i + batch]]) for i in range(0, len(files), batch)]
        t0 = time.perf_counter()
        for pixels in ready:
            model(pixels)
        alone_s = time.perf_counter() - t0

    print(
        json.dumps(
            {
                'photos': len(files),
                'threads': threads,
                'batch': batch,
                'torch': torch.__version__,
                'blas': blas(),
                'pipelinePhotosPerSecond': len(files) / pipeline_s,
                'modelImagesPerSecond': len(files) / alone_s,
                'decodeSeconds': decode_s,
                'modelSeconds': model_s,
                'matmulGflops': gflops,
                'maxRssMb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


if __name__ == '__main__':
    main()
