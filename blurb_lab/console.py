"""What a person watching a run sees, apart from the log each job keeps in its job dir.

A sweep shows one line when a job starts (its configuration, seed and where it runs), one when it
ends (status, dev and test score, wall time), one progress bar (a plain progress line per finished
job when stdout is no terminal) and each distinct warning once. A job's full log (Lightning's lines,
the optimizer groups, warnings) goes to `<job dir>/<job name>.log`, and to the console too only with
BLURB_LAB_VERBOSE=1: parallel jobs writing their logs to one terminal interleave them line by line.

The jobs of a parallel launcher run in worker processes, so a job does not print its lines: it
appends them as JSON events to a file the launching process reads (`EVENTS_ENV`, set while a batch
runs), which prints them between its bar's redraws and dedupes warnings across the whole sweep. A
job that no launcher watches (a single run, hydra/launcher=basic, SLURM) prints its own lines.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import math
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

VERBOSE_ENV = "BLURB_LAB_VERBOSE"
EVENTS_ENV = "BLURB_LAB_CONSOLE_EVENTS"  # set by the launching process while a batch of jobs runs
FAILED = ("failed", "diverged", "crashed")
# Hydra's launchers list every job's overrides before any runs; each job's start line says it as it starts.
LAUNCHER_CHATTER = ("hydra._internal.core_plugins.basic_launcher", "hydra_plugins.hydra_joblib_launcher._core")
_PRINTED: set[str] = set()  # warnings this process printed itself, when no launcher watches its jobs


def verbose() -> bool:
    """BLURB_LAB_VERBOSE=1: every job's log on the console too, and no bar to be torn by it."""
    return os.environ.get(VERBOSE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def on_terminal() -> bool:
    return sys.stdout.isatty()


def epoch_bar(requested: bool) -> bool:
    """Lightning's per-epoch bar: as trainer.enable_progress_bar says for a job alone in a terminal;
    never in a pipe (its redraws would be control codes in a log), nor under a launcher's sweep bar."""
    return requested and on_terminal() and not os.environ.get(EVENTS_ENV)


class VerboseOnly(logging.Filter):
    """On a job's console handler (conf/hydra/default.yaml): its log stays in its file unless verbose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return verbose()


class LauncherChatter(logging.Filter):
    """On the launching process's console handler: Hydra's job listings only when verbose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return verbose() or record.levelno > logging.INFO or not record.name.startswith(LAUNCHER_CHATTER)


# --- the lines ----------------------------------------------------------------------------------


def duration(seconds: float) -> str:
    """`42s`, `2m10s`, `1h05m`: short enough for a progress line."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def _score(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, (int, float)) and math.isfinite(value) else "n/a"


def render(event: dict[str, Any]) -> str:
    """One console line of a job event (start, end, skip, warning)."""
    who = "run" if event.get("job") is None else f"job {event['job']}"
    name = f"{event.get('label', '')} seed {event.get('seed')}"
    kind = event["kind"]
    if kind == "start":
        return f"{who} start    {name} | {event['where']}"
    if kind == "skip":
        return f"{who} skipped  {name} | already finished (status {event['status']}), not run again"
    if kind == "warning":
        return f"warning ({who}): {event['text']}"
    if event.get("error"):
        outcome = str(event["error"]).splitlines()[0][:300]
    else:
        metric = event.get("metric", "score")
        outcome = f"dev {metric} {_score(event.get('dev_score'))}, test {metric} {_score(event.get('test_score'))}"
    return f"{who} {event['status']:<8} {name} | {outcome} | {duration(event.get('wall_s', 0.0))}"


def _emit(event: dict[str, Any]) -> None:
    """To the launching process when one watches, else straight to stdout (warnings once per process)."""
    path = os.environ.get(EVENTS_ENV)
    if path:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND)
            try:
                os.write(fd, (json.dumps(event, default=str) + "\n").encode())  # one write: lines never interleave
            finally:
                os.close(fd)
            return
        except OSError:
            pass  # the launcher is gone: print the line here
    if event["kind"] == "warning":
        if event["text"] in _PRINTED:
            return
        _PRINTED.add(event["text"])
    print(render(event), flush=True)


# --- a job's side -------------------------------------------------------------------------------


@dataclass
class JobConsole:
    """One job's start and end lines and its warnings."""

    label: str
    seed: Any
    num: int | None = None  # the job's number in its sweep; None for a single run
    job_dir: str = ""  # replaced by `<job dir>` in warnings, so that one warning of every job reads the same
    shown: bool = True  # False in ranks other than 0 of a job that torchrun or srun started
    started_at: float = field(default_factory=time.time)

    def _event(self, kind: str, **fields: Any) -> None:
        if self.shown:
            _emit({"kind": kind, "job": self.num, "label": self.label, "seed": self.seed, **fields})

    def started(self, where: str) -> None:
        self.started_at = time.time()
        self._event("start", where=where)

    def ended(self, results: dict[str, Any]) -> None:
        fields = {key: results.get(key) for key in ("status", "metric", "error", "dev_score", "test_score")}
        self._event("end", wall_s=time.time() - self.started_at, **fields)

    def skipped(self, previous: dict[str, Any]) -> None:
        self._event("skip", status=previous.get("status"))

    def warned(self, text: str) -> None:
        if self.job_dir:
            text = text.replace(self.job_dir, "<job dir>")
        text = " ".join(text.split())  # one console line; the whole message is in the job's log
        self._event("warning", text=text if len(text) <= 300 else text[:297] + "...")

    @contextlib.contextmanager
    def collecting(self) -> Iterator[JobConsole]:
        """While the job runs: blurb_lab's warnings reach the console (once per sweep), and Python
        warnings go to the job's log instead of stderr."""
        handler = _WarningCollector(self)
        logger = logging.getLogger("blurb_lab")
        logger.addHandler(handler)
        logging.captureWarnings(True)
        try:
            yield self
        finally:
            logger.removeHandler(handler)
            logging.captureWarnings(False)


class _WarningCollector(logging.Handler):
    """blurb_lab's WARNING records (a missing pooler, a cache rebuilt, W&B offline); errors are the job's
    crash, which its end line shows."""

    def __init__(self, job: JobConsole) -> None:
        super().__init__(logging.WARNING)
        self.job = job

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno == logging.WARNING:
            self.job.warned(record.getMessage())


def rank_logging(log_file: str | None) -> None:
    """Logging of a rank that a job spawned (DDP): into the job's log file, as the job's own, not the
    console; Lightning, imported before any handler existed, had given itself a stderr handler."""
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    fmt = logging.Formatter(f"[%(asctime)s][%(name)s][%(levelname)s][rank {os.environ.get('RANK', 0)}] - %(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stdout)]
    handlers[0].addFilter(VerboseOnly())
    if log_file:
        handlers.append(logging.FileHandler(log_file))
    for handler in handlers:
        handler.setFormatter(fmt)
        root.addHandler(handler)
    for name in ("pytorch_lightning", "lightning_fabric"):
        library = logging.getLogger(name)
        for handler in list(library.handlers):
            library.removeHandler(handler)
        library.propagate = True
    logging.captureWarnings(True)
    if os.environ.get("RANK", "0") == "0":
        logging.getLogger("blurb_lab").addHandler(_WarningCollector(JobConsole(label="", seed=None)))


# --- the launching process's side ---------------------------------------------------------------


@dataclass
class Progress:
    """Jobs done of those launched so far; the ETA from the finished jobs' wall times."""

    total: int = 0
    done: int = 0
    failed: int = 0
    at_once: int = 1
    walls: list[float] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)

    def eta(self) -> str:
        if self.done >= self.total:
            return duration(time.time() - self.started_at)
        if not self.walls:
            return "ETA ?"
        waves = math.ceil((self.total - self.done) / max(1, self.at_once))
        return f"ETA {duration(waves * sum(self.walls) / len(self.walls))}"

    def status(self) -> str:
        return f"{self.failed} failed, {self.eta()}"

    def line(self) -> str:
        return f"[{self.done}/{self.total} done, {self.status()}]"


class SweepConsole:
    """The launching process's console: reads its jobs' events, prints their lines, keeps the bar."""

    def __init__(self) -> None:
        fd, self.path = tempfile.mkstemp(prefix="blurb_lab-console-", suffix=".jsonl")
        os.close(fd)
        atexit.register(_remove, self.path)
        self.offset = 0
        self.progress = Progress()
        self.warned: set[str] = set()
        self.bar: Any = None
        self.announced = False

    @contextlib.contextmanager
    def batch(self, n_jobs: int, at_once: int, header: str) -> Iterator[None]:
        """Watch one batch of a launcher's jobs (a sweep may launch several: an Optuna study)."""
        if not self.announced:
            self.announced, self.progress.started_at = True, time.time()
            print(header, flush=True)
        self.progress.total += n_jobs
        self.progress.at_once = max(1, at_once)
        if on_terminal() and not verbose():
            from tqdm import tqdm  # not declared: pytorch-lightning, transformers and datasets require it

            self.bar = tqdm(total=self.progress.total, initial=self.progress.done, file=sys.stdout, dynamic_ncols=True,
                            bar_format="sweep {n_fmt}/{total_fmt} |{bar}| {desc} [{elapsed}]")  # fmt: skip
            self.bar.set_description_str(self.progress.status())
        before, os.environ[EVENTS_ENV] = os.environ.get(EVENTS_ENV), self.path
        stop = threading.Event()
        watcher = threading.Thread(target=self._watch, args=(stop,), name="sweep-console", daemon=True)
        watcher.start()
        try:
            yield
        finally:
            stop.set()
            watcher.join()
            self._read()
            _restore(EVENTS_ENV, before)
            if self.bar is not None:
                self.bar.close()
                self.bar = None

    def _watch(self, stop: threading.Event) -> None:
        while not stop.wait(0.25):
            self._read()
            if self.bar is not None:
                self.bar.refresh()

    def _read(self) -> None:
        with open(self.path, "rb") as events:
            events.seek(self.offset)
            data = events.read()
        whole = data.rfind(b"\n") + 1  # a line still being written waits for the next read
        self.offset += whole
        for raw in data[:whole].splitlines():
            with contextlib.suppress(ValueError):
                self._show(json.loads(raw))

    def _show(self, event: dict[str, Any]) -> None:
        if event["kind"] == "warning":
            if event["text"] in self.warned:
                return
            self.warned.add(event["text"])
        self._print(render(event))
        if event["kind"] not in ("end", "skip"):
            return
        progress = self.progress
        progress.done += 1
        progress.failed += event.get("status") in FAILED
        if event["kind"] == "end":
            progress.walls.append(float(event.get("wall_s") or 0.0))
        if self.bar is not None:
            self.bar.set_description_str(progress.status(), refresh=False)
            self.bar.update(1)
        else:
            self._print(progress.line())

    def _print(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line, file=sys.stdout)
        else:
            print(line, flush=True)


_SWEEP: list[SweepConsole] = []  # one per launching process: its progress spans every batch


def sweep_console() -> SweepConsole:
    if not _SWEEP:
        _SWEEP.append(SweepConsole())
    return _SWEEP[0]


def sweep_header(sweep_dir: Any, job_name: str) -> str:
    """The sweep's first console line: where each job's full log is."""
    return f"sweep dir {sweep_dir}: each job's full log is <job dir>/{job_name}.log ({VERBOSE_ENV}=1 shows them here)"


def _restore(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
