"""Control: where a session runs (in this process or a child process) behind one controller API."""

from loadscope.engine.control._process import EngineProcess
from loadscope.engine.control._spec import ScenarioSpec

__all__ = ["EngineProcess", "ScenarioSpec"]
