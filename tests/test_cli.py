import subprocess
import sys
from pathlib import Path

import pytest

HELHED = str(Path(sys.executable).parent / "helhed")


@pytest.mark.parametrize("args", [[], ["db"], ["airflow"], ["superset"], ["generate"], ["run"], ["backfill"], ["dbt-manifest"], ["rotate-key"], ["purge-landing"],
                                  ["demo"], ["serve"], ["stop"]])
def test_every_command_has_help(args):
    result = subprocess.run([HELHED, *args, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout
