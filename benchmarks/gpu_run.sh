#!/usr/bin/env bash
# GPU timing of the ssTEM few-shot training (docs/experiments.md, "GPU"). Run on a CUDA machine
# from the repository root, with the ssTEM data under $NAPARI_IOG_SHARED/data (default ../shared).
#   bash benchmarks/gpu_run.sh OUTDIR [LIGHT_EPOCHS] [PAPER_MINUTES] [WORKERS]
# 1. the headline recipe (cpu-light, batch 8, 192 px) for LIGHT_EPOCHS x 60 steps (61 = the
#    3658 steps of the 30-minute CPU headline), evaluated like the headline (20 corrective clicks);
# 2. the paper profile (ResNet-101, 512 px, batch 8) for PAPER_MINUTES of wall clock, evaluated
#    with 3 corrective clicks. Logs, results JSONs, the light checkpoint and the per-object reports
#    (reports.tgz) go to OUTDIR.
set -u
out=${1:?OUTDIR}; epochs=${2:-61}; paper_min=${3:-2.5}; workers=${4:-12}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH}
py=${PYTHON:-python3}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
$py -c "import os, torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'cpus', os.cpu_count())"
ckdir=$(mktemp -d)
$py benchmarks/sstem_fewshot.py --device ${DEVICE:-cuda} --epochs "$epochs" --minutes 1000 --clock wall \
    --max-wall-minutes 3.5 --threads 4 --workers "$workers" --no-baselines --void-bands none \
    --out "$ckdir/light.pt" --results "$out/gpu_light.json" 2>&1 | tee "$out/gpu_light.log"
$py benchmarks/sstem_fewshot.py --device ${DEVICE:-cuda} --profile paper --minutes "$paper_min" --clock wall \
    --threads 4 --workers "$workers" --batch-size 8 --samples-per-epoch 256 --max-clicks 3 \
    --no-baselines --void-bands none --out "$ckdir/paper.pt" --results "$out/gpu_paper.json" \
    2>&1 | tee "$out/gpu_paper.log"
cp "$ckdir/light.pt" "$out/" 2>/dev/null
(cd "$out" && tar -czf reports.tgz gpu_light gpu_paper && rm -r gpu_light gpu_paper)
rm -rf "$ckdir"
