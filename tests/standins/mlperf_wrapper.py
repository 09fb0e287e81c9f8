#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test stand-in for the kv-cache program's per-rank wrapper: checks its options, replays a recorded rank file.

See tests/standins/README.md. Standard library only (it runs under the scratch environment's python). Exit
status 2 = options the wrapper would not accept; 3 = no recording; 0 = the rank's result file was written.
"""
import argparse
import glob
import json
import os
import re
import shutil
import sys
import time

RECORDED_RUN = ("closed/NewFW/results/Solidigm_D7-PS1010_7TB_Gen5_NVMe_TLC/kv_cache/llama3.1-8b/run/"
                "20260713_173041")
RECORDED_RANK_FILE = RECORDED_RUN + "/option_1/trial_0/rank_0/kvcache_results_20260713_173043.json"
# the wrapper flags that carry an option's values (what identifies a published option)
VALUE_FLAGS = ("--model", "--num-users", "--duration", "--gpu-mem-gb", "--cpu-mem-gb", "--max-concurrent-allocs",
               "--generation-mode")
MODELS = ("tiny-1b", "mistral-7b", "llama2-7b", "llama3.1-8b", "llama3.1-70b-instruct")
FEATURE_SWITCHES = ("--disable-multi-turn", "--disable-prefix-caching", "--enable-rag", "--enable-autoscaling",
                    "--enable-latency-tracing")


def non_negative(text):
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def parser():
    p = argparse.ArgumentParser(prog="mlperf_wrapper.py (replay stand-in)", allow_abbrev=False)
    p.add_argument("--rank-output-base", required=True)
    p.add_argument("--rank-cache-base", required=True)
    p.add_argument("--seed-base", type=int, required=True)
    p.add_argument("--config")
    p.add_argument("--model", choices=MODELS, required=True)
    p.add_argument("--num-users", type=positive_int, required=True)
    p.add_argument("--duration", type=positive_int, required=True)
    p.add_argument("--gpu-mem-gb", type=non_negative, required=True)
    p.add_argument("--cpu-mem-gb", type=non_negative, required=True)
    p.add_argument("--max-concurrent-allocs", type=positive_int, required=True)
    p.add_argument("--generation-mode", choices=("none", "fast", "realistic"), required=True)
    # the program features the wrapper passes on to kv-cache.py, with kv-cache.py's own argparse types and choices
    for switch in FEATURE_SWITCHES:
        p.add_argument(switch, action="store_true")
    p.add_argument("--rag-num-docs", type=int)
    p.add_argument("--autoscaler-mode", choices=("qos", "capacity"))
    p.add_argument("--performance-profile", choices=("latency", "throughput"))
    return p


def features(args):
    """The program features this rank was given, as the wrapper flags that carried them."""
    used = [s for s in FEATURE_SWITCHES if getattr(args, s[2:].replace("-", "_"))]
    for flag in ("--rag-num-docs", "--autoscaler-mode", "--performance-profile"):
        value = getattr(args, flag[2:].replace("-", "_"))
        if value is not None:
            used.append("%s %s" % (flag, value))
    return used


def published_option(run_dir, args):
    """The published option whose recorded wrapper command carries exactly these values, else None."""
    wanted = {"--model": args.model, "--num-users": str(args.num_users), "--duration": str(args.duration),
              "--gpu-mem-gb": "%g" % args.gpu_mem_gb, "--cpu-mem-gb": "%g" % args.cpu_mem_gb,
              "--max-concurrent-allocs": str(args.max_concurrent_allocs), "--generation-mode": args.generation_mode}
    meta = json.load(open(glob.glob(os.path.join(run_dir, "*_metadata.json"))[0], encoding="utf-8"))
    for entry in meta.get("command_output_files") or []:
        argv = entry.get("command", "").split()
        found = re.search(r"/option_(\d+)/trial_\d+$", argv[argv.index("--rank-output-base") + 1]) \
            if "--rank-output-base" in argv else None
        if not found:
            continue
        got = {f: argv[argv.index(f) + 1] for f in VALUE_FLAGS if f in argv}
        got = {f: ("%g" % float(v) if f.endswith("-mem-gb") else v) for f, v in got.items()}
        if got == wanted:
            return found.group(1)
    return None


def rank():
    for name in ("OMPI_COMM_WORLD_RANK", "PMI_RANK"):
        if name in os.environ:
            return int(os.environ[name])
    return 0


def main(argv):
    args = parser().parse_args(argv)
    for name in ("rank_output_base", "rank_cache_base"):
        if not os.path.isabs(getattr(args, name)):
            sys.stderr.write("--%s must be an absolute path\n" % name.replace("_", "-"))
            return 2
    corpus = os.environ.get("MLPERF_REPLAY_CORPUS")
    source = os.path.join(corpus or "", RECORDED_RANK_FILE)
    if not corpus or not os.path.exists(source):
        sys.stderr.write("no recorded rank file under MLPERF_REPLAY_CORPUS=%r\n" % corpus)
        return 3
    me = rank()
    option = published_option(os.path.join(corpus, RECORDED_RUN), args)
    if option:
        # the published option's own output (trial 0, the recorded log of exactly these values)
        log = glob.glob(os.path.join(corpus, RECORDED_RUN, "kvcache_opt%s_trial0_*.stdout.log" % option))
        if me == 0 and log:
            sys.stdout.write(open(log[0], encoding="utf-8").read().split("### MEMORY SAFETY CHECK ###")[0])
        print("KV Cache Wrapper (replay stand-in) - replaying published option %s" % option)
    else:
        print("KV Cache Wrapper (replay stand-in) - no published option ran these values; option 1's rank file")
    out_dir = os.path.join(args.rank_output_base, "rank_%d" % me)
    os.makedirs(out_dir, exist_ok=True)
    os.makedirs(os.path.join(args.rank_cache_base, "rank_%d" % me), exist_ok=True)
    target = os.path.join(out_dir, "kvcache_results_%s.json" % time.strftime("%Y%m%d_%H%M%S"))
    shutil.copyfile(source, target)
    print("KV Cache Wrapper (replay stand-in) - rank %d, seed %d, model %s, %d users, %d s"
          % (me, args.seed_base + me, args.model, args.num_users, args.duration))
    print("KV Cache Wrapper (replay stand-in) - program features: %s" % (", ".join(features(args)) or "none"))
    print("Results saved to %s" % target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
