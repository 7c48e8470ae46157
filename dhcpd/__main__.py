import sys

from dhcpd.cli import main

sys.exit(main())
