"""What cannot run here is checked statically: package.xml, setup.py, launch file, config, models."""
from __future__ import annotations

import ast
import configparser
import importlib
import math
import runpy
import subprocess
import sys
import xml.etree.ElementTree as ET
from glob import glob
from pathlib import Path

import pytest
import setuptools
import yaml

import pose3d_ros
from pose3d_ros.lifting.refinement import load_refiner, refiner_mismatch
from pose3d_ros.networks.cards import load_model
from pose3d_ros.nodes import keypoint_detector, lifter, preview_recorder, video_source

ROOT = Path(__file__).resolve().parents[2]
NODE_PARAMS = {"video_source": video_source.PARAMS, "keypoint_detector": keypoint_detector.PARAMS,
               "lifter": lifter.PARAMS, "preview_recorder": preview_recorder.PARAMS}


@pytest.fixture(scope="module")
def setup_kwargs(monkeypatch_module) -> dict:
    captured = {}
    monkeypatch_module.setattr(setuptools, "setup", lambda **kw: captured.update(kw))
    monkeypatch_module.chdir(ROOT)
    runpy.run_path(str(ROOT / "setup.py"))
    return captured


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


@pytest.fixture(scope="module")
def package_xml() -> ET.Element:
    return ET.parse(ROOT / "package.xml").getroot()


@pytest.fixture(scope="module")
def console_scripts(setup_kwargs) -> dict[str, str]:
    entries = setup_kwargs["entry_points"]["console_scripts"]
    return dict(tuple(part.strip() for part in e.split("=")) for e in entries)


def test_names_and_versions_agree(setup_kwargs, package_xml):
    assert package_xml.get("format") == "3"
    assert package_xml.findtext("name") == setup_kwargs["name"] == "pose3d_ros"
    assert package_xml.findtext("version") == setup_kwargs["version"] == pose3d_ros.__version__
    assert package_xml.find("export/build_type").text == "ament_python"
    assert (ROOT / "resource" / "pose3d_ros").is_file()


def test_entry_points_resolve(console_scripts):
    assert set(NODE_PARAMS) | {"pose3d-pipeline"} <= set(console_scripts)
    for name, target in console_scripts.items():
        module, func = target.split(":")
        assert callable(getattr(importlib.import_module(module), func)), name


def test_ros2_run_finds_executables():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    assert cfg["develop"]["script_dir"] == cfg["install"]["install_scripts"] == "$base/lib/pose3d_ros"


def test_data_files_install_launch_config_models(setup_kwargs):
    installed = {dest: set(files) for dest, files in setup_kwargs["data_files"]}
    expected = {
        "share/pose3d_ros/launch": glob("launch/*.launch.py", root_dir=ROOT),
        "share/pose3d_ros/config": [f for ext in ("yaml", "rviz", "xml")
                                    for f in glob(f"config/*.{ext}", root_dir=ROOT)],
        "share/pose3d_ros/models": glob("models/*.json", root_dir=ROOT) + glob("models/*.safetensors", root_dir=ROOT),
    }
    for dest, files in expected.items():
        assert files and installed[dest] == set(files), dest
    assert {"config/pose3d.rviz", "config/fastdds_shm.xml"} <= installed["share/pose3d_ros/config"]
    assert "package.xml" in installed["share/pose3d_ros"]


def test_fastdds_profile_carries_a_720p_image_in_shared_memory():
    ns = {"dds": "http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles"}
    profiles = ET.parse(ROOT / "config" / "fastdds_shm.xml").getroot()
    transports = {t.findtext("dds:transport_id", namespaces=ns): t
                  for t in profiles.iterfind("dds:transport_descriptors/dds:transport_descriptor", ns)}
    (participant,) = profiles.iterfind("dds:participant", ns)
    assert participant.get("is_default_profile") == "true"
    used = [t.text for t in participant.iterfind("dds:rtps/dds:userTransports/dds:transport_id", ns)]
    assert participant.findtext("dds:rtps/dds:useBuiltinTransports", namespaces=ns) == "false"
    kinds = {transports[name].findtext("dds:type", namespaces=ns): transports[name] for name in used}
    assert set(kinds) == {"SHM", "UDPv4"}  # shared memory on the machine, UDP to other machines
    assert int(kinds["SHM"].findtext("dds:segment_size", namespaces=ns)) >= 3 * 1280 * 720 * 3


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_package_xml_declares_ros_dependencies(package_xml):
    declared = {e.text for e in package_xml.findall("exec_depend")}
    used = set()
    for path in ROOT.glob("pose3d_ros/**/*.py"):
        used |= {m for m in _imported_modules(path) if m.endswith("_msgs") or m in ("rclpy", "tf2_ros", "cv_bridge")}
    assert used <= declared, f"imported but not in package.xml: {used - declared}"


