import sys

from expertline.cli import main

sys.exit(main())
