"""The command line's entry point (``konvsync.cli.main``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROBE = """
import signal, sys
from konvsync.cli.main import main
sys.argv = ["konvsync", "schema"]
try:
    main()
except SystemExit as exit:
    print(exit.code, signal.getsignal(signal.SIGINT) is signal.SIG_IGN,
          signal.getsignal(signal.SIGTERM) is signal.SIG_IGN, file=sys.stderr)
"""


def test_a_late_signal_cannot_change_the_decided_exit(tmp_path: Path) -> None:
    """Once konvsync has decided its exit code, Ctrl-C and SIGTERM are
    ignored: a second Ctrl-C sent as a long apply finished made the process
    exit by signal (-2) in the interpreter's shutdown instead of with its
    code (benchmarks/signal_trials.py saw it once in 20 trials)."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert done.stderr.split() == ["0", "True", "True"], done.stderr


START_PROBE = """
import gc, sys
from konvsync.cli.start import main
collected = []
gc.callbacks.append(
    lambda phase, info: phase == "start"
    and collected.append("konvsync.cli.validate" in sys.modules)
)
sys.argv = ["konvsync", "validate", sys.argv[1]]
try:
    main()
except SystemExit as exit:
    print(exit.code, len(collected), any(not after for after in collected), gc.isenabled(),
          gc.get_freeze_count() > 10000, file=sys.stderr)
"""


def test_the_collector_rests_while_the_modules_load_and_runs_after(tmp_path: Path) -> None:
    """The entry point (``konvsync``, ``python -m konvsync``) pauses the
    cyclic garbage collector while konvsync's modules load, which it scanned
    about 90 times over as they were made, and restarts it, what they made
    frozen, before the command runs."""
    config = tmp_path / "konvsync.yaml"
    config.write_text("konvsync: 1\ngroups:\n  - {externalId: g1, name: One}\n")
    done = subprocess.run(
        [sys.executable, "-c", START_PROBE, str(config)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    code, _runs, before_loaded, enabled, frozen = done.stderr.split()[-5:]
    assert (code, before_loaded, enabled, frozen) == ("0", "False", "True", "True"), done.stderr


def test_python_dash_m_and_the_script_start_alike() -> None:
    """``python -m konvsync`` and the ``konvsync`` script run the same entry point."""
    main_module = Path(__file__).parents[2] / "konvsync" / "__main__.py"
    assert "from konvsync.cli.start import main" in main_module.read_text(encoding="utf-8")
