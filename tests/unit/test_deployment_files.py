"""Deployment files stay true to the code: settings, routes, CLI, ports and names.

No container engine or cluster runs here, so the files are checked against what
they describe: every `ANALYTICS_*` name against the `Settings`/`Limits` fields,
probes against the app's routes, the entrypoint against the CLI's parser, the
Compose file and Kubernetes manifests against their published schemas, and the
documented steps (the Secret, the Ingress, the stores) against the manifests.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import typing
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

import httpx
import kubernetes_validate
import pytest
import yaml
from prometheus_client import CollectorRegistry
from starlette.routing import Route

from analytics_gateway.app import create_app
from analytics_gateway.backends.factory import build_backends
from analytics_gateway.cli import _parser
from analytics_gateway.config import ENV_PREFIX, Limits, Settings
from analytics_gateway.ml.service import model_root
from tests.conftest import asgi_transport, make_settings, started, until_ready

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
DOCS = ROOT / "docs" / "deployment.md"
PROMETHEUS = ROOT / "deploy" / "prometheus.yml"
MAKE_SECRETS = ROOT / "deploy" / "make-secrets.sh"
K8S = ROOT / "deploy" / "kubernetes"
# Beside the manifests but not in the kustomization: an apply must not overwrite the
# Secret the operator creates, and the Ingress is optional.
SECRET_EXAMPLE = K8S / "secret.example.yaml"
INGRESS = K8S / "ingress.yaml"
OPTIONAL_MANIFESTS = (SECRET_EXAMPLE, INGRESS)
# ingress-nginx: a subscription is one long, often quiet, WebSocket connection
WEBSOCKET_TIMEOUTS = ("proxy-read-timeout", "proxy-send-timeout")
MIN_WEBSOCKET_SECONDS = 3600
NGINX = "nginx.ingress.kubernetes.io/"
VARIABLE = re.compile(re.escape(ENV_PREFIX) + r"[A-Z0-9_]*[A-Z0-9]")
FILE_SUFFIX = "_FILE"
STORE_IMAGES = {
    "redis": "redis:",
    "influxdb": "influxdb:1.8",
    "elasticsearch": "elasticsearch/elasticsearch:8.",
    "prometheus": "prom/prometheus",
}


# --- readers -----------------------------------------------------------------


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def compose() -> dict[str, Any]:
    data: dict[str, Any] = load_yaml(COMPOSE)
    return data


def gateways(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Services built from this repository's Dockerfile."""
    return {name: svc for name, svc in spec["services"].items() if "build" in svc}