def test_core_and_training_never_import_rclpy():
    core = [p for p in ROOT.glob("pose3d_ros/**/*.py")
            if "nodes" not in p.parts and p.name != "pipeline.py"] + list(ROOT.glob("training/**/*.py"))
    assert core
    for path in core:
        ros = {m for m in _imported_modules(path) if m == "rclpy" or m.endswith("_msgs")}
        assert not ros, f"{path.relative_to(ROOT)} imports {ros}"


def test_pipeline_yaml_matches_declared_defaults():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "params_yaml.py"), "--check"])
    assert result.returncode == 0, "config/pipeline.yaml is stale: run scripts/params_yaml.py"
    config = yaml.safe_load((ROOT / "config" / "pipeline.yaml").read_text())
    assert set(config) == {f"/**/{node}" for node in NODE_PARAMS}  # any namespace
    for node, params in NODE_PARAMS.items():
        values = config[f"/**/{node}"]["ros__parameters"]
        assert list(values) == [p.name for p in params], node
        for p in params:
            # Same value and same type: ROS parameters are typed (1 is not 1.0).
            assert type(values[p.name]) is type(p.default) and values[p.name] == p.default, f"{node}.{p.name}"
            assert p.description and p.problem(values[p.name], values) is None, f"{node}.{p.name}"
            # A ranged parameter refuses NaN and the values just outside its range.
            if p.range is not None:
                assert all(p.problem(v, values) for v in (math.nan, p.range[0] - 1, p.range[1] + 1)), p.name


def _launch_calls(name: str) -> list[ast.Call]:
    tree = ast.parse((ROOT / "launch" / "pipeline.launch.py").read_text())
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == name]


def _kw(call: ast.Call, name: str):
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    return None


def test_launch_file_names_only_existing_things(console_scripts):
    config = yaml.safe_load((ROOT / "config" / "pipeline.yaml").read_text())
    nodes = _launch_calls("Node")
    assert {ast.literal_eval(_kw(n, "name")) for n in nodes} == set(NODE_PARAMS)
    for node in nodes:
        assert ast.literal_eval(_kw(node, "package")) == "pose3d_ros"
        executable, name = ast.literal_eval(_kw(node, "executable")), ast.literal_eval(_kw(node, "name"))
        assert executable in console_scripts and f"/**/{name}" in config
        assert ast.unparse(_kw(node, "namespace")) == "namespace"  # the launch argument: one pipeline per camera
        declared = {p.name for p in NODE_PARAMS[name]}
        for item in _kw(node, "parameters").elts:
            if isinstance(item, ast.Dict):
                keys = {ast.literal_eval(k) for k in item.keys}
                assert keys <= declared, f"{name}: launch sets undeclared {keys - declared}"
    arguments = {ast.literal_eval(c.args[0]) for c in _launch_calls("DeclareLaunchArgument")}
    defaults = {ast.literal_eval(c.args[0]): ast.literal_eval(_kw(c, "default_value"))
                for c in _launch_calls("DeclareLaunchArgument") if isinstance(_kw(c, "default_value"), ast.Constant)}
    video_defaults = {p.name: p.default for p in NODE_PARAMS["video_source"]}
    assert defaults["frame_id"] == video_defaults["frame_id"]  # the launch default is the node's own
    used = {ast.literal_eval(c.args[0]) for c in _launch_calls("LaunchConfiguration")}
    assert used <= arguments
    # The default parameters file the launch file points at exists in config/.
    joins = _launch_calls("PathJoinSubstitution")
    assert any([ast.literal_eval(e) for e in j.args[0].elts[1:]] == ["config", "pipeline.yaml"] for j in joins)


def test_default_lifter_is_a_trained_model():
    card = ROOT / "models" / dict((p.name, p.default) for p in lifter.PARAMS)["model"]
    loaded = load_model(card)
    assert loaded.causal and loaded.card.input_normalization == "intrinsics"
    metrics = loaded.card.metrics["h36m_s9_s11"]
    assert metrics["p1_mm"] < 80.0, "the shipped lifter is not trained to a useful accuracy"
    assert (card.with_suffix(".safetensors")).stat().st_size <= 20 * 2 ** 20


def test_shipped_refiners_fit_their_lifters():
    defaults = dict((p.name, p.default) for p in lifter.PARAMS)
    refiners = sorted((ROOT / "models").glob("refiner_*.json"))
    assert not defaults["refiner_model"] or ROOT / "models" / defaults["refiner_model"] in refiners
    for path in refiners:
        refiner = load_refiner(path)
        lifter_card = ROOT / "models" / refiner.card.lifter
        assert refiner_mismatch(refiner.card, load_model(lifter_card)) is None, path.name
        if path.name == defaults["refiner_model"]:
            assert lifter_card.name == defaults["model"], "the default refiner was trained on another lifter"


def test_rviz_config_shows_what_the_nodes_publish():
    rviz = yaml.safe_load((ROOT / "config" / "pose3d.rviz").read_text())
    text = yaml.safe_dump(rviz)
    for topic in ("/skeleton_markers", "/image_raw"):
        assert topic in text
    assert rviz["Visualization Manager"]["Global Options"]["Fixed Frame"] == "camera_optical_frame"
