"""The README's example runs, as it is, against a server over the shared real alerts: every
```python block, in order, in a fresh interpreter with matplotlib's headless backend."""

import os
import re
import subprocess
import sys

import pytest
from matplotlib import image

from conftest import SDK

pytestmark = pytest.mark.shared


def readme_code():
    text = (SDK / "README.md").read_text()
    blocks = re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)
    assert len(blocks) >= 5, "the README's example has gone"
    return "\n".join(blocks)


def test_readme_example_runs(real, real_client, tmp_path):
    (tmp_path / "example.py").write_text(readme_code())
    env = dict(os.environ, SKYSIEVE_URL=real.server.url, MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join([str(SDK), os.environ.get("PYTHONPATH", "")]),
               PYTHONDONTWRITEBYTECODE="1", MPLCONFIGDIR=str(tmp_path / "mpl"))
    p = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, f"the README's example failed:\n{p.stdout}\n{p.stderr}"
    lc = real_client.lightcurve("ZTF19aainpua", kinds="detection")
    negative = int((lc.flux < 0).sum())
    assert f"{negative} of {len(lc)} detections are negative" in p.stdout
    assert real_client.get_by_object_id("ZTF19aainpua").locus_id in p.stdout
    plot = image.imread(tmp_path / "lightcurve.png")
    assert plot.shape[:2] == (400, 800)
    assert plot[..., :3].std() > 0.05  # something was drawn
    stamp = image.imread(tmp_path / "stamp.png")
    assert stamp.shape[0] > 100
