"""Simulator scenarios: a YAML file of ``host``, ``vm`` and ``steps`` with expectations.

The whole file is validated before anything runs, so an invalid scenario fails with
``file:line`` and nothing half-executed. Host and VM specs are mechanistic mappings
(or ``k=v,k=v`` strings); rule-level specs (``kernel=``, ``qemu=``) go through the
optional resolver hooks the CLI passes in.

One module per job: ``values`` (value parsers), ``specs`` (host and VM specs),
``records`` (steps, expectations, results), ``steps`` (the ``STEPS`` table),
``expect`` (the ``EXPECTS`` table), ``context`` (what a step sees), ``backend`` (the
seam register-level steps run through) and ``runner`` (validate, budget, execute).
A new step or expect key is one table entry; ``seoib simulate --help`` is generated
from the tables.
"""

from .backend import SIM_BACKEND, Backend
from .expect import EXPECT_KEYS, EXPECTS, ExpectDef
from .records import Expectation, ScenarioResult, ScenarioStep
from .runner import load_scenario, run_scenario
from .specs import HOST_KEYS, VM_KEYS, HostResolver, VmResolver, parse_host, parse_vm
from .steps import STEP_NAMES, STEPS, StepDef

__all__ = [
    "EXPECTS",
    "EXPECT_KEYS",
    "HOST_KEYS",
    "SIM_BACKEND",
    "STEPS",
    "STEP_NAMES",
    "VM_KEYS",
    "Backend",
    "ExpectDef",
    "Expectation",
    "HostResolver",
    "ScenarioResult",
    "ScenarioStep",
    "StepDef",
    "VmResolver",
    "load_scenario",
    "parse_host",
    "parse_vm",
    "run_scenario",
]
