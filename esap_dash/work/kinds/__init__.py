"""The job kinds esap-dash ships (registered as ``esap_dash.job_kinds`` entry points)."""