def stores(spec: dict[str, Any]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {kind: [] for kind in STORE_IMAGES}
    for name, svc in spec["services"].items():
        for kind, image in STORE_IMAGES.items():
            if image in svc.get("image", "") and "build" not in svc:
                found[kind].append(name)
    return found


def kustomization() -> dict[str, Any]:
    data: dict[str, Any] = load_yaml(K8S / "kustomization.yaml")
    return data


def manifest_files() -> list[Path]:
    return [K8S / name for name in kustomization()["resources"]]


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def manifests() -> dict[str, dict[str, Any]]:
    """The Kubernetes objects by kind (one of each)."""
    by_kind: dict[str, dict[str, Any]] = {}
    for path in manifest_files():
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            assert doc["kind"] not in by_kind, f"two {doc['kind']} objects"
            by_kind[doc["kind"]] = doc
    return by_kind


def pod_spec(objects: dict[str, dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = objects["Deployment"]["spec"]["template"]["spec"]
    return spec


def container(objects: dict[str, dict[str, Any]]) -> dict[str, Any]:
    (only,) = pod_spec(objects)["containers"]
    return dict(only)


def secret_volume(objects: dict[str, dict[str, Any]]) -> tuple[str, str]:
    """The Secret the pod mounts, and where: (its name, the mount path)."""
    volumes = {v["name"]: v for v in pod_spec(objects)["volumes"]}
    (name,) = [n for n, v in volumes.items() if "secret" in v]
    (mount,) = [m["mountPath"] for m in container(objects)["volumeMounts"] if m["name"] == name]
    return volumes[name]["secret"]["secretName"], mount


def pod_env(objects: dict[str, dict[str, Any]]) -> dict[str, str]:
    """The container's environment: the image's ENV, the ConfigMap, then its own `env`."""
    env = dockerfile_env()
    env.update(objects["ConfigMap"]["data"])
    env.update({item["name"]: item["value"] for item in container(objects)["env"]})
    return env


def secret_keys_read(objects: dict[str, dict[str, Any]]) -> set[str]:
    """The Secret's keys the gateway reads: files its `*_FILE` settings name in the mount."""
    _, mount = secret_volume(objects)
    paths = [PurePosixPath(v) for k, v in pod_env(objects).items() if k.endswith(FILE_SUFFIX)]
    return {path.name for path in paths if path.parent == PurePosixPath(mount)}


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    lines = [
        line
        for line in DOCKERFILE.read_text(encoding="utf-8").splitlines()
        if not line.lstrip().startswith("#")
    ]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    result = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            result.append((word.upper(), rest.strip()))
    return result


def dockerfile_args(instruction: str) -> list[str]:
    return [rest for word, rest in dockerfile() if word == instruction]


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for rest in dockerfile_args("ENV"):
        for item in shlex.split(rest):
            key, _, value = item.partition("=")
            env[key] = value
    return env


def known_variables() -> set[str]:
    """`ANALYTICS_<FIELD>` for every scalar field of Settings and of Limits."""
    names = set()
    for cls in (Settings, Limits):
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if not dataclasses.is_dataclass(hints[f.name]):
                names.add(ENV_PREFIX + f.name.upper())
    return names


def settings_from(env: dict[str, str], files: dict[str, str], tmp_path: Path) -> Settings:
    """Settings as the container would build them; `files` maps mounted paths to content."""
    resolved = dict(env)
    for key, value in env.items():
        if key.endswith(FILE_SUFFIX):
            assert value in files, f"{key} names {value}, which nothing mounts"
            local = tmp_path / f"mounted-{len(list(tmp_path.iterdir()))}"
            local.write_text(files[value] + "\n", encoding="utf-8")
            resolved[key] = str(local)
    return Settings.from_env(resolved)


def parse_cli(argv: list[str]) -> Any:
    try:
        return _parser().parse_args(argv)
    except SystemExit as exc:
        raise AssertionError(f"the CLI refuses {argv}") from exc


def container_port() -> int:
    """The port the gateway listens on inside the image."""
    port = dockerfile_env().get(ENV_PREFIX + "PORT")
    return int(port) if port else Settings.from_env({}).port


def compose_admin_port() -> int:
    """The operator listener's port the compose gateways share."""
    (svc, *_) = gateways(compose()).values()
    return int(svc["environment"][ENV_PREFIX + "ADMIN_PORT"])


@pytest.fixture(scope="module")
def secrets_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("compose") / "secrets"
    subprocess.run(["sh", str(MAKE_SECRETS), str(directory)], check=True, capture_output=True)
    return directory


# --- every file ---------------------------------------------------------------


def test_every_yaml_file_parses() -> None:
    paths = [COMPOSE, *sorted((ROOT / "deploy").rglob("*.y*ml"))]
    assert len(paths) >= 8
    for path in paths:
        docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        assert docs, path
        assert all(isinstance(doc, dict) for doc in docs), path


def test_every_settings_variable_named_is_a_real_field() -> None:
    known = known_variables()
    k8s = [K8S / "configmap.yaml", K8S / "deployment.yaml", INGRESS]
    for path in [COMPOSE, DOCKERFILE, DOCS, *k8s]:
        named = set(VARIABLE.findall(path.read_text(encoding="utf-8")))
        assert named, f"{path.name} names no settings at all"
        # a setting of its own (ANALYTICS_ENCRYPTION_KEYS_FILE), or another read from a file
        bare = {name if name in known else name.removesuffix(FILE_SUFFIX) for name in named}
        assert bare <= known, f"{path.name}: not Settings/Limits fields: {sorted(bare - known)}"


# --- Dockerfile -----------------------------------------------------------------


def test_dockerfile_entrypoint_is_a_real_command() -> None:
    (entrypoint,) = dockerfile_args("ENTRYPOINT")
    argv = json.loads(entrypoint) + [a for c in dockerfile_args("CMD") for a in json.loads(c)]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert argv[0] in scripts
    args = parse_cli(argv[1:])
    assert args.command == "serve"
    assert args.host == "0.0.0.0"


def test_dockerfile_installs_the_package_as_a_non_root_user() -> None:
    *stages, final = dockerfile_args("FROM")
    assert final == "python:3.11-slim"
    assert stages == ["node:20-slim AS ui"], "the web UI is built in its own stage"
    assert any("/web/dist" in rest for rest in dockerfile_args("COPY") if "--from=ui" in rest)
    installs = [rest for rest in dockerfile_args("RUN") if "pip install" in rest]
    # the locked versions, hash-checked, then the package alone
    assert installs[0].startswith("pip install --require-hashes -r requirements/runtime.txt")
    assert "pip install --no-deps --no-build-isolation ." in installs[1]
    (user,) = dockerfile_args("USER")
    assert user.split(":")[0] not in {"root", "0"}
    assert [int(p) for p in dockerfile_args("EXPOSE")] == [container_port()]


def test_dockerignore_sends_the_build_inputs_only() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*", "an allow-list keeps data and secrets out of the build"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    for rest in dockerfile_args("COPY"):
        if "--from=" in rest:
            continue  # copied from an earlier stage, not from the build context
        sources = [s for s in shlex.split(rest)[:-1] if not s.startswith("--")]
        for source in sources:
            top = source.rstrip("/").split("/")[0]
            assert top in allowed, f"COPY {source} is excluded by .dockerignore"
    assert not any(a.startswith("deploy") for a in allowed)


# --- probes and routes ----------------------------------------------------------------


async def test_probes_and_scrapes_hit_real_routes_without_a_key(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path / "data"), registry=CollectorRegistry())
    routes = {r.path for r in app.routes if isinstance(r, Route) and "GET" in (r.methods or ())}
    (healthcheck,) = dockerfile_args("HEALTHCHECK")
    match = re.search(r"https?://[^/\s'\"]+(/[\w/.-]*)", healthcheck)
    assert match, "the HEALTHCHECK calls no URL"
    c = container(manifests())
    readiness, liveness = c["readinessProbe"]["httpGet"], c["livenessProbe"]["httpGet"]
    scrape_paths = [job.get("metrics_path", "/metrics") for job in gateway_scrape_jobs()]
    paths = [match.group(1), readiness["path"], liveness["path"], *scrape_paths]
    assert set(paths) <= routes, f"no such GET route: {sorted(set(paths) - routes)}"
    assert readiness["path"] != liveness["path"]
    async with started(app):
        transport = asgi_transport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            await until_ready(http)  # a new gateway warms its ML stack up first
            for path in paths:
                response = await http.get(path)
                assert response.status_code == 200, (path, response.text)
            ready = await http.get(readiness["path"])
            assert ready.json()["checks"], "readiness must check the stores"


# --- Docker Compose -------------------------------------------------------------------


def test_compose_file_follows_the_compose_specification() -> None:
    # check-jsonschema ships the Compose specification's schema; nothing is downloaded.
    command = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec"]
    result = subprocess.run([*command, str(COMPOSE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_runs_two_gateways_and_every_store() -> None:
    spec = compose()
    services = gateways(spec)
    assert len(services) == 2
    host_ports = set()
    for svc in services.values():
        (mapping,) = svc["ports"]
        host, _, inside = str(mapping).rpartition(":")
        host_ports.add(host)
        assert int(inside) == container_port()
    assert len(host_ports) == 2, "each gateway needs its own host port"
    for kind, names in stores(spec).items():
        if kind == "redis":  # durable keys and buffer apart from evictable live data
            assert sorted(names) == ["redis", "redis-live"], names
            continue
        assert len(names) == 1, f"want one {kind} service, found {names}"


def test_compose_stores_are_configured_as_documented() -> None:
    spec = compose()
    found = {kind: spec["services"][names[0]] for kind, names in stores(spec).items()}
    command = " ".join(found["redis"]["command"])
    assert "--appendonly yes" in command
    assert "--appendfsync everysec" in command
    influx = found["influxdb"]["environment"]
    assert influx["INFLUXDB_DB"]
    assert influx["INFLUXDB_HTTP_AUTH_ENABLED"] == "true"
    elastic = found["elasticsearch"]["environment"]
    assert elastic["discovery.type"] == "single-node"
    assert elastic["xpack.security.enabled"] == "false"
    heap = re.findall(r"-Xm[sx](\d+[mg])", elastic["ES_JAVA_OPTS"])
    assert len(heap) == 2, "set both the minimum and the maximum heap"
    assert heap[0] == heap[1], "the minimum and maximum heap must be equal"


def test_compose_gateways_wait_for_healthy_stores() -> None:
    spec = compose()
    # /readyz probes every configured store, Prometheus included.
    needed = {names[0] for names in stores(spec).values()}
    for name, svc in gateways(spec).items():
        depends = svc["depends_on"]
        assert set(depends) >= needed, name
        assert all(depends[d]["condition"] == "service_healthy" for d in needed), name
    for name, svc in spec["services"].items():
        if name in gateways(spec):
            assert dockerfile_args("HEALTHCHECK"), "the gateway image needs a HEALTHCHECK"
        else:
            assert svc["healthcheck"]["test"], name


def test_compose_leaves_nothing_to_host_interpolation() -> None:
    # A single `$` would be replaced by Compose from the host's environment.
    assert "$" not in COMPOSE.read_text().replace("$$", "")


def gateway_env(svc: dict[str, Any]) -> dict[str, str]:
    env = svc["environment"]
    assert isinstance(env, dict), "use the mapping form for environment"
    return {k: str(v) for k, v in env.items()}


def test_compose_secrets_are_files_from_make_secrets(secrets_dir: Path, tmp_path: Path) -> None:
    spec = compose()
    declared = spec["secrets"]
    made = {p.name for p in secrets_dir.iterdir()}
    assert {Path(s["file"]).name for s in declared.values()} == made
    assert all(Path(s["file"]).parent == Path("deploy/secrets") for s in declared.values())
    for name, svc in spec["services"].items():
        assert set(svc.get("secrets", [])) <= set(declared), name
    for svc in gateways(spec).values():
        env = gateway_env(svc)
        mounted = {f"/run/secrets/{s}": s for s in svc["secrets"]}
        for key, value in env.items():
            if key.endswith(FILE_SUFFIX):
                assert value in mounted, f"{key}={value} is not a mounted secret"
        files = {
            path: (secrets_dir / Path(declared[s]["file"]).name).read_text().strip()
            for path, s in mounted.items()
        }
        settings = settings_from(env, files, tmp_path)
        url = urlparse(settings.metrics_url)
        influx_name = stores(spec)["influxdb"][0]
        influx = spec["services"][influx_name]["environment"]
        assert url.hostname == influx_name
        assert url.username == influx["INFLUXDB_USER"]
        assert url.path.strip("/") == influx["INFLUXDB_DB"]
        assert url.password == (secrets_dir / "influxdb_gateway_password").read_text().strip()


def test_make_secrets_keeps_existing_files(secrets_dir: Path) -> None:
    before = {p.name: p.read_text() for p in secrets_dir.iterdir()}
    subprocess.run(["sh", str(MAKE_SECRETS), str(secrets_dir)], check=True, capture_output=True)
    assert {p.name: p.read_text() for p in secrets_dir.iterdir()} == before
    assert len(set(before.values())) == len(before), "every secret is generated afresh"


def test_compose_gateway_urls_name_compose_services() -> None:
    spec = compose()
    for svc in gateways(spec).values():
        urls = {k: v for k, v in gateway_env(svc).items() if k.endswith("_URL")}
        assert urls
        for key, value in urls.items():
            assert urlparse(value).hostname in spec["services"], f"{key}={value}"


def gateway_scrape_jobs() -> list[dict[str, Any]]:
    jobs = load_yaml(PROMETHEUS)["scrape_configs"]
    names = set(gateways(compose()))
    return [
        job
        for job in jobs
        if any(t.split(":")[0] in names for c in job["static_configs"] for t in c["targets"])
    ]


def test_prometheus_scrapes_every_gateway() -> None:
    targets = {
        t for job in gateway_scrape_jobs() for c in job["static_configs"] for t in c["targets"]
    }
    # the operator listener: the public port does not serve /metrics in production
    assert targets == {f"{name}:{compose_admin_port()}" for name in gateways(compose())}
    mounts = [v for v in compose()["services"]["prometheus"]["volumes"] if "prometheus.yml" in v]
    (mount,) = mounts
    assert (ROOT / mount.split(":")[0]).resolve() == PROMETHEUS


# --- Kubernetes -------------------------------------------------------------------------


def test_kubernetes_manifests_follow_the_api_schemas() -> None:
    version = kubernetes_validate.latest_version()
    for path in [*manifest_files(), *OPTIONAL_MANIFESTS]:
        for doc in documents(path):
            kubernetes_validate.validate(doc, version, strict=True)


def test_kustomization_lists_every_manifest_but_the_optional_ones() -> None:
    optional = {p.name for p in OPTIONAL_MANIFESTS}
    present = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"} - optional
    assert {p.name for p in manifest_files()} == present
    assert all(path.is_file() for path in OPTIONAL_MANIFESTS)


def kustomized_secrets() -> set[str]:
    """Names of the Secrets `kubectl apply -k` would create, or replace."""
    names = {
        doc["metadata"]["name"]
        for path in manifest_files()
        for doc in documents(path)
        if doc["kind"] == "Secret"
    }
    return names | {g["name"] for g in kustomization().get("secretGenerator", [])}


def created_secrets(commands: list[list[str]]) -> dict[str, dict[str, str]]:
    """`kubectl create secret generic` in `commands`: name -> {key: file or literal}."""
    found: dict[str, dict[str, str]] = {}
    for words in commands:
        if words[:4] == ["kubectl", "create", "secret", "generic"]:
            sources = found.setdefault(words[4], {})
            for word in words[5:]:
                match = re.fullmatch(r"--from-(?:file|literal)=([^=]+)=(.*)", word)
                if match:
                    sources[match.group(1)] = match.group(2)
    return found


def test_applying_the_kustomization_keeps_the_secret_the_docs_create(
    secrets_dir: Path, tmp_path: Path
) -> None:
    objects = manifests()
    name, mount = secret_volume(objects)
    # `kubectl apply -k` would overwrite a Secret of the same name it holds itself
    assert name not in kustomized_secrets(), f"the kustomization replaces the Secret {name}"
    commands = docs_commands(docs_section("Kubernetes"))
    created = created_secrets(commands)
    assert name in created, f"the docs never create the Secret {name} the pods mount"
    keys = secret_keys_read(objects)
    assert keys, "the pods read no setting from the Secret"
    assert keys <= set(created[name]), f"the documented Secret lacks {keys - set(created[name])}"
    steps = [words[:3] for words in commands]
    create = ["kubectl", "create", "secret", "generic", name]
    first_create = min(i for i, words in enumerate(commands) if words[:5] == create)
    assert ["kubectl", "apply", "-k"] in steps
    assert first_create < steps.index(["kubectl", "apply", "-k"]), "create it before the apply"
    assert ["kustomize", "edit", "remove"] not in steps, "the documented steps need no edits"
    # the documented file is one deploy/make-secrets.sh makes, and it sets the store URL
    files = {}
    for key in keys:
        source = Path(created[name][key])
        assert source.parent == Path("deploy/secrets"), source
        files[f"{mount}/{key}"] = (secrets_dir / source.name).read_text(encoding="utf-8").strip()
    settings = settings_from(pod_env(objects), files, tmp_path)
    assert urlparse(settings.metrics_url).scheme == "influxdb"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl (its kustomize)")
def test_kustomize_builds_without_a_secret_and_takes_the_ingress(tmp_path: Path) -> None:
    def kinds(directory: Path) -> list[str]:
        built = subprocess.run(
            ["kubectl", "kustomize", str(directory)], capture_output=True, text=True, check=True
        )
        return [doc["kind"] for doc in yaml.safe_load_all(built.stdout) if doc]

    base = kinds(K8S)
    assert "Secret" not in base
    assert {"Deployment", "PersistentVolumeClaim"} <= set(base)
    # as documented: `kustomize edit add resource ingress.yaml`
    copy = tmp_path / K8S.name
    shutil.copytree(K8S, copy)
    spec = kustomization()
    spec["resources"].append(INGRESS.name)
    (copy / "kustomization.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    assert sorted(kinds(copy)) == sorted([*base, "Ingress"])


def test_deployment_runs_three_probed_non_root_replicas() -> None:
    objects = manifests()
    assert objects["Deployment"]["spec"]["replicas"] == 3
    c = container(objects)
    for probe in ("readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"]["path"], probe
    assert c["resources"]["requests"]
    assert c["resources"]["limits"]
    security = pod_spec(objects)["securityContext"]
    (user,) = dockerfile_args("USER")
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] == int(user.split(":")[0]) != 0
    assert c["securityContext"]["allowPrivilegeEscalation"] is False


def test_deployment_reads_the_configmap_and_the_example_secret(tmp_path: Path) -> None:
    objects = manifests()
    c = container(objects)
    config_name = objects["ConfigMap"]["metadata"]["name"]
    (secret,) = documents(SECRET_EXAMPLE)
    assert [s["configMapRef"]["name"] for s in c["envFrom"]] == [config_name]
    volumes = {v["name"]: v for v in pod_spec(objects)["volumes"]}
    secret_volumes = [n for n, v in volumes.items() if "secret" in v]
    assert [volumes[n]["secret"]["secretName"] for n in secret_volumes] == [
        secret["metadata"]["name"]
    ]
    (mount,) = [m["mountPath"] for m in c["volumeMounts"] if m["name"] in secret_volumes]
    files = {f"{mount}/{key}": value for key, value in secret["stringData"].items()}
    env = dict(objects["ConfigMap"]["data"])
    for item in c["env"]:
        assert item["name"] not in env, f"{item['name']} is set twice"
        env[item["name"]] = item["value"]
    assert any(k.endswith(FILE_SUFFIX) for k in env), "the secret is read through *_FILE"
    settings = settings_from(env, files, tmp_path)
    assert settings.metrics_url == secret["stringData"]["metrics-url"]
    assert "PLACEHOLDER" in settings.metrics_url, "the example Secret must look like a placeholder"
    # A store check may take the whole backend timeout before /readyz answers.
    assert c["readinessProbe"]["timeoutSeconds"] > settings.backend_timeout_seconds


def test_ports_and_selectors_agree() -> None:
    objects = manifests()
    c = container(objects)
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    admin = int(objects["ConfigMap"]["data"][ENV_PREFIX + "ADMIN_PORT"])
    assert ports == {"http": container_port(), "admin": admin}

    def number(port: int | str) -> int:
        return ports[port] if isinstance(port, str) else port

    (service_port,) = objects["Service"]["spec"]["ports"]
    assert number(service_port["targetPort"]) == container_port()
    for probe in ("readinessProbe", "livenessProbe"):
        assert number(c[probe]["httpGet"]["port"]) == container_port()
    template = objects["Deployment"]["spec"]["template"]["metadata"]
    assert int(template["annotations"]["prometheus.io/port"]) == admin  # operators only
    labels = template["labels"].items()
    assert objects["Service"]["spec"]["selector"].items() <= labels
    assert objects["Deployment"]["spec"]["selector"]["matchLabels"].items() <= labels
    budget = objects["PodDisruptionBudget"]["spec"]
    assert budget["selector"]["matchLabels"].items() <= labels
    assert 0 < budget["minAvailable"] < objects["Deployment"]["spec"]["replicas"]


def test_models_live_on_one_read_write_many_claim_every_replica_mounts() -> None:
    objects = manifests()
    env = {k: v for k, v in pod_env(objects).items() if not k.endswith(FILE_SUFFIX)}
    settings = Settings.from_env(env)
    c = container(objects)
    volumes = {v["name"]: v for v in pod_spec(objects)["volumes"]}

    def volume_at(path: PurePosixPath) -> dict[str, Any]:
        """The volume `path` is on in the container: the deepest mount holding it."""
        holding = [
            m for m in c["volumeMounts"] if PurePosixPath(m["mountPath"]) in (path, *path.parents)
        ]
        assert holding, f"{path} is on the read-only root file system"
        deepest = max(holding, key=lambda m: len(PurePosixPath(m["mountPath"]).parts))
        assert not deepest.get("readOnly"), f"the gateway writes to {path}"
        volume: dict[str, Any] = volumes[deepest["name"]]
        return volume

    models = volume_at(PurePosixPath(model_root(settings)))
    # one claim in the pod template: every replica mounts the same volume
    assert "persistentVolumeClaim" in models, "a model trained on one replica must load on all"
    claim = objects["PersistentVolumeClaim"]
    assert models["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"], "pods on several nodes share it"
    assert objects["Deployment"]["spec"]["replicas"] > 1
    # the data directory is locked by one process: one per pod, never the shared claim
    assert "emptyDir" in volume_at(PurePosixPath(settings.data_dir))


def test_compose_gateways_share_one_models_volume() -> None:
    services = gateways(compose())
    assert len(services) > 1
    volumes: set[str] = set()
    for service in services.values():
        env = {k: str(v) for k, v in service["environment"].items() if not k.endswith(FILE_SUFFIX)}
        models = PurePosixPath(model_root(Settings.from_env(env)))
        mounted = [
            volume.split(":")[0]
            for volume in service.get("volumes", [])
            if PurePosixPath(volume.split(":")[1]) in (models, *models.parents)
        ]
        assert len(mounted) == 1, f"a model trained on one replica must load on all: {mounted}"
        volumes.add(mounted[0])
    assert len(volumes) == 1
    assert volumes <= set(compose()["volumes"]), "a named volume, not a per-container path"
    # a new named volume takes the image's ownership of the path: the gateway's user
    assert "mkdir -p /var/lib/analytics-gateway/models" in (ROOT / "Dockerfile").read_text()


def ingress() -> dict[str, Any]:
    (doc,) = documents(INGRESS)
    assert doc["kind"] == "Ingress"
    return doc


def routes(path: str, path_type: str, request: str) -> bool:
    """Whether an Ingress path of this type matches the request path."""
    if path_type == "Exact":
        return request == path
    prefix = path.rstrip("/")  # Prefix matches by whole path elements
    return request == prefix or request.startswith(prefix + "/")


def nginx_size(size: str) -> float:
    """An nginx size (`5m`, `512k`, `0` for no limit) in bytes."""
    match = re.fullmatch(r"(\d+)([kKmMgG]?)", size)
    assert match, f"not an nginx size: {size}"
    number, unit = int(match.group(1)), match.group(2).lower()
    return float("inf") if number == 0 else number * 1024 ** " kmg".index(unit or " ")


def test_ingress_is_optional_and_routes_to_the_public_port_only() -> None:
    assert INGRESS.name not in kustomization()["resources"], "the Ingress is an optional extra"
    kubernetes_validate.validate(ingress(), kubernetes_validate.latest_version(), strict=True)
    objects = manifests()
    service = objects["Service"]
    ports = {p["name"]: p["containerPort"] for p in container(objects)["ports"]}
    admin = int(objects["ConfigMap"]["data"][ENV_PREFIX + "ADMIN_PORT"])
    assert ports["admin"] == admin

    def container_port_of(backend: dict[str, Any]) -> int:
        target = backend["service"]
        assert target["name"] == service["metadata"]["name"]
        want = target["port"]
        (port,) = [
            p
            for p in service["spec"]["ports"]
            if p.get("name") == want.get("name") or p["port"] == want.get("number")
        ]
        number = port["targetPort"]
        return ports[number] if isinstance(number, str) else int(number)

    spec = ingress()["spec"]
    paths = [p for rule in spec["rules"] for p in rule["http"]["paths"]]
    backends = [p["backend"] for p in paths] + [spec[k] for k in ("defaultBackend",) if k in spec]
    for backend in backends:
        port = container_port_of(backend)
        assert port != admin, "the operator listener (/metrics, detailed /readyz) is not public"
        assert port == container_port()
    for request in ("/", "/graphql", "/analytics/points"):
        assert any(routes(p["path"], p["pathType"], request) for p in paths), request


def test_ingress_keeps_subscriptions_open_and_serves_tls() -> None:
    doc = ingress()
    annotations = doc["metadata"]["annotations"]
    for name in WEBSOCKET_TIMEOUTS:
        assert int(annotations[NGINX + name]) >= MIN_WEBSOCKET_SECONDS, name
    tls = doc["spec"]["tls"]
    assert tls, "no tls section"
    assert all(entry["secretName"] for entry in tls)
    hosts = {rule["host"] for rule in doc["spec"]["rules"]}
    assert hosts
    assert hosts <= {h for entry in tls for h in entry["hosts"]}, "every host on TLS"
    # bulk ingest bodies up to the gateway's own limit get through
    env = {k: v for k, v in pod_env(manifests()).items() if not k.endswith(FILE_SUFFIX)}
    limit = Settings.from_env(env).limits.max_body_bytes
    assert nginx_size(annotations[NGINX + "proxy-body-size"]) >= limit


# --- docs -------------------------------------------------------------------------------


def docs_section(title: str) -> str:
    text = DOCS.read_text(encoding="utf-8")
    heading = f"\n## {title}\n"
    assert heading in text, f"docs/deployment.md has no section '## {title}'"
    return text.split(heading, 1)[1].split("\n## ", 1)[0]


def docs_commands(text: str) -> list[list[str]]:
    """The commands in the ```sh blocks of `text`, continuation lines joined, split."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.DOTALL):
        for line in re.sub(r"\\\n", " ", block).splitlines():
            words = shlex.split(line, comments=True)
            if words:
                commands.append(words)
    return commands


def url_settings() -> set[str]:
    """The variable of every store URL in `Settings` (the identity provider's keys are not a
    store)."""
    return {
        ENV_PREFIX + f.name.upper()
        for f in dataclasses.fields(Settings)
        if f.name.endswith("_url") and not f.name.startswith("oidc_")
    }


def test_docs_explain_websockets_tls_and_the_private_operator_port() -> None:
    section = docs_section("Ingress, TLS and WebSockets")
    admin = ENV_PREFIX + "ADMIN_PORT"
    assert admin in known_variables()
    needles = ["graphql-transport-ws", "`/graphql`", "wss://", "TLS", "cert-manager", admin]
    needles += ["`/metrics`", "`/readyz`", INGRESS.name, *WEBSOCKET_TIMEOUTS]
    for needle in needles:
        assert needle in section, needle


async def test_docs_say_how_to_run_every_store_by_its_url_setting(tmp_path: Path) -> None:
    section = docs_section("Running the stores")
    wanted = url_settings()
    assert len(wanted) >= 5
    missing = sorted(name for name in wanted if f"`{name}`" not in section)
    assert not missing, f"not named where the stores are explained: {missing}"
    row = re.compile(r"^\| `(" + re.escape(ENV_PREFIX) + r"\w+)` \| `([^`]+)` \|", re.MULTILINE)
    examples = dict(row.findall(section))
    assert set(examples) == wanted, "one example URL per store setting"
    # each example picks the production backend it describes
    assert not {urlparse(url).scheme for url in examples.values()} & {"duckdb", "sqlite", "memory"}
    settings = Settings.from_env(examples, data_dir=tmp_path)
    backends = build_backends(settings, registry=CollectorRegistry())
    try:
        assert backends.buffer is not None
        assert backends.prometheus is not None
    finally:
        await backends.close()
    for needle in ("maxmemory", "noeviction", "allkeys-lru", "appendonly yes", "Helm"):
        assert needle in section, needle


def test_docs_commands_are_real_cli_commands() -> None:
    blocks = re.findall(r"```sh\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.DOTALL)
    command = re.compile(r"(?:^|\s)analytics-gateway (.*)")
    found = [m.group(1) for block in blocks for m in command.finditer(block)]
    assert len(found) >= 2
    for line in found:
        parse_cli(shlex.split(line, comments=True))


def test_docs_name_every_service_and_manifest() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for name in compose()["services"]:
        assert f"`{name}`" in text, name
    for path in [*manifest_files(), *OPTIONAL_MANIFESTS, PROMETHEUS, MAKE_SECRETS]:
        assert path.name in text, path.name
