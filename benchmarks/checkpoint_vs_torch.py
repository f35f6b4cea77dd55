#!/usr/bin/python3
"""Side by side: the engine's checkpoints against torch.save / torch.load of the same training state,
and the training step's slowdown while an asynchronous save runs. One run of one script.

1. Save and load. One GPT's full training state (parameters, fp32 masters where the precision has
   them, AdamW moments) saved by the engine at dp 2 (2 worker processes, each writing its own
   rank file) and at dp 2 with ZeRO-2 (each rank writes only its partition of the moments), and
   loaded back into the same layout; against PyTorch doing torch.save (then flush + os.fsync) and
   torch.load of exactly the same tensors (names, shapes, dtypes and bytes read from the engine's
   checkpoint) in one process, as PyTorch users save on rank 0 (a gather to rank 0 would come on
   top; it is not counted). Engine save: write_s of the checkpoint_saved event of a synchronous
   save (train.checkpoint_async false). Engine load: load_s of the run_resumed event of
   `behemoth run --resume STEP_DIR` with nothing left to train (the slowest rank's load). Each
   measurement --reps times, the sides alternating; the table shows the best and the median (the
   JSON has every figure).
2. Step slowdown. The same model at dp 2, train.log_every 1, trained --slowdown-steps steps without
   saves, with an asynchronous save every --every steps and with a synchronous one: mean step_time_s
   of the steps during which a save was in flight (after the save's step until its checkpoint_saved
   event) against steps with none; stall_s (how long training waited) of async and sync saves.
3. Checks. Bytes on disk (os.stat of every file of the step directory) against the event's bytes;
   every rank file parsed by an independent safetensors reader (benchmarks/python/safetensors_reader.py):
   the header parses and the data offsets tile the file; tensors put together from the dp 2 and the
   ZeRO-2 checkpoints compared; the PyTorch side's loaded state compared bit for bit with the engine's.

    /usr/bin/python3 benchmarks/checkpoint_vs_torch.py --bin build/bin/behemoth --reps 3 --json ckpt.json

Reads may come from the page cache on both sides alike (nothing is dropped from it: that needs root).
ratio = PyTorch seconds / engine seconds: above 1 means the engine is faster.
"""

import argparse
import array
import json
import os
import shutil
import statistics
import struct
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import dp_vs_ddp as common  # noqa: E402

sys.path.insert(0, os.path.join(HERE, "python"))
import safetensors_reader  # noqa: E402

TORCH_WORKER = os.path.join(HERE, "python", "torch_checkpoint.py")
NPROC = 2
LAYOUTS = {"dp2": ("engine dp 2", {"parallel.zero": 0}), "zero2": ("engine dp 2 ZeRO-2", {"parallel.zero": 2})}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True, help="the behemoth executable")
    parser.add_argument("--reps", type=int, default=3, help="save/load measurements per side, alternating")
    parser.add_argument("--n-layer", type=int, default=8)
    parser.add_argument("--n-head", type=int, default=8)
    parser.add_argument("--d-model", type=int, default=512)
    parser.add_argument("--seq-len", type=int, default=32)
    parser.add_argument("--global-batch", type=int, default=2)
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"],
                        help="bf16 adds fp32 master weights to the state")
    parser.add_argument("--slowdown-steps", type=int, default=16, help="steps of each step-slowdown run")
    parser.add_argument("--slowdown-reps", type=int, default=1, help="runs per step-slowdown mode, alternating")
    parser.add_argument("--every", type=int, default=4, help="train.checkpoint_every of the step-slowdown runs")
    parser.add_argument("--warmup", type=int, default=2, help="first steps of each step-slowdown run left out")
    parser.add_argument("--no-slowdown", action="store_true", help="save and load only (part 1 and the checks)")
    parser.add_argument("--work-dir", help="where checkpoints are written (default: a temporary directory)")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--timeout", type=int, default=600, help="seconds allowed for one run")
    args = parser.parse_args(argv)
    if not os.access(args.bin, os.X_OK):
        parser.error(f"--bin {args.bin}: not an executable file")
    if args.reps < 1 or args.slowdown_reps < 1:
        parser.error("--reps and --slowdown-reps must be at least 1")
    if args.every < 1 or args.slowdown_steps <= args.every + args.warmup:
        parser.error(f"--slowdown-steps {args.slowdown_steps} must exceed --every {args.every} + --warmup "
                     f"{args.warmup}")
    return args


