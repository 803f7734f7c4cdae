"""The OCI image, built and run for real: `tools/container/build.sh` (what `make container` runs)
builds the bento and its image once with the engine that is here (a Debian base image when no
registry answers), then the image serves the default model and `MODEL_PATH=ferplus` on loopback:
/readyz, /detect on a real photo, /metadata naming the model inside the image, bad input 4xx,
the HEALTHCHECK, the non-root user. Skipped where no engine can run containers."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from conftest import BIN, REPO, free_port, wait_until_up

pytestmark = pytest.mark.slow
CONTAINERS_CONF = REPO / "tools" / "container" / "containers.conf"


def engine() -> str | None:
    """podman, or docker with a running daemon (buildah builds but runs nothing)."""
    if shutil.which("podman"):
        return "podman"
    if shutil.which("docker") and subprocess.run(["docker", "info"], capture_output=True).returncode == 0:
        return "docker"
    return None


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> tuple[str, dict]:
    """(image name, environment to run it with), built once for the module."""
    name = engine()
    if name is None:
        pytest.skip("no container engine that runs containers (apt-get install podman buildah runc)")
    env = {**os.environ, "BENTOML": str(BIN / "bentoml"), "ENGINE": name,
           "BENTOML_HOME": str(tmp_path_factory.mktemp("bentoml")), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    built = subprocess.run(["bash", "tools/container/build.sh"], cwd=REPO, env=env, capture_output=True, text=True,
                           timeout=1500)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    tag = built.stdout.strip().splitlines()[-1]
    if name == "podman":  # the runtime settings build.sh names where podman's defaults cannot start a container
        for extra in ({}, {"CONTAINERS_CONF": str(CONTAINERS_CONF)}):
            probe = subprocess.run(["podman", "run", "--rm", "--entrypoint", "true", tag], env={**env, **extra},
                                   capture_output=True, text=True, timeout=120)
            if probe.returncode == 0:
                env.update(extra)
                break
        else:
            pytest.skip(f"podman cannot start containers on this machine: {probe.stderr.strip()[-300:]}")
    return tag, env


def serve(image_and_env: tuple[str, dict], extra: dict[str, str], log_dir: Path):
    """Run the image in the foreground on a free loopback port; returns (container name, url) once
    /readyz answers (conftest's wait_until_up, the container's output in `log_dir`)."""
    tag, env = image_and_env
    port = free_port()
    name = f"emoscan-test-{port}"
    run = [engine(), "run", "--rm", "--name", name, "--network", "host", "-e", f"PORT={port}"]
    for key, value in extra.items():
        run += ["-e", f"{key}={value}"]
    log_path = log_dir / f"{name}.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([*run, tag], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/readyz", proc, log_path, 120)
    except BaseException:
        stop(image_and_env, name)
        raise
    return name, f"http://127.0.0.1:{port}"


def stop(image_and_env: tuple[str, dict], name: str) -> None:
    subprocess.run([engine(), "stop", "-t", "5", name], env=image_and_env[1], capture_output=True, timeout=60)


@pytest.mark.parametrize("model_path, model_name, classes", [
    (None, "emoscan-fer2013", 7),
    ("ferplus", "emoscan-ferplus", 8),
    ("fer2013-fast", "emoscan-fer2013-fast", 7),
])
def test_the_image_serves_each_shipped_model(image, media, tmp_path, model_path, model_name, classes):
    cid, url = serve(image, {"MODEL_PATH": model_path} if model_path else {}, tmp_path)
    try:
        meta = requests.get(f"{url}/metadata", timeout=10).json()
        assert meta["model"]["name"] == model_name and len(meta["classes"]) == classes
        assert meta["model"]["origin"] == "shipped" and meta["model"]["path"].startswith("/home/bentoml/bento/")
        body = requests.post(f"{url}/detect", files={"image": open(media["astronaut"], "rb")}, timeout=30).json()
        (face,) = body["faces"]
        assert len(face["probabilities"]) == classes and face["emotion"] in meta["classes"]
        empty = requests.post(f"{url}/detect", files={"image": ("empty.jpg", b"")}, timeout=10)
        text = requests.post(f"{url}/detect", files={"image": ("notes.txt", b"not an image\n", "text/plain")},
                             timeout=10)
        assert (empty.status_code, text.status_code) == (400, 415) and "error" in text.json()
        assert requests.get(f"{url}/ui", timeout=10).status_code == 200
    finally:
        stop(image, cid)


def test_the_image_runs_as_a_user_with_a_healthcheck_on_readyz(image, tmp_path):
    tag, env = image
    inspect = subprocess.run([engine(), "image", "inspect", "--format", "{{.Config.User}}|{{json .Config.Healthcheck}}", tag],
                             env=env, capture_output=True, text=True, timeout=60)
    user, health = inspect.stdout.strip().split("|", 1)
    assert user == "bentoml" and "/readyz" in health
    cid, _ = serve(image, {}, tmp_path)
    try:
        if engine() == "podman":  # podman runs health checks on demand without systemd
            checked = subprocess.run(["podman", "healthcheck", "run", cid], env=env, capture_output=True, text=True,
                                     timeout=60)
            assert checked.returncode == 0, checked.stderr
        whoami = subprocess.run([engine(), "exec", cid, "id", "-un"], env=env, capture_output=True, text=True, timeout=60)
        assert whoami.stdout.strip() == "bentoml"
    finally:
        stop(image, cid)
    sizes = subprocess.run([engine(), "image", "inspect", "--format", "{{.Size}}", tag], env=env, capture_output=True,
                           text=True, timeout=60)
    assert int(sizes.stdout.strip()) < 1_000_000_000, "no compiler toolchain in the image"


def test_a_missing_engine_is_named(tmp_path):
    """build.sh with no engine on PATH says what to install and changes nothing."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "sed", "tail", "python3", "timeout"):
        if shutil.which(tool):
            (bin_dir / tool).symlink_to(shutil.which(tool))
    result = subprocess.run([shutil.which("bash"), "tools/container/build.sh"], cwd=REPO, capture_output=True, text=True,
                            env={"PATH": str(bin_dir), "HOME": str(tmp_path)}, timeout=60)
    assert result.returncode == 1 and "no container engine" in result.stderr


def test_the_kubernetes_manifests_validate_and_probe_the_service():
    """deploy/kubernetes.yaml against the Kubernetes API's schemas (strict: no unknown fields), with
    the probes on the service's own endpoints; a misspelt field fails the same check."""
    import kubernetes_validate
    import yaml

    documents = list(yaml.safe_load_all((REPO / "deploy" / "kubernetes.yaml").read_text()))
    assert {d["kind"] for d in documents} == {"Deployment", "Service"}
    for document in documents:
        kubernetes_validate.validate(document, "1.30", strict=True)
    (deployment,) = [d for d in documents if d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert container["resources"]["limits"]["cpu"]
    container["readinessProbe"]["httpGett"] = container["readinessProbe"].pop("httpGet")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, "1.30", strict=True)
