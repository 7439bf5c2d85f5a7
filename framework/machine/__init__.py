"""The emulated x86-64 machine (Unicorn) that runs JITed images and counts them."""

from framework.machine.machine import Fault, Machine, MachineRun, Service, ServiceCall
from framework.machine.memory import StubResolver

__all__ = ["Fault", "Machine", "MachineRun", "Service", "ServiceCall", "StubResolver"]