def model_overrides(args):
    return {"model.n_layer": args.n_layer, "model.n_head": args.n_head, "model.d_model": args.d_model,
            "model.seq_len": args.seq_len, "model.vocab_size": common.VOCAB,
            "data.global_batch_size": args.global_batch, "devices.count": NPROC, "precision": args.precision,
            "train.eval_every": 0, "train.log_every": 1, "train.checkpoint_keep": 10}


def run_engine(args, out_dir, overrides, what, extra_args=()):
    """Runs `behemoth run --events` and returns its JSON event lines."""
    settings = dict(model_overrides(args), **overrides)
    settings["train.out_dir"] = out_dir
    command = [os.path.abspath(args.bin), "run", common.PROJECT, "--nproc", str(NPROC), "--no-history", "--events",
               *extra_args]
    for key, value in settings.items():
        command += ["--set", f"{key}={json.dumps(value) if isinstance(value, bool) else value}"]
    done = common.run_checked(command, what, args.timeout, env=common.single_thread_env())
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if not any(e.get("event") == "run_finished" for e in events):
        raise RuntimeError(f"{what}: no run_finished event\n{' '.join(command)}")
    return events


def of_type(events, kind):
    return [e for e in events if e.get("event", "step") == kind]


def check_on_disk(step_dir, event_bytes):
    """Part 3: the files on disk sum to the event's bytes; every rank file parses and its data
    offsets tile it; index.json's recorded file sizes agree."""
    on_disk = sum(os.stat(os.path.join(step_dir, name)).st_size for name in os.listdir(step_dir))
    if on_disk != event_bytes:
        raise RuntimeError(f"{step_dir}: files on disk hold {on_disk} bytes, checkpoint_saved says {event_bytes}")
    index = safetensors_reader.read_index(step_dir)
    files = []
    for entry in index["files"]:
        tiling = safetensors_reader.check_tiling(os.path.join(step_dir, entry["name"]))
        if tiling["file_bytes"] != entry["bytes"]:
            raise RuntimeError(f"{step_dir}/{entry['name']}: {tiling['file_bytes']} bytes, index.json says "
                               f"{entry['bytes']}")
        files.append(dict(tiling, name=entry["name"]))
    tensor_bytes = sum(len_of(t) for t in index["tensors"])
    return {"bytes_on_disk": on_disk, "event_bytes": event_bytes, "files": files, "tensors": len(index["tensors"]),
            "tensor_bytes": tensor_bytes}


def len_of(tensor):
    count = 1
    for extent in tensor["shape"]:
        count *= extent
    return count * safetensors_reader.ELEMENT_BYTES[tensor["dtype"]]


def engine_save(args, layout, root):
    """One synchronous save of the state after one training step; its checkpoint_saved event."""
    label, extra = LAYOUTS[layout]
    out_dir = tempfile.mkdtemp(prefix=f"engine-{layout}-", dir=root)
    events = run_engine(args, out_dir, dict(extra, **{"train.steps": 1, "train.checkpoint_every": 0,
                                                      "train.checkpoint_final": True,
                                                      "train.checkpoint_async": False}), f"{label} save")
    saved = of_type(events, "checkpoint_saved")
    if len(saved) != 1 or saved[0]["async"]:
        raise RuntimeError(f"{label} save: expected one synchronous checkpoint_saved event, got {saved}")
    event = saved[0]
    return {"out_dir": out_dir, "path": event["path"], "write_s": event["write_s"], "stall_s": event["stall_s"],
            "bytes": event["bytes"], "check": check_on_disk(event["path"], event["bytes"])}


