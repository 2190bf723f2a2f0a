"""The workflows esap-dash ships, at the path Dask Gateway deployments preload
(``dask worker --preload esap_dash.flows``); the code is :mod:`esap_dash.work.flows`."""

from .work.flows import *  # noqa: F403 - the public path re-exports the module
from .work.flows import __all__, dask_setup  # noqa: F401 - the preload hook
