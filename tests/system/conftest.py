"""What the system tests share: the ports of the fault test's stack."""

from __future__ import annotations

from tools.stack import StackPorts

# Ports of their own, so the fault test's stack runs beside the development servers;
# the killed-run test checks that none of them is left listening.
FAULT_STACK_PORTS = StackPorts(
    questdb_http=9800,
    questdb_pg=9612,
    mongodb=27817,
    home_assistant=8823,
    companion=8899,
)
