"""client/README.md's examples, run as one script against `analytics-gateway serve --demo`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.client.conftest import CLIENT_SRC
from tests.servers import GatewayProcess

README = CLIENT_SRC.parent / "README.md"
DEMO_URL = 'URL = "http://127.0.0.1:8000"'


def readme_script() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert blocks, "the README has no Python examples"
    return "\n".join(blocks)


def test_the_readme_examples_run_against_the_demo(tmp_path: Path) -> None:
    script = readme_script()
    assert DEMO_URL in script
    # as the README starts it: from a directory whose data/ is the demo's data dir
    # (a longer request deadline than the default 30 s: the examples train models, which
    # a busy machine may take longer for; the answers are what this test checks)
    server = GatewayProcess(
        tmp_path / "data",
        {
            "ANALYTICS_JSON_LOGS": "false",
            "ANALYTICS_EGRESS_ALLOW": "127.0.0.1",
            "ANALYTICS_REQUEST_TIMEOUT_SECONDS": "120",
        },
    )
    server.start("--demo")
    try:
        server.wait_ready()  # as a load balancer would: the ML workers are up
        result = subprocess.run(
            [sys.executable, "-c", script.replace(DEMO_URL, f'URL = "{server.url}"')],
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(CLIENT_SRC)},
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    finally:
        server.stop()
    output = result.stdout
    assert result.returncode == 0, output + result.stderr
    for expected in [
        "stored 3 business metrics",
        "song_play metadata: {'song_id': 'song_789', 'duration': 180}",
        "alert High Error Rate",
        'ML alert on ml_anomaly_score{model="',
        "dashboards: Realtime: system health, user activity, revenue and Executive Dashboard",
        "  Daily revenue ChartData",
        "interval:",
        "live: ",
        "error code: NOT_FOUND",
        "error code: BAD_USER_INPUT",
    ]:
        assert expected in output, f"{expected!r} not in:\n{output}"
    assert "cpu_usage {'host': 'web-1'}" in output
