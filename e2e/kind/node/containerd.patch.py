"""Adapts kind's base files to the node built here (node-image.sh); args: the files directory.

- containerd is Debian's (/usr/bin, 1.6: kind's config is its v2 format);
- root lacks CAP_SYS_RESOURCE, also inside a node: containerd does not ask for OOM score
  adjustments, its runc is weir-kind-runc (which drops the capability), and systemd sets
  no OOMScoreAdjust or raised limits for it;
- the sandbox image is the pause version kubeadm asks for (argument 2).
"""
import pathlib
import sys

files = pathlib.Path(sys.argv[1])
pause = sys.argv[2]
unit = files / "etc/systemd/system/containerd.service"
lines = unit.read_text().replace("ExecStart=/usr/local/bin/containerd", "ExecStart=/usr/bin/containerd").split("\n")
unit.write_text("\n".join(l for l in lines if not l.startswith(("OOMScoreAdjust", "LimitNOFILE", "LimitNPROC", "LimitCORE"))))
config = files / "etc/containerd/config.toml"
text = config.read_text()
replacements = [
    ('sandbox_image = "registry.k8s.io/pause:3.10"', f'sandbox_image = "{pause}"'),
    ("restrict_oom_score_adj = false", "restrict_oom_score_adj = true"),
    ("    SystemdCgroup = true\n", '    SystemdCgroup = true\n    BinaryName = "/usr/local/bin/weir-kind-runc"\n'),
    ('  base_runtime_spec = "/etc/containerd/cri-base.json"\n', ""),
]
for old, new in replacements:
    if old not in text:
        sys.exit(f"kind's containerd config changed: no {old!r} in {config}")
    text = text.replace(old, new)
config.write_text(text)
