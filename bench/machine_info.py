"""The machine a benchmark ran on, for the head of its report."""
import os
import platform
import shutil
import sqlite3
from pathlib import Path


def _proc_field(path, prefix):
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def describe(disk_path=None):
    """CPU model, cores, RAM (GB), platform, Python, SQLite, load, and free disk at disk_path."""
    memory_kb = _proc_field("/proc/meminfo", "MemTotal")
    info = {"platform": platform.platform(),
            "cpu": _proc_field("/proc/cpuinfo", "model name") or platform.processor() or "unknown",
            "cores": os.cpu_count(),
            "memory_gb": round(int(memory_kb.split()[0]) / 1024 / 1024, 1) if memory_kb else float("nan"),
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "load": os.getloadavg()}
    if disk_path is not None:
        info["disk_free_gb"] = round(shutil.disk_usage(disk_path).free / 1e9, 1)
    return info
