import sys

from zeroskel.cli.main import main

sys.exit(main())
