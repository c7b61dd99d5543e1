#!/usr/bin/env python3
"""PyTorch step times that the benchmarks report next to ours, measured on the same machine in the same run
(on the CPU by default; --device cuda times the ResNet steps on the GPU, for scripts/gpu-check.sh).

This is the implementation a user would otherwise reach for, written plainly (eager PyTorch, torch.optim.SGD),
so a ratio ours / PyTorch says what switching costs or gains. Sections:

  two_layer_teacher_student   the paper's Sec. 4 student f(x) = a . relu(W x), d = 3, m = 100, batch 1,
                              squared loss: one SGD step, one SAM step (rho 0.1), one gradient-norm
                              regularizer step (J = L + rho ||grad L||, double backprop)
  preact_resnet18_w<W>_b<B>   PreAct ResNet-18 (CIFAR variant, stages W, 2W, 4W, 8W), 32x32x3 inputs, 10 classes,
                              batch B, BatchNorm in training mode: one SGD step (momentum 0.9, weight decay 5e-4)
                              and one SAM step (rho 0.1) on top of it
  vit_b16_224_b<B>            ViT-B/16 (pre-LN blocks, LayerNorm eps 1e-6, GELU tanh, 1000 classes) at 224 px: one
                              eval-mode forward of a batch of B under no_grad, with the process's peak RSS

Prints one JSON line, {"torch", "numpy", "threads", "device", "blas" ({"libraries", "openblas_core"}: bench/blas_info.py), "results": {section: {step: {"median_ms", "min_ms",
"reps"}}}} (with --device cuda also "device_name", "cudnn_allow_tf32", "cudnn_benchmark"); --out writes the same
object to a file. Run it with Debian's interpreter: /usr/bin/python3 (python3-torch). On CUDA each timed step ends
with torch.cuda.synchronize(); cuDNN runs with PyTorch's defaults (TF32 convolutions allowed), as a user gets them,
unless --strict-fp32.
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from blas_info import blas_info

RHO = 0.1



def summary(times_ms: list[float]) -> dict:
    return {"median_ms": round(statistics.median(times_ms), 4), "min_ms": round(min(times_ms), 4), "reps": len(times_ms)}


def sam_perturb(params, rho):
    """Adds eps = rho g / (||g|| + 1e-12) to every parameter in place; returns the eps to subtract again."""
    grads = [p.grad for p in params]
    norm = torch.sqrt(sum((g * g).sum() for g in grads if g is not None))
    scale = rho / (norm + 1e-12)
    eps = []
    with torch.no_grad():
        for p, g in zip(params, grads):
            e = g * scale if g is not None else torch.zeros_like(p)
            p.add_(e)
            eps.append(e)
    return eps


def sam_restore(params, eps):
    with torch.no_grad():
        for p, e in zip(params, eps):
            p.sub_(e)


# ---------------------------------------------------------------- two-layer teacher-student net


def bench_two_layer(quick: bool) -> dict:
    gen = torch.Generator().manual_seed(0)
    d, m, n = 3, 100, 20
    X = F.normalize(torch.randn(n, d, generator=gen), dim=1)
    teacher = F.normalize(torch.randn(3, d, generator=gen), dim=1)
    y = torch.relu(X @ teacher.T) @ torch.tensor([1.0, -1.0, 1.0])
    W = (0.3 * torch.randn(m, d, generator=gen)).requires_grad_()
    a = (0.3 * torch.randn(m, generator=gen)).requires_grad_()
    params = [W, a]
    opt = torch.optim.SGD(params, lr=0.1)
    state = {"i": 0}

    def batch():
        i = state["i"] % n
        state["i"] += 1
        return X[i : i + 1], y[i : i + 1]

    def loss_of(xb, yb):
        return ((torch.relu(xb @ W.T) @ a - yb) ** 2).mean()

    def sgd_step():
        xb, yb = batch()
        opt.zero_grad(set_to_none=True)
        loss_of(xb, yb).backward()
        opt.step()

    def sam_step():
        xb, yb = batch()
        opt.zero_grad(set_to_none=True)
        loss_of(xb, yb).backward()
        eps = sam_perturb(params, RHO)
        opt.zero_grad(set_to_none=True)
        loss_of(xb, yb).backward()
        sam_restore(params, eps)
        opt.step()

    def gradreg_step():
        xb, yb = batch()
        opt.zero_grad(set_to_none=True)
        loss = loss_of(xb, yb)
        grads = torch.autograd.grad(loss, params, create_graph=True)
        norm = torch.sqrt(sum((g * g).sum() for g in grads))
        (loss + RHO * norm).backward()
        opt.step()

    # One step is tens of microseconds: time blocks of steps and report the per-step mean of each block.
    block, reps = (200, 5) if quick else (1000, 15)
    steps = {"sgd": sgd_step, "sam": sam_step, "gradreg": gradreg_step}
    for fn in steps.values():
        for _ in range(block // 4):
            fn()
    times = {k: [] for k in steps}
    for _ in range(reps):
        for name, fn in steps.items():  # alternate, so a busy spell hits all three alike
            t0 = time.perf_counter()
            for _ in range(block):
                fn()
            times[name].append((time.perf_counter() - t0) * 1000 / block)
    return {k: summary(v) for k, v in times.items()}


# ---------------------------------------------------------------- PreAct ResNet-18


class PreActBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.shortcut = nn.Conv2d(cin, cout, 1, stride, bias=False) if stride != 1 or cin != cout else None

    def forward(self, x):
        h = F.relu(self.bn1(x))
        skip = self.shortcut(h) if self.shortcut is not None else x
        h = self.conv1(h)
        h = self.conv2(F.relu(self.bn2(h)))
        return h + skip


class PreActResNet18(nn.Module):
    def __init__(self, width: int, classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        layers, cin = [], width
        for i, stride in enumerate((1, 2, 2, 2)):
            cout = width * 2**i
            layers.append(nn.Sequential(PreActBlock(cin, cout, stride), PreActBlock(cout, cout, 1)))
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.bn = nn.BatchNorm2d(cin)
        self.linear = nn.Linear(cin, classes)

    def forward(self, x):
        h = F.relu(self.bn(self.layers(self.conv1(x))))
        return self.linear(F.adaptive_avg_pool2d(h, 1).flatten(1))


DEVICE = torch.device("cpu")


def synchronize() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def bench_resnet(width: int, batch: int, quick: bool) -> dict:
    torch.manual_seed(0)
    model = PreActResNet18(width).train().to(DEVICE)
    params = [p for p in model.parameters()]
    opt = torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(batch, 3, 32, 32).to(DEVICE)
    labels = torch.randint(0, 10, (batch,)).to(DEVICE)

    def sgd_step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), labels).backward()
        opt.step()

    def sam_step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), labels).backward()
        eps = sam_perturb(params, RHO)
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), labels).backward()
        sam_restore(params, eps)
        opt.step()

    reps = 2 if quick else (10 if DEVICE.type == "cuda" else 5 if width <= 16 else 3)
    steps = {"sgd": sgd_step, "sam": sam_step}
    for _ in range(3 if DEVICE.type == "cuda" else 1):  # CUDA: cuDNN picks its algorithms on the first calls
        for fn in steps.values():
            fn()
    synchronize()
    times = {k: [] for k in steps}
    for _ in range(reps):
        for name, fn in steps.items():
            t0 = time.perf_counter()
            fn()
            synchronize()
            times[name].append((time.perf_counter() - t0) * 1000)
    return {k: summary(v) for k, v in times.items()}


# ---------------------------------------------------------------- ViT-B/16 forward (Table 1's models)


class ViTBlock(nn.Module):
    """Pre-LN block as vision_transformer's Encoder1DBlock: x + MHA(LN(x)), then x + MLP(LN(x)), GELU tanh."""

    def __init__(self, width: int, heads: int, mlp: int):
        super().__init__()
        self.ln1 = nn.LayerNorm(width, eps=1e-6)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln2 = nn.LayerNorm(width, eps=1e-6)
        self.fc1 = nn.Linear(width, mlp)
        self.fc2 = nn.Linear(mlp, width)

    def forward(self, x):
        y = self.ln1(x)
        x = x + self.attn(y, y, y, need_weights=False)[0]
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x)), approximate="tanh"))


