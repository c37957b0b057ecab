"""gunicorn's configuration (`gunicorn -c python:corsadmin.gunicorn_conf ...`).

- Logs: gunicorn's own lines in the same JSON as the application's (corsadmin/logs.py); no
  gunicorn access log, whose request line would carry query strings (the application logs
  each request, path only).
- Metrics: each worker writes its counters to `PROMETHEUS_MULTIPROC_DIR` (by default a
  directory in /tmp named after the bind address) and /metrics adds them up; the directory is
  emptied when the server starts (old workers' counts must not be added to the new ones) and
  a dead worker's live gauges are dropped.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

from corsadmin import logs

# Loopback unless told otherwise (the Docker image sets CORSADMIN_BIND=0.0.0.0:8000).
bind = os.environ.get("CORSADMIN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
# Several workers count separately: prometheus-client's multiprocess mode adds them up. Set
# here, in the master, so every worker inherits it before it imports the application.
os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR",
    os.path.join(tempfile.gettempdir(), "corsadmin-metrics-" + re.sub(r"\W", "_", bind)),
)
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "warning")
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"structured": logs.formatter(os.environ.get("LOG_FORMAT", "json"))},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "structured"},
    },
    "loggers": {
        "gunicorn.error": {"handlers": ["console"], "level": loglevel.upper(), "propagate": False},
        "gunicorn.access": {"handlers": [], "propagate": False},
    },
}


def on_starting(server: Any) -> None:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        # Only prometheus-client's own files (*.db): the directory may be a mounted volume.
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
