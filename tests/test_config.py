"""Contexts: the config file, credentials apart with mode 0600, precedence, CLI commands."""

from __future__ import annotations

import json
import stat

import pytest
import yaml

from backends.errors import InvalidRequest
from faastui import config, locations
from tests.conftest import cli


def test_default_local_context_without_a_file():
    cfg = config.load_config()
    ctx = config.resolve_context(None, cfg)
    assert ctx.name == "local" and ctx.backend == "local"
    assert ctx.engine_state_dir() == locations.state_dir() / "engine"
    assert not config.config_path().exists()


def test_add_use_show_list_rm_and_secrets_stay_secret():
    cli(
        "context",
        "add",
        "prod",
        "--backend",
        "local",
        "--url",
        "http://10.0.0.5:8080",
        "--token",
        "s3cr3t-token",
        "--redis-url",
        "redis://:pw@10.0.0.5:6379/0",
    )
    cred = config.credentials_path()
    assert stat.S_IMODE(cred.stat().st_mode) == 0o600
    assert stat.S_IMODE(config.config_path().stat().st_mode) == 0o600
    assert "s3cr3t-token" not in config.config_path().read_text()
    assert yaml.safe_load(cred.read_text()) == {"prod": {"token": "s3cr3t-token"}}
    listed = cli("context", "list").stdout
    assert "prod" in listed and "local" in listed and "s3cr3t" not in listed
    cli("context", "use", "prod")
    shown = cli("context", "show").stdout
    assert "http://10.0.0.5:8080" in shown and "s3cr3t" not in shown and "credentials: prod" in shown
    current = [c for c in json.loads(cli("context", "list", "-o", "json").stdout) if c["current"]]
    assert [c["name"] for c in current] == ["prod"]
    assert config.resolve_context().build_backend().token == "s3cr3t-token"
    cli("context", "rm", "prod")
    assert config.resolve_context().name == "local"
    assert "prod" not in config.load_credentials()


def test_token_from_stdin():
    cli("context", "add", "x", "--url", "http://h:1", "--token-stdin", input="tok-from-stdin\n")
    assert config.load_credentials()["x"]["token"] == "tok-from-stdin"


def test_precedence_flag_over_env_over_current(monkeypatch):
    for name in ("a", "b", "c"):
        cli("context", "add", name, "--url", f"http://{name}:1")
    cli("context", "use", "a")
    assert config.resolve_context().name == "a"
    monkeypatch.setenv("FAASTUI_CONTEXT", "b")
    assert config.resolve_context().name == "b"
    assert config.resolve_context("c").name == "c"
    shown = yaml.safe_load(cli("--context", "c", "context", "show").stdout)
    assert shown["name"] == "c"
    shown = yaml.safe_load(cli("context", "show", env={"FAASTUI_CONTEXT": "b"}).stdout)
    assert shown["name"] == "b"


def test_unknown_context_and_backend_are_usage_errors():
    r = cli("context", "use", "prd", code=2)
    assert r.stderr.startswith("error: unknown context 'prd'")
    cli("context", "add", "prod", "--url", "http://p:1")
    assert "did you mean 'prod'" in cli("--context", "prd", "nodes", code=2).stderr
    assert "unknown backend kind" in cli("context", "add", "k", "--backend", "nosuch", code=2).stderr


def test_bad_config_file_is_one_line():
    path = config.config_path()
    path.parent.mkdir(parents=True)
    path.write_text("contexts: [unclosed")
    r = cli("nodes", code=2)
    assert r.stderr.startswith("error: ") and "not valid YAML" in r.stderr
    with pytest.raises(InvalidRequest):
        config.load_config()


def test_write_is_atomic_and_leaves_no_temp_files():
    cli("context", "add", "one", "--url", "http://one:1")
    cli("context", "add", "one", "--url", "http://one:2")  # replaces, does not duplicate
    cfg = config.load_config()
    assert [c.url for c in cfg.contexts if c.name == "one"] == ["http://one:2"]
    assert sorted(p.name for p in config.config_path().parent.iterdir()) == ["config.yaml"]


def test_faastui_url_overrides(monkeypatch):
    monkeypatch.setenv("FAASTUI_URL", "http://127.0.0.1:9")
    assert config.resolve_context().build_backend().url == "http://127.0.0.1:9"


def test_backend_options_travel_from_the_cli_to_the_backend():
    cli(
        "context",
        "add",
        "nu",
        "--backend",
        "nuclio",
        "--url",
        "http://127.0.0.1:1",
        "-O",
        "project=shop",
        "--option",
        "deploy-timeout=30",
        "-O",
        "namespace=fn-space",
        "-O",
        "invoke_via=domain-name",
    )
    ctx = config.load_config().get("nu")
    assert ctx.options == {
        "project": "shop",
        "deploy_timeout": 30,
        "namespace": "fn-space",
        "invoke_via": "domain-name",
    }
    shown = yaml.safe_load(cli("context", "show", "nu").stdout)
    assert shown["options"]["deploy_timeout"] == 30
    assert "deploy_source" in shown["capabilities"] and "prewarm" not in shown["capabilities"]
    local = yaml.safe_load(cli("context", "show", "local").stdout)["capabilities"]
    assert {"prewarm", "dispatch", "fuse", "node_target"} <= set(local)
    backend = ctx.build_backend()  # the options reach the constructor, typed
    assert (backend.project, backend.namespace, backend.deploy_timeout) == ("shop", "fn-space", 30)
    # a context field can't be smuggled in as an option, and junk is refused in one line
    assert "context field" in cli("context", "add", "x", "-O", "url=http://evil", code=2).stderr
    # but -O kube_context= is --kube-context (as faastui's kube option is written)
    cli(
        "context",
        "add",
        "k",
        "-b",
        "openfaas",
        "--url",
        "http://127.0.0.1:9",
        "-O",
        "kubeconfig=/k",
        "-O",
        "kube_context=prod",
    )
    shown = yaml.safe_load(cli("context", "show", "k").stdout)
    assert shown["kube_context"] == "prod" and shown["options"] == {"kubeconfig": "/k"}
    assert (
        "two contexts"
        in cli("context", "add", "k2", "-b", "openfaas", "--kube-context", "a", "-O", "kube_context=b", code=2).stderr
    )
    assert "bad option" in cli("context", "add", "x", "-O", "novalue", code=2).stderr
    typo = cli("context", "add", "x", "-b", "nuclio", "-O", "projet=a", code=2).stderr
    assert "takes no option 'projet'" in typo and "did you mean 'project'" in typo
    assert "x" not in [c.name for c in config.load_config().contexts]


def test_options_must_be_a_mapping_in_the_file():
    path = config.config_path()
    path.parent.mkdir(parents=True)
    path.write_text("contexts:\n  - {name: k, backend: local, options: [1, 2]}\n")
    with pytest.raises(InvalidRequest, match="'options' must be a mapping"):
        config.load_config()
