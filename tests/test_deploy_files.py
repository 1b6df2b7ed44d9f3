"""The deployment files run the commands the test suite runs: bin/serve for the workers,
manage.py migrate as its own step, /readyz as the health check. Docker and systemd do not
run here, so these checks are what keeps the files from drifting."""

from __future__ import annotations

import configparser
import re
import shlex
import subprocess

import yaml

from tests.live_server import BIN, ROOT


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_compose_file_follows_the_compose_specification():
    done = subprocess.run(
        [BIN / "check-jsonschema", "--builtin-schema", "vendor.compose-spec", "compose.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_compose_runs_workers_with_bin_serve_after_migrating_and_checks_them_at_readyz():
    services = compose()["services"]
    assert set(services) == {"postgres", "redis", "migrate", "app", "proxy"}
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--no-input"]
    app = services["app"]
    assert "command" not in app  # the image's CMD, below
    assert app["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert "/readyz" in " ".join(app["healthcheck"]["test"])
    assert services["proxy"]["depends_on"]["app"] == {"condition": "service_healthy"}
    for service in ("postgres", "redis"):
        assert "healthcheck" in services[service]
    environment = app["environment"]
    assert environment["DATABASE_URL"].startswith("postgres://")
    assert environment["REDIS_URL"].startswith("redis://")


def test_the_image_and_the_systemd_unit_start_bin_serve():
    dockerfile = (ROOT / "Dockerfile").read_text()
    [cmd] = [line for line in dockerfile.splitlines() if line.startswith("CMD ")]
    assert cmd.startswith('CMD ["bin/serve", ')
    assert "RUN make install" in dockerfile

    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(ROOT / "deploy" / "chat.service")
    command = shlex.split(unit["Service"]["ExecStart"])
    assert command[0] == "/srv/chat/bin/serve"
    assert unit["Service"]["KillSignal"] == "SIGTERM"


def test_make_serve_starts_bin_serve():
    done = subprocess.run(
        ["make", "--dry-run", "serve", "WORKERS=3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert "bin/serve --host 127.0.0.1 --port 8000 --workers 3" in done.stdout


def test_every_app_container_shares_the_files_and_the_proxy_lets_the_largest_upload_through(
    settings,
):
    app = compose()["services"]["app"]
    assert "files:/srv/chat/var/files" in app["volumes"]
    assert "files" in compose()["volumes"]
    for config in (ROOT / "deploy" / "nginx.conf", ROOT / "docs" / "deploy.md"):
        [size] = re.findall(r"client_max_body_size (\d+)m;", config.read_text())
        assert int(size) * 1024 * 1024 > settings.CHAT_FILE_MAX_BYTES
