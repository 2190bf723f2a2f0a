"""A Slurm cluster's queue, read with its own ``squeue`` command.

The dashboard server must then be a submit host of the cluster (its
``slurm.conf`` and munge key): that is how a Slurm-backed Dask Gateway's
clusters are shown as the batch jobs they are.
"""

from __future__ import annotations

import shutil
import subprocess

from astropy.table import Table

from .exceptions import FormatError, ServiceError, ServiceUnavailableError

__all__ = ["SLURM_STATES", "SlurmQueue"]

#: Slurm's job state codes as ``squeue`` prints them in long form.
SLURM_STATES = ("PENDING", "RUNNING", "COMPLETING", "COMPLETED", "CANCELLED", "FAILED",
                "TIMEOUT", "NODE_FAIL", "PREEMPTED", "SUSPENDED", "OUT_OF_MEMORY")
_FIELDS = ("job_id", "user", "name", "state", "elapsed", "cpus", "partition", "workdir",
           "reason")


class SlurmQueue:
    """The jobs in a Slurm cluster's queue.

    Parameters
    ----------
    squeue : str
        The ``squeue`` command (found on the PATH by default).
    timeout : float
        Seconds to wait for it (a hung slurmctld makes it wait).
    """

    def __init__(self, squeue: str | None = None, *, timeout: float = 10.0) -> None:
        self.squeue = squeue or shutil.which("squeue") or "squeue"
        self.timeout = timeout

    def jobs(self, user: str | None = None, name: str | None = None) -> Table:
        """The queue's jobs (those of ``user`` and named ``name`` when given).

        Returns
        -------
        astropy.table.Table
            ``job_id``, ``user``, ``name``, ``state``, ``elapsed``, ``cpus``,
            ``partition``, ``workdir`` (a Dask Gateway job's is its cluster's staging
            directory, named after the cluster), ``reason`` (why pending, or the node
            it runs on).

        Raises
        ------
        ServiceUnavailableError
            No ``squeue`` here, no answer in time, or no controller.
        ServiceError
            ``squeue`` refused the request (its message).
        """
        cmd = [self.squeue, "--noheader", "--format=%i|%u|%j|%T|%M|%C|%P|%Z|%R"]
        if user:
            cmd.append(f"--user={user}")
        if name:
            cmd.append(f"--name={name}")
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=self.timeout,
                                  check=False)
        except FileNotFoundError as exc:
            raise ServiceUnavailableError("no squeue command on this server",
                                          self.squeue) from exc
        except subprocess.TimeoutExpired as exc:
            raise ServiceUnavailableError(f"squeue did not answer in {self.timeout:g} s",
                                          self.squeue) from exc
        if proc.returncode != 0:
            said = " ".join(proc.stderr.split())[:300] or f"exit status {proc.returncode}"
            if "slurm_load_jobs" in said or "Unable to contact" in said:
                raise ServiceUnavailableError(f"the Slurm controller does not answer: {said}",
                                              self.squeue)
            raise ServiceError(said, self.squeue)
        rows = []
        for line in proc.stdout.splitlines():
            parts = line.split("|", len(_FIELDS) - 1)
            if len(parts) != len(_FIELDS):
                raise FormatError(f"unexpected squeue line {line!r}", self.squeue)
            rows.append(parts)
        return Table(rows=rows or None, names=_FIELDS, dtype=[str] * len(_FIELDS))
