import sys

from vap_ros.cli import main

sys.exit(main())
