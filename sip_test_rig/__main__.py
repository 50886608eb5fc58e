import sys

from sip_test_rig.cli import main

sys.exit(main())
