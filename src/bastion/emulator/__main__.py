"""``python -m bastion.emulator``."""

import sys

from bastion.emulator.run import main

sys.exit(main())
