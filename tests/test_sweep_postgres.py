"""Two `netspec sweep` processes in two folders ("machines") join one study on a real PostgreSQL
server that this test starts on localhost (Debian's postgresql package: initdb and pg_ctl under
/usr/lib/postgresql/<version>/bin). Skipped, with the reason, when the binaries are absent."""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from sweep_helpers import netspec, write_sweep

optuna = pytest.importorskip("optuna")
psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed (pip install 'netspec[sweep]')")


def _bindir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(Path(d).parent.name or 0))
    return next((Path(d) for d in reversed(dirs) if (Path(d) / "initdb").exists()), None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    bindir = _bindir()
    if bindir is None or not (bindir / "pg_ctl").exists():
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql")
    run_as: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root: use the package's system user
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no `postgres` user to run the server as")
        run_as = ["runuser", "-u", "postgres", "--"]
    base = Path(tempfile.mkdtemp(prefix="netspec-pg-"))
    if run_as:
        os.chown(base, user.pw_uid, user.pw_gid)
    data, port = base / "data", _free_port()

    def pg(*args):
        return subprocess.run([*run_as, *map(str, args)], capture_output=True, text=True, timeout=120)

    init = pg(bindir / "initdb", "-D", data, "-U", "netspec", "--auth=trust", "-E", "UTF8")
    assert init.returncode == 0, init.stderr
    # A throwaway server: no fsync; the socket in our own folder, TCP on localhost only.
    opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
    start = pg(bindir / "pg_ctl", "-D", data, "-o", opts, "-l", base / "log", "-w", "-t", "60", "start")
    assert start.returncode == 0, start.stderr + (base / "log").read_text(errors="replace")
    try:
        with psycopg.connect(host="127.0.0.1", port=port, user="netspec", dbname="postgres", autocommit=True) as con:
            con.execute("CREATE DATABASE sweeps")
        yield f"postgresql://netspec@127.0.0.1:{port}/sweeps"
    finally:
        pg(bindir / "pg_ctl", "-D", data, "-m", "immediate", "stop")
        shutil.rmtree(base, ignore_errors=True)


def test_two_machines_join_one_postgresql_study(tmp_path, postgres_url):
    trials = 4
    machines = [tmp_path / "a", tmp_path / "b"]
    paths = [write_sweep(m, trials=trials, epochs=3, pruner="median") for m in machines]
    t0 = time.perf_counter()
    cmd = ["sweep", None, "--storage", postgres_url, "--study", "shared", "--json"]
    env = {**os.environ, "NETSPEC_DEBUG": "1"}  # an unexpected failure shows its traceback here
    procs = [subprocess.Popen([*netspec_cmd(), *[str(p) if a is None else a for a in cmd]], cwd=m, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for m, p in zip(machines, paths)]  # fmt: skip
    outs = [p.communicate(timeout=300) for p in procs]
    seconds = time.perf_counter() - t0
    assert all(p.returncode == 0 for p in procs), "\n---\n".join(o[1] for o in outs)
    assert all(json.loads(o[0])["storage"].startswith("postgresql://netspec@127.0.0.1:") for o in outs)
    study = optuna.load_study(study_name="shared", storage=postgres_url)  # both are done: read it whole
    done = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]
    others = [t for t in study.trials if t not in done]
    assert len(done) == trials and all(t.user_attrs.get("over_budget") for t in others)
    folders = [m / "runs" / "shared" / f"trial-{t.number}" for m in machines for t in done]
    owners = [f for f in folders if (f / "result.json").exists()]
    assert len(owners) == trials  # each finished trial ran once, on one machine
    ran_on = {f.parent.parent.parent.name for f in owners}
    print(f"\nPostgreSQL study: {trials} trials ({len(others)} surplus asks), run in {sorted(ran_on)}, "
          f"{seconds:.1f} s for both sweeps")
    best = study.best_trial
    (run,) = [f for f in owners if f.name == f"trial-{best.number}"]
    assert json.loads((run / "result.json").read_text())["metrics"]["val"]["loss"] == best.value


def netspec_cmd() -> list[str]:
    import sys

    return [sys.executable, "-m", "netspec_cli.main"]
