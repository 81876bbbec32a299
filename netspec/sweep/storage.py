"""Where a study lives: an Optuna RDB storage (SQLite by default, any SQLAlchemy URL such as
postgresql://user@host/db for workers on many machines), plus the bookkeeping that makes a
sweep resumable: trials left RUNNING by a killed process are marked failed, and a study made
by a different search space is refused rather than mixed with.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
import time
import warnings
from pathlib import Path

from ..errors import NetspecError

# Workers record a heartbeat every HEARTBEAT seconds; a RUNNING trial silent for GRACE seconds
# (its machine died) is marked failed by the next worker that starts a trial, on any machine.
HEARTBEAT = 5
GRACE = 30


def require_optuna():
    try:
        import optuna
    except ImportError:
        raise NetspecError("netspec sweep needs Optuna: pip install 'netspec[sweep]'") from None
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # trial outcomes are rendered by the CLI
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)  # heartbeats
    return optuna


def default_storage(study_name: str) -> str:
    folder = Path("runs") / study_name
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'study.db'}"


def redact(url: str) -> str:
    """The URL without its password (it is shown in tables and JSON)."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy parses: show only its scheme
        return url.split("://", 1)[0] + "://..."


def open_storage(url: str, *, prepared: bool = False):
    """The storage at `url`; `prepared` skips creating and checking its tables (seconds on a
    loaded machine), for workers of a sweep whose parent has just done that."""
    optuna = require_optuna()
    kwargs = _sqlite_kwargs(url) if url.startswith("sqlite") else {"pool_pre_ping": True}
    for attempt in range(3):
        try:
            storage = optuna.storages.RDBStorage(url, engine_kwargs=kwargs, heartbeat_interval=HEARTBEAT, grace_period=GRACE,
                                                 skip_compatibility_check=prepared, skip_table_creation=prepared)  # fmt: skip
            if url.startswith("sqlite"):
                _serialize(storage.engine)
            return storage
        except ImportError as exc:  # the database driver (psycopg for PostgreSQL) is missing
            raise NetspecError(f"--storage {redact(url)}: {exc}; pip install 'netspec[sweep]' installs psycopg, SQLAlchemy's PostgreSQL driver") from None
        except Exception as exc:  # sqlalchemy's OperationalError/ArgumentError: unreachable or malformed
            # Machines starting at once on an empty database race to create its tables: the
            # loser finds them made on the next attempt.
            if attempt < 2 and ("already exists" in str(exc) or "UniqueViolation" in str(exc)):
                time.sleep(1 + attempt)
                continue
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise NetspecError(f"cannot open the study storage {redact(url)}: {first}") from None


def _sqlite_kwargs(url: str) -> dict:
    """Write-ahead logging: the parent's polling reads never block a worker's writes, and a
    commit needs no fsync of the whole database (SQLite on one machine's local disk)."""
    from sqlalchemy.engine import make_url

    path = make_url(url).database or ""

    def connect():  # isolation_level=None: transactions are begun by _serialize, not by sqlite3
        conn = sqlite3.connect(path, timeout=60, check_same_thread=False, isolation_level=None)
        if path and path != ":memory:":
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    return {"creator": connect}


def _serialize(engine) -> None:
    """Every transaction takes SQLite's write lock when it begins. Optuna reads a trial's state
    and then updates it (handing a queued trial to one worker); PostgreSQL locks the row for
    that (SELECT ... FOR UPDATE), SQLite ignores it, and two workers could take the same trial."""
    from sqlalchemy import event

    event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))


def release_connections(study) -> None:
    """Close the pooled database connections of this process (before forking workers: a
    connection must not be shared with a child). The pool reconnects when next used."""
    backend = getattr(study._storage, "_backend", study._storage)
    engine = getattr(backend, "engine", None)
    if engine is not None:
        engine.dispose()


def fingerprint(plan) -> str:
    """What makes two runs of a command the same study: the space and the objective."""
    doc = {
        "space": {k: v.model_dump(by_alias=True, exclude_none=True) for k, v in plan.sweep.space.items()},
        "metric": plan.metric,
        "direction": plan.direction,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def open_study(plan, storage, name: str, sampler=None, pruner=None):
    """Create the study, or join it when it exists with the same space and objective."""
    optuna = require_optuna()
    study = optuna.create_study(storage=storage, study_name=name, direction=plan.direction, load_if_exists=True,
                                sampler=sampler, pruner=pruner)  # fmt: skip
    mine = fingerprint(plan)
    theirs = study.user_attrs.get("netspec_fingerprint")
    if theirs is None:
        study.set_user_attr("netspec_fingerprint", mine)
        study.set_user_attr("sweep_file", str(plan.sweep.file))
    elif theirs != mine or study.direction.name.lower() != plan.direction:
        raise NetspecError(
            f"the study {name!r} in this storage was made by a sweep with another space or objective "
            f"(from {study.user_attrs.get('sweep_file', '?')}): give this one its own --study NAME"
        )
    return study


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed process nobody has reaped yet is a zombie: gone, though kill(pid, 0) works
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def fail_dead_local_trials(study) -> list[int]:
    """Mark failed the RUNNING trials whose worker process on this machine is gone (a killed
    sweep); their run folders are left as they are. Returns their numbers."""
    from optuna.trial import TrialState

    host, out = socket.gethostname(), []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        w = t.user_attrs.get("worker", {})
        if w.get("host") == host and not _alive(int(w.get("pid", 0))):
            study._storage.set_trial_user_attr(t._trial_id, "interrupted", True)
            study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
            out.append(t.number)
    return out


def counts_as_done(t) -> bool:
    """A trial that used up one of the sweep's `trials`: it completed, was pruned, or failed on
    its own (diverged). A trial cut short by a killed process is run again instead."""
    state = t.state.name
    return state in ("COMPLETE", "PRUNED") or (state == "FAIL" and "error" in t.user_attrs)
