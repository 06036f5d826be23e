from agent_runner.cli import entry_point

entry_point()