def engine_load(args, layout, save):
    """`behemoth run --resume` of that checkpoint into the same layout, with nothing left to train:
    its run_resumed event (load_s: the slowest rank's load; bytes_read: all ranks together)."""
    label, extra = LAYOUTS[layout]
    events = run_engine(args, save["out_dir"], dict(extra, **{"train.steps": 1, "train.checkpoint_final": False}),
                        f"{label} load", ["--resume", save["path"]])
    resumed = of_type(events, "run_resumed")
    if len(resumed) != 1 or resumed[0]["step"] != 1:
        raise RuntimeError(f"{label} load: expected one run_resumed event at step 1, got {resumed}")
    return resumed[0]


def torch_save_load(args, step_dir, root):
    report_path = os.path.join(root, "torch-report.json")
    command = [sys.executable, TORCH_WORKER, "--checkpoint", step_dir, "--out", os.path.join(root, "state.pt"),
               "--report", report_path]
    done = common.run_checked(command, "PyTorch save/load", args.timeout, env=common.single_thread_env())
    with open(report_path) as f:
        report = json.load(f)
    os.remove(report_path)
    if report["mismatched"]:
        raise RuntimeError(f"PyTorch side: torch.load gave back different tensors: {report['mismatched'][:5]}\n"
                           f"{done.stdout}")
    return report


def as_floats(data, dtype):
    """Raw little-endian bytes of F32, BF16 or F16 elements as Python floats."""
    if dtype == "F32":
        return array.array("f", data)
    if dtype == "BF16":  # the upper half of an fp32: put two zero bytes below each element
        wide = bytearray(2 * len(data))
        wide[2::4], wide[3::4] = data[0::2], data[1::2]
        return array.array("f", bytes(wide))
    if dtype == "F16":
        return struct.unpack(f"<{len(data) // 2}e", data)
    raise RuntimeError(f"cannot compare dtype {dtype}")


def compare_layouts(dp_dir, zero_dir):
    """Part 3: one tensor of each kind (model/, master/, exp_avg/, exp_avg_sq/), the one ZeRO-2 split
    into the most pieces, put together from the dp 2 and from the ZeRO-2 checkpoint of the same step
    (same seed, same batch) by the independent reader. Reported: the largest difference relative to
    the tensor's largest magnitude. Limits: the moments are linear in the gradients, which the two
    layouts reduce in different orders, so 1e-5 relative (fp32 parity). A weight after AdamW steps
    may differ by up to 2 lr per step where a gradient near zero changed sign between the layouts,
    far below a misplaced element's error (the weights' own size); bf16 adds one rounding step."""
    dp_tensors = {t["name"]: t for t in safetensors_reader.read_index(dp_dir)["tensors"]}
    zero_tensors = {t["name"]: t for t in safetensors_reader.read_index(zero_dir)["tensors"]}
    if sorted(dp_tensors) != sorted(zero_tensors):
        raise RuntimeError(f"{dp_dir} and {zero_dir} hold different tensor names")
    with open(os.path.join(dp_dir, "state.json")) as f:
        state = json.load(f)
    weight_limit = 2.0 * state["project"]["optimizer"]["lr"] * state["step"]
    result = {}
    for kind in sorted({name.split("/")[0] for name in dp_tensors}):
        names = [n for n in dp_tensors if n.startswith(kind + "/")]
        name = max(names, key=lambda n: (len(zero_tensors[n]["pieces"]), len_of(zero_tensors[n]), n))
        a_entry, b_entry = dp_tensors[name], zero_tensors[name]
        if a_entry["shape"] != b_entry["shape"] or a_entry["dtype"] != b_entry["dtype"]:
            raise RuntimeError(f"{name}: {a_entry['shape']} {a_entry['dtype']} under dp, {b_entry['shape']} "
                               f"{b_entry['dtype']} under ZeRO-2")
        a_bytes = safetensors_reader.assemble(dp_dir, a_entry)
        b_bytes = safetensors_reader.assemble(zero_dir, b_entry)
        a, b = as_floats(a_bytes, a_entry["dtype"]), as_floats(b_bytes, b_entry["dtype"])
        scale = max(max(abs(x) for x in a), 1e-30)
        diff = max(abs(x - y) for x, y in zip(a, b))
        rounding = 0.0 if a_entry["dtype"] == "F32" else 2.0 ** -7 * scale
        limit = (1e-5 * scale if kind.startswith("exp_avg") else max(1e-5 * scale, weight_limit)) + rounding
        result[name] = {"dtype": a_entry["dtype"], "pieces_dp": len(a_entry["pieces"]),
                        "pieces_zero2": len(b_entry["pieces"]), "max_abs_diff": diff, "max_rel_diff": diff / scale,
                        "limit_abs": limit, "bitwise_equal": a_bytes == b_bytes}
        if diff > limit:
            raise RuntimeError(f"{name}: dp and ZeRO-2 checkpoints differ by {diff:.2e} (largest magnitude "
                               f"{scale:.2e}, limit {limit:.2e})")
    return result


