"""Make each user's DIRAC jobs visible to that user only (VO ``esap``).

DIRAC shows every job of a VO to all its users unless the VO's
``Operations/<vo>/Services/JobMonitoring/GlobalJobsInfo`` is false.  Run with
the DiracX environment's Python on the configuration repository; commits only a
change.  Usage: ``python private_jobs.py CONFIG_REPO VO``.
"""

import subprocess
import sys
from pathlib import Path

import yaml

repo, vo = Path(sys.argv[1]), sys.argv[2]
path = repo / "default.yml"
config = yaml.safe_load(path.read_text())
monitoring = (config.setdefault("Operations", {}).setdefault(vo, {}) or {})
config["Operations"][vo] = monitoring
services = monitoring.setdefault("Services", {}).setdefault("JobMonitoring", {})
if services.get("GlobalJobsInfo") is not False:
    services["GlobalJobsInfo"] = False
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    git = ["git", "-C", str(repo), "-c", "user.name=esap-stack",
           "-c", "user.email=esap-stack@localhost"]
    subprocess.run([*git, "commit", "-q", "-am", f"{vo}: users see only their own jobs"],
                   check=True)