class ViT(nn.Module):
    def __init__(self, image: int = 224, patch: int = 16, width: int = 768, depth: int = 12, heads: int = 12, mlp: int = 3072, classes: int = 1000):
        super().__init__()
        self.embed = nn.Conv2d(3, width, patch, patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, width))
        self.pos = nn.Parameter(0.02 * torch.randn(1, (image // patch) ** 2 + 1, width))
        self.blocks = nn.ModuleList([ViTBlock(width, heads, mlp) for _ in range(depth)])
        self.norm = nn.LayerNorm(width, eps=1e-6)
        self.head = nn.Linear(width, classes)

    def forward(self, x):
        x = self.embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.pos
        for b in self.blocks:
            x = b(x)
        return self.head(self.norm(x)[:, 0])


def bench_vit(batch: int, quick: bool) -> dict:
    """ViT-B/16 at 224 px, eval-mode forward under no_grad (inference, as feature extraction): ms per batch."""
    import resource

    torch.manual_seed(0)
    model = ViT().eval()
    x = torch.randn(batch, 3, 224, 224)
    reps = 2 if quick else 5

    def forward():
        with torch.no_grad():
            model(x)

    forward()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        forward()
        times.append((time.perf_counter() - t0) * 1000)
    out = {"forward": summary(times)}
    out["forward"]["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def run_section(name: str, quick: bool) -> dict:
    if name == "two_layer_teacher_student":
        return bench_two_layer(quick)
    match = re.fullmatch(r"vit_b16_224_b(\d+)", name)
    if match:
        return bench_vit(int(match[1]), quick)
    match = re.fullmatch(r"preact_resnet18_w(\d+)_b(\d+)", name)
    if match:
        return bench_resnet(int(match[1]), int(match[2]), quick)
    raise SystemExit(f"unknown section {name!r} (two_layer_teacher_student, preact_resnet18_w<W>_b<B>, vit_b16_224_b<B>)")


def main() -> None:
    parser = argparse.ArgumentParser(description="PyTorch CPU step times for the benchmarks' reference entries")
    parser.add_argument("--only", default="two_layer_teacher_student,preact_resnet18_w16_b128", help="comma-separated sections")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--out", default=None, help="also write the JSON object to this file")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda: where the ResNet steps run")
    parser.add_argument("--strict-fp32", action="store_true", help="CUDA: no TF32 in cuDNN convolutions or matmuls")
    args = parser.parse_args()
    global DEVICE
    DEVICE = torch.device(args.device)
    if DEVICE.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch.cuda.is_available() is False")
    if args.strict_fp32:
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    torch.set_num_threads(args.threads)
    results = {name: run_section(name, args.quick) for name in args.only.split(",") if name}
    out = {"torch": torch.__version__, "numpy": np.__version__, "threads": args.threads, "device": str(DEVICE), "blas": blas_info(), "results": results}
    if DEVICE.type == "cuda":
        out.update(
            device_name=torch.cuda.get_device_name(DEVICE),
            cudnn_allow_tf32=torch.backends.cudnn.allow_tf32,
            cudnn_benchmark=torch.backends.cudnn.benchmark,
        )
    line = json.dumps(out)
    if args.out:
        with open(args.out, "w") as f:
            f.write(line + "\n")
    print(line)


if __name__ == "__main__":
    main()