def steps_in_flight(events):
    """Step numbers run while an asynchronous save was in flight: after the save's step, up to the
    step whose end saw it complete (its checkpoint_saved event comes right after that step's event)."""
    in_flight, open_saves = set(), set()
    saved_steps = {e["step"] for e in of_type(events, "checkpoint_saved") if e["async"]}
    for event in events:
        kind = event.get("event", "step")
        if kind == "step":
            if open_saves:
                in_flight.add(event["step"])
            if event["step"] in saved_steps:
                open_saves.add(event["step"])  # the snapshot is taken after this step's event
        elif kind == "checkpoint_saved":
            open_saves.discard(event["step"])
    return in_flight


def slowdown_run(args, mode, root):
    overrides = {"train.steps": args.slowdown_steps, "train.checkpoint_final": False,
                 "train.checkpoint_every": 0 if mode == "none" else args.every,
                 "train.checkpoint_async": mode == "async"}
    out_dir = tempfile.mkdtemp(prefix=f"slowdown-{mode}-", dir=root)
    events = run_engine(args, out_dir, overrides, f"step slowdown ({mode})")
    shutil.rmtree(out_dir, ignore_errors=True)
    steps = [e for e in of_type(events, "step") if "step_time_s" in e]
    if len(steps) != args.slowdown_steps:
        raise RuntimeError(f"step slowdown ({mode}): {len(steps)} step events, expected {args.slowdown_steps}")
    saves = of_type(events, "checkpoint_saved")
    expected_saves = 0 if mode == "none" else (args.slowdown_steps - 1) // args.every
    if len(saves) != expected_saves or any(s["async"] != (mode == "async") for s in saves):
        raise RuntimeError(f"step slowdown ({mode}): {len(saves)} checkpoint_saved events, expected "
                           f"{expected_saves} {'async' if mode == 'async' else 'sync'} saves")
    flying = steps_in_flight(events)
    timed = [e for e in steps if e["step"] > args.warmup]
    # Wall time per step from elapsed_s: includes whatever training waited for between steps (a
    # synchronous save, an async save's snapshot), which step_time_s leaves out.
    first, last = timed[0], steps[-1]
    return {"mode": mode, "saves": saves, "steps_in_flight": sorted(flying),
            "busy_s": [e["step_time_s"] for e in timed if e["step"] in flying],
            "idle_s": [e["step_time_s"] for e in timed if e["step"] not in flying],
            "step_time_s": {e["step"]: e["step_time_s"] for e in steps},
            "wall_s_per_step": (last["elapsed_s"] - (first["elapsed_s"] - first["step_time_s"])) / len(timed)}


def combine_slowdown(runs):
    """One row per mode: the step times of every repetition pooled."""
    busy = [t for r in runs for t in r["busy_s"]]
    idle = [t for r in runs for t in r["idle_s"]]
    saves = [s for r in runs for s in r["saves"]]
    return {"mean_step_s_no_save": statistics.fmean(idle) if idle else None, "steps_no_save": len(idle),
            "mean_step_s_in_flight": statistics.fmean(busy) if busy else None, "steps_in_flight": len(busy),
            "saves": len(saves),
            "mean_stall_s": statistics.fmean(s["stall_s"] for s in saves) if saves else None,
            "mean_write_s": statistics.fmean(s["write_s"] for s in saves) if saves else None,
            "wall_s_per_step": statistics.fmean(r["wall_s_per_step"] for r in runs), "runs": runs}


