import sys

from agent_runner.cli import main

sys.exit(main())
