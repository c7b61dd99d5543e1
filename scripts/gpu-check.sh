#!/usr/bin/env bash
# The GPU check of issue 18 on a machine with a GPU and no network (docs/results/gpu/README.md):
#
#   node scripts/gpu-pack.mjs        # here, once: fills the ignored .gpu/ (< 64 MiB)
#   bash scripts/gpu-check.sh        # there, from the repository root, with .gpu/ carried along
#
# 1. Vulkan: where no libvulkan.so.1 is installed and an NVIDIA GPU is (nvidia-smi), unpacks .gpu/debs with
#    dpkg -x into / (root only) and points the loader at NVIDIA's driver manifest if none is in the usual places.
# 2. Unpacks Node 22, Dawn's binding and the bundled check into $SAMRANK_GPU_WORK (default /tmp/samrank-gpu).
# 3. Names the WebGPU adapter, or prints one line saying why there is none and exits 2.
# 4. Times the same PreAct ResNet-18 steps in PyTorch CUDA (bench/torch_reference.py --device cuda), when python3
#    has torch with CUDA.
# 5. Runs scripts/gpu-check.mjs (checks, ResNet steps, teacher-student grid, paper-scale rank) and writes
#    bench/results/gpu.json and gpu.md (copied to $OUT when that is set).
#
# Arguments are passed to the check (e.g. --dry, --sections checks,resnet). Environment: SAMRANK_GPU_WORK,
# SAMRANK_GPU_NO_TORCH=1, SAMRANK_GPU_TS_ITERATIONS (teacher-student steps, default 2000).
# Exit: 0 all checks passed, 1 a check failed or something broke, 2 no adapter or nothing packed.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
gpu=$root/.gpu
work=${SAMRANK_GPU_WORK:-/tmp/samrank-gpu}
results=$root/bench/results

if [ ! -f "$gpu/runtime.tar.xz" ] || [ ! -f "$gpu/app.tar.xz" ]; then
  echo "nothing packed in .gpu/: run node scripts/gpu-pack.mjs first (and carry .gpu to the GPU machine)"
  exit 2
fi

dry=0
for a in "$@"; do [ "$a" = --dry ] && dry=1; done

# ---- 1. Vulkan loader and NVIDIA's driver manifest
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | sed 's/^/gpu: /'
  if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then
    if [ "$(id -u)" = 0 ] && ls "$gpu"/debs/*.deb >/dev/null 2>&1; then
      for f in "$gpu"/debs/*.deb; do dpkg -x "$f" /; done
      ldconfig
      echo "vulkan: unpacked $(ls "$gpu"/debs/*.deb | wc -l) packages from .gpu/debs"
    else
      echo "vulkan: no libvulkan.so.1 and cannot unpack .gpu/debs (needs root and node scripts/gpu-pack.mjs without --no-debs)"
    fi
  fi
  if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] && ! ls /usr/share/vulkan/icd.d/nvidia*.json /etc/vulkan/icd.d/nvidia*.json >/dev/null 2>&1; then
    for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.x86_64.json; do
      if [ -f "$icd" ]; then
        export VK_DRIVER_FILES=$icd
        echo "vulkan: driver manifest $icd"
        break
      fi
    done
  fi
  egl=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  [ -z "${__EGL_VENDOR_LIBRARY_FILENAMES:-}" ] && [ -f "$egl" ] && export __EGL_VENDOR_LIBRARY_FILENAMES=$egl
fi

# ---- 2. Node, Dawn and the check
stamp=$(cat "$gpu/manifest.json" 2>/dev/null | sha256sum | cut -c1-16)
if [ ! -f "$work/.stamp" ] || [ "$(cat "$work/.stamp")" != "$stamp" ]; then
  rm -rf "$work" && mkdir -p "$work"
  for archive in runtime app; do
    if ! tar -xJf "$gpu/$archive.tar.xz" -C "$work" 2>/dev/null; then
      # No xz on the machine: Python's lzma does the same.
      python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2])' "$gpu/$archive.tar.xz" "$work" || { echo "cannot unpack .gpu/$archive.tar.xz"; exit 1; }
    fi
  done
  echo "$stamp" > "$work/.stamp"
fi
node=$work/bin/node
check=$work/app/check.mjs

# ---- 3. The adapter, or one line and exit 2
"$node" "$check" --root "$root" --adapter-only "$@"
rc=$?
[ $rc -ne 0 ] && exit $rc
echo "node: $("$node" --version)"

# ---- 4. PyTorch CUDA on the same GPU
mkdir -p "$results"
torch_args=()
if [ $dry = 0 ] && [ -z "${SAMRANK_GPU_NO_TORCH:-}" ] && python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  sections=preact_resnet18_w16_b128,preact_resnet18_w16_b256,preact_resnet18_w64_b128,preact_resnet18_w64_b256
  # As a user gets it (cuDNN may use TF32), and strictly in float32 as WebGPU computes.
  if PYTHONUNBUFFERED=1 timeout 300 python3 "$root/bench/torch_reference.py" --device cuda --only "$sections" --out "$results/gpu-torch.json" >/dev/null; then
    torch_args=(--torch "$results/gpu-torch.json")
  else
    echo "PyTorch CUDA reference failed (see above); continuing without it"
  fi
  if PYTHONUNBUFFERED=1 timeout 300 python3 "$root/bench/torch_reference.py" --device cuda --strict-fp32 --only "$sections" --out "$results/gpu-torch-fp32.json" >/dev/null; then
    torch_args+=(--torch-fp32 "$results/gpu-torch-fp32.json")
  fi
else
  echo "PyTorch CUDA reference skipped (dry run, SAMRANK_GPU_NO_TORCH, or no torch with CUDA)"
fi

# ---- 5. The check
"$node" "$check" --root "$root" "${torch_args[@]}" "$@"
rc=$?
if [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ]; then
  cp "$results"/gpu.json "$results"/gpu.md "$OUT"/ 2>/dev/null
  cp "$results"/gpu-torch*.json "$OUT"/ 2>/dev/null
fi
exit $rc