def mb(nbytes):
    return nbytes / 1e6


def print_table(header, rows):
    widths = [max(len(str(row[i])) for row in [header] + rows) for i in range(len(header))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(c).rjust(w) for c, w in zip(row, widths)) + " |")


def best_and_median(values):
    return min(values), statistics.median(values)


def summarize_io(results):
    """Best of the repetitions (the one least disturbed by whatever else the shared machine ran) and,
    in parentheses, the median; MB/s and ratios from the best, ratios of the medians in parentheses."""
    state_mb = mb(results["state_bytes"])
    torch_save = best_and_median([r["save_s"] for r in results["torch"]])
    torch_load = best_and_median([r["load_s"] for r in results["torch"]])
    rows = []

    def row(label, save, load, disk, read, ratios):
        return [label, f"{save[0]:.3f} ({save[1]:.3f})", f"{state_mb / save[0]:.0f}", f"{load[0]:.3f} ({load[1]:.3f})",
                f"{state_mb / load[0]:.0f}", f"{mb(disk):.1f}", f"{mb(read):.1f}"] + ratios
    for layout, (label, _) in LAYOUTS.items():
        save = best_and_median([r["save"]["write_s"] for r in results[layout]])
        load = best_and_median([r["load"]["load_s"] for r in results[layout]])
        ratios = [f"{torch_save[0] / save[0]:.2f} ({torch_save[1] / save[1]:.2f})",
                  f"{torch_load[0] / load[0]:.2f} ({torch_load[1] / load[1]:.2f})"]
        rows.append(row(label, save, load, results[layout][-1]["save"]["check"]["bytes_on_disk"],
                        results[layout][-1]["load"]["bytes_read"], ratios))
    torch_disk = results["torch"][-1]["file_bytes"]
    rows.append(row("PyTorch, rank 0", torch_save, torch_load, torch_disk, torch_disk, ["", ""]))
    print_table(["side", "save s", "save MB/s", "load s", "load MB/s", "on disk MB", "read MB", "save ratio",
                 "load ratio"], rows)
    print(f"state: {results['tensors']} tensors, {state_mb:.1f} MB; {len(results['torch'])} measurements per side: "
          f"best (median); MB/s = state MB / best s;\nratio = PyTorch s / engine s (> 1: engine faster), best "
          f"(median); read MB: what all ranks read to load")


def summarize_slowdown(rows_by_mode):
    def fmt(value, digits=3):
        return "" if value is None else f"{value:.{digits}f}"
    base_wall = rows_by_mode["none"]["wall_s_per_step"]
    rows = []
    for mode, label in [("none", "no saves"), ("async", "async saves"), ("sync", "sync saves")]:
        r = rows_by_mode[mode]
        busy, idle = r["mean_step_s_in_flight"], r["mean_step_s_no_save"]
        rows.append([label, r["saves"], f"{fmt(idle)} ({r['steps_no_save']})",
                     f"{fmt(busy)} ({r['steps_in_flight']})" if busy is not None else "",
                     f"{(busy / idle - 1) * 100:+.0f}%" if busy is not None and idle else "",
                     fmt(r["mean_stall_s"]), fmt(r["mean_write_s"]), fmt(r["wall_s_per_step"]),
                     f"{(r['wall_s_per_step'] / base_wall - 1) * 100:+.0f}%"])
    print_table(["run", "saves", "step_time_s, no save (n)", "step_time_s, save in flight (n)",
                 "in flight vs no save, same runs", "stall_s", "write_s", "wall s/step", "wall vs no-save runs"],
                rows)


