import sys

from neuromod.cli import main

sys.exit(main())