def main(argv=None):
    args = parse_args(argv)
    load_before = os.getloadavg()
    if load_before[0] > 0.5:
        print(f"warning: load average {load_before[0]:.2f} before starting; timings will be noisy", file=sys.stderr)
    results = {layout: [] for layout in LAYOUTS}
    results["torch"] = []
    with tempfile.TemporaryDirectory(prefix="checkpoint_vs_torch-", dir=args.work_dir) as root:
        for rep in range(args.reps):
            # The sides alternate: dp 2, PyTorch, ZeRO-2, then ZeRO-2, PyTorch, dp 2. PyTorch saves the
            # state of the repetition's first engine checkpoint (both layouts hold the same state).
            order = ["dp2", "torch", "zero2"] if rep % 2 == 0 else ["zero2", "torch", "dp2"]
            saves = {}
            for side in order:
                if side in LAYOUTS:
                    save = engine_save(args, side, root)
                    load = engine_load(args, side, save)
                    saves[side] = save
                    results[side].append({"save": save, "load": load})
                    print(f"[rep {rep + 1}/{args.reps}] {LAYOUTS[side][0]}: save {save['write_s']:.3f} s, "
                          f"load {load['load_s']:.3f} s, {mb(save['bytes']):.1f} MB", file=sys.stderr, flush=True)
                else:
                    report = torch_save_load(args, saves[order[0]]["path"], root)
                    results["torch"].append(report)
                    print(f"[rep {rep + 1}/{args.reps}] PyTorch: save {report['save_s']:.3f} s, load "
                          f"{report['load_s']:.3f} s, {mb(report['file_bytes']):.1f} MB", file=sys.stderr, flush=True)
            layouts_check = compare_layouts(saves["dp2"]["path"], saves["zero2"]["path"])
            for save in saves.values():
                shutil.rmtree(save["out_dir"], ignore_errors=True)
        results["layouts_compared"] = layouts_check
        results["state_bytes"] = results["torch"][-1]["state_bytes"]
        results["tensors"] = results["torch"][-1]["tensors"]
        if results["state_bytes"] != results["dp2"][-1]["save"]["check"]["tensor_bytes"]:
            raise RuntimeError("the PyTorch state and the engine index disagree on the tensor bytes")
        slowdown = None
        if not args.no_slowdown:
            print("step slowdown runs ...", file=sys.stderr, flush=True)
            runs = {mode: [] for mode in ["none", "async", "sync"]}
            for rep in range(args.slowdown_reps):
                for mode in (["none", "async", "sync"] if rep % 2 == 0 else ["sync", "async", "none"]):
                    runs[mode].append(slowdown_run(args, mode, root))
                    print(f"[slowdown rep {rep + 1}/{args.slowdown_reps}] {mode}: wall "
                          f"{runs[mode][-1]['wall_s_per_step']:.3f} s/step", file=sys.stderr, flush=True)
            slowdown = {mode: combine_slowdown(r) for mode, r in runs.items()}
    results["slowdown"] = slowdown
    print(f"GPT {args.n_layer} layers, d {args.d_model}, {args.n_head} heads, seq {args.seq_len}, vocab "
          f"{common.VOCAB}, {args.precision}; dp {NPROC}")
    summarize_io(results)
    if slowdown:
        print()
        summarize_slowdown(slowdown)
        print(f"steps 1-{args.warmup} of each run left out; in flight: after a save's step until its "
              f"checkpoint_saved event; n = steps averaged over {args.slowdown_reps} run(s) per mode;\n"
              f"wall s/step from elapsed_s (stalls included); the last column compares separate runs (load drifts)")
    print("checks: bytes on disk = checkpoint_saved bytes; every rank file's header parses and its offsets "
          "tile it; torch.load == engine state bit for bit;")
    for name, c in results["layouts_compared"].items():
        print(f"  dp 2 vs ZeRO-2, {name} ({c['dtype']}): pieces {c['pieces_dp']}/{c['pieces_zero2']}, "
              f"max rel diff {c['max_rel_diff']:.1e}, bit for bit: {'yes' if c['bitwise_equal'] else 'no'}")
    if args.json:
        for layout in LAYOUTS:
            for r in results[layout]:
                r["save"].pop("out_dir", None)
        common.write_report(args.json, "checkpoint_vs_torch", load_before,
                            {"nproc": NPROC, "reps": args.reps, "model": model_overrides(args),
                             "precision": args.precision,
                             "slowdown_steps": args.slowdown_steps, "slowdown_reps": args.slowdown_reps,
                             "every": args.every, "warmup": args.warmup},
                            results, common.versions(args))
    return 0


if __name__ == "__main__":
    common.run_main("checkpoint_vs_torch", main)
